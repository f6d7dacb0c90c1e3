"""The MLP VAE (784-400-20, Bernoulli decoder) on MNIST, scratchgen and a PyTorch twin side by
side: held-out -ELBO and IWAE estimate of -log p(x), in nats per image.

    OMP_NUM_THREADS=2 python benchmarks/bench_models_vae.py [--data mnist] [--epochs 2]
        [--batch-size 128] [--lr 1e-3] [--k 100] [--seed 0] [--no-torch]

The twin starts from scratchgen's initial weights, sees the same batches in the same order
(``default_rng([seed, epoch])`` as the trainer) and the same eps draws, and is evaluated on
the same draws, so the two columns differ only by float arithmetic. Without the bundled
split's full 60,000 training images (MNIST's bundled 8,000 / 2,000 split is the default),
expect a few nats above PyTorch's example (about 105-110 nats after a few epochs).
"""
import argparse
import math
import time

import numpy as np
from scipy.special import logsumexp

from scratchgen.data import load_train_test
from scratchgen.models.vae import VAE


def train_scratchgen(x, y, epochs, batch_size, lr, seed):
    """Train ``VAE`` as the trainer does; returns the model and the seconds taken."""
    model = VAE(image_shape=x.shape[1:], lr=lr, seed=seed)
    optimizers = model.configure_optimizers()
    start, step = time.perf_counter(), 0
    for epoch in range(epochs):
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(x))
        for b in range(len(x) // batch_size):
            rows = order[b * batch_size:(b + 1) * batch_size]
            model.training_step(x[rows], y[rows], optimizers, rng, step)
            step += 1
    return model, time.perf_counter() - start


def torch_vae_twin(x, y, x_test, epochs, batch_size, lr, seed, k, init_state):
    """PyTorch's twin of the MLP VAE: the same architecture, initial weights (``init_state``,
    scratchgen's state dict), batches, eps draws and evaluation; returns (-ELBO, -IWAE, s)."""
    import torch
    from torch import nn

    torch.set_num_threads(max(1, torch.get_num_threads()))
    dim, latent = int(np.prod(x.shape[1:])), 20
    encoder = nn.Sequential(nn.Linear(dim, 400), nn.ReLU(), nn.Linear(400, 2 * latent))
    decoder = nn.Sequential(nn.Linear(latent, 400), nn.ReLU(), nn.Linear(400, dim))
    with torch.no_grad():
        for net, prefix, pairs in ((encoder, "encoder", (("0", "hidden.0"), ("2", "out"))),
                                   (decoder, "decoder", (("0", "net.0"), ("2", "net.2")))):
            for mine, theirs in pairs:
                for p in ("weight", "bias"):
                    getattr(net[int(mine)], p).copy_(
                        torch.from_numpy(init_state[f"{prefix}.{theirs}.{p}"].copy()))
    opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=lr)
    bce = nn.functional.binary_cross_entropy_with_logits

    def terms(xb, eps):
        h = encoder(xb)
        mu, logvar = h[:, :latent], h[:, latent:]
        z = mu + torch.exp(0.5 * logvar) * eps
        rec = bce(decoder(z), xb, reduction="none").sum(1)
        kl = 0.5 * (logvar.exp() + mu * mu - 1.0 - logvar).sum(1)
        return rec, kl, mu, logvar, z

    flat = torch.from_numpy(x.reshape(len(x), -1))
    start = time.perf_counter()
    for epoch in range(epochs):
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(x))
        for b in range(len(x) // batch_size):
            rows = order[b * batch_size:(b + 1) * batch_size]
            eps = torch.from_numpy(rng.standard_normal((len(rows), latent)).astype(np.float32))
            rec, kl, *_ = terms(flat[rows], eps)
            opt.zero_grad()
            (rec.mean() + kl.mean()).backward()
            opt.step()
    seconds = time.perf_counter() - start

    # The same estimator and draws as VAE.evaluate (rows_per_batch=4096).
    rng = np.random.default_rng([seed, 2**31])
    flat_test = torch.from_numpy(x_test.reshape(len(x_test), -1))
    per_batch, neg_elbo, nll = max(1, 4096 // k), 0.0, 0.0
    with torch.no_grad():
        for s in range(0, len(flat_test), per_batch):
            xb = flat_test[s:s + per_batch]
            h = encoder(xb)
            mu, logvar = h[:, :latent].numpy(), h[:, latent:].numpy()
            eps = rng.standard_normal((k, len(xb), latent)).astype(np.float32)
            z = mu + np.exp(0.5 * logvar) * eps
            logits = decoder(torch.from_numpy(z.reshape(-1, latent)))
            log_px = -bce(logits, xb.repeat(k, 1), reduction="none").sum(1).double().numpy()
            log_px = log_px.reshape(k, len(xb))
            log_pz = -0.5 * (np.square(z, dtype=np.float64) + math.log(2 * math.pi)).sum(2)
            log_qz = -0.5 * (np.square(eps, dtype=np.float64) + logvar
                             + math.log(2 * math.pi)).sum(2)
            kl = 0.5 * (np.exp(logvar) + mu * mu - 1.0 - logvar).astype(np.float64).sum(1)
            neg_elbo += (-log_px.mean(0) + kl).sum()
            nll -= (logsumexp(log_px + log_pz - log_qz, axis=0) - math.log(k)).sum()
    return neg_elbo / len(x_test), nll / len(x_test), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    (x, y), (x_test, y_test) = load_train_test(args.data)

    init_state = {name: value.copy() for name, value in
                  VAE(image_shape=x.shape[1:], seed=args.seed).state_dict().items()}
    model, seconds = train_scratchgen(x, y, args.epochs, args.batch_size, args.lr, args.seed)
    start = time.perf_counter()
    scores = model.evaluate(x_test, y_test, np.random.default_rng([args.seed, 2**31]), k=args.k)
    eval_seconds = time.perf_counter() - start
    print(f"{args.data}: {len(x)} train / {len(x_test)} test images, {args.epochs} epochs, "
          f"batch {args.batch_size}, lr {args.lr}, IWAE k={args.k}")
    print(f"{'':12s} {'test -ELBO':>11s} {'test -log p(x) IWAE':>20s} {'train s':>8s}")
    print(f"{'scratchgen':12s} {scores['test_neg_elbo']:11.2f} {scores['test_nll_iwae']:20.2f} "
          f"{seconds:8.1f}   (evaluate: {eval_seconds:.1f} s)")
    if not args.no_torch:
        neg_elbo, nll, torch_seconds = torch_vae_twin(
            x, y, x_test, args.epochs, args.batch_size, args.lr, args.seed, args.k, init_state)
        print(f"{'PyTorch twin':12s} {neg_elbo:11.2f} {nll:20.2f} {torch_seconds:8.1f}")
        print(f"{'difference':12s} {scores['test_neg_elbo'] - neg_elbo:11.2f} "
              f"{scores['test_nll_iwae'] - nll:20.2f}")


if __name__ == "__main__":
    main()
