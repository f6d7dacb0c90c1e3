"""A generative stochastic network: a denoising autoencoder whose Markov chain samples the data.

Bengio, Yao, Alain and Vincent, 2013, "Generalized Denoising Auto-Encoders as Generative
Models"; Bengio, Thibodeau-Laufer, Alain and Yosinski, 2014, "Deep Generative Stochastic
Networks Trainable by Backprop". A corruption C(x~|x) (salt-and-pepper or Gaussian noise) and a
learned reconstruction distribution P(x|x~) (here independent Bernoullis, the logits of an MLP)
define a Markov chain

    x_t  --corrupt-->  x~_t ~ C(x~|x_t)  --reconstruct-->  x_{t+1} ~ P(x|x~_t),

and if P(x|x~) is a consistent estimator of the true P(x|x~), the chain's stationary
distribution estimates the data distribution (2013, Theorem 1). Training maximizes
log P(x|x~) with walkback (2013, Section 3.2): from a training image x_0 = x, the chain runs
``walkback`` steps, and every reconstruction is scored against the *original* x,

    loss = (1 / k) sum_{t=0}^{k-1} BCE(P(.|x~_t), x),    x~_t ~ C(.|x_t),
    x_{t+1} ~ P(.|x~_t)  (a sample: no gradient passes through it),

so the model also learns to pull back the spurious states its own chain wanders into. The
loss is in nats per image, averaged over the batch; MNIST's grey values are soft Bernoulli
targets, as for the VAE.

The GSN has no tractable likelihood: ``evaluate`` reports the held-out walkback loss, and the
sample-quality metrics (Frechet distance, the judge classifier) come from the trainer, as for
every model.

    P(x|x~):  x~ -> Flatten -> Linear(D, h) -> act -> Linear(h, h) -> act -> Linear(h, D)

The papers' hidden units are tanh (``activation="tanh"``); ReLU is the default here because
it leaves the mean-image plateau much sooner: on the bundled 8,000 MNIST images (Adam 1e-3,
batch 64, no walkback), 2 epochs reach a denoising loss of about 139 nats with ReLU against
177 with tanh (the mean image scores 215).
"""
import numbers

import numpy as np

from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..nn import functional as F
from .base import GenerativeModel, check_positive_int

__all__ = ["GSN"]

NOISES = ("salt-and-pepper", "gaussian")
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def _sigmoid(logits):
    """1 / (1 + e^-x) without overflow, in the logits' dtype."""
    return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(logits.dtype)


class GSN(GenerativeModel):
    """A walkback-trained denoising autoencoder sampled by its corrupt-reconstruct chain.

    Parameters
    ----------
    image_shape : tuple of int
        (C, H, W) (or (D,)) of the data, in [0, 1].
    n_classes : int or None
        Ignored (the GSN is unconditional); accepted so every model takes it.
    hidden : int
        Width of the two hidden layers (500 for MNIST).
    noise : {"salt-and-pepper", "gaussian"}
        The corruption C(x~|x): salt-and-pepper replaces each pixel, with probability
        ``noise_level``, by 0 or 1 (a fair coin); Gaussian adds N(0, noise_level^2).
    noise_level : float
        The probability of salt-and-pepper noise (in (0, 1]) or the Gaussian's std (> 0).
        The default 0.3 turns about 15% of the pixels white, about as many as a digit's ink,
        so the digit stays visible while the chain still moves between digits.
    activation : {"relu", "tanh"}
        The hidden units (the papers' are tanh; see the module docstring).
    walkback : int
        k, the chain steps per training image (1 is a plain denoising autoencoder).
    burn_in : int
        Chain steps ``sample`` runs from uniform noise before it returns.
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the weights' initialization.
    """

    kind = "gsn"
    loss_names = ("loss",)

    def __init__(self, image_shape=(1, 28, 28), n_classes=None, hidden=500,
                 noise="salt-and-pepper", noise_level=0.3, activation="relu", walkback=3,
                 burn_in=100, lr=1e-3, seed=0):
        super().__init__(image_shape, n_classes)
        name = type(self).__name__
        hidden = check_positive_int(hidden, "hidden", name)
        if noise not in NOISES:
            raise ValueError(f"{name}: noise must be one of {', '.join(NOISES)}, got {noise!r}")
        level = noise_level
        top = 1.0 if noise == "salt-and-pepper" else np.inf
        if isinstance(level, bool) or not isinstance(level, numbers.Real) \
                or not 0.0 < level <= top:
            raise ValueError(f"{name}: noise_level for {noise} noise must be in "
                             f"{'(0, 1]' if top == 1.0 else '(0, inf)'}, got {noise_level!r}")
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
            raise ValueError(f"{name}: lr must be a positive float, got {lr!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"{name}: activation must be one of {', '.join(ACTIVATIONS)}, got "
                             f"{activation!r}")
        self.noise, self.noise_level = noise, float(level)
        self.walkback = check_positive_int(walkback, "walkback", name)
        self.burn_in = check_positive_int(burn_in, "burn_in", name)
        self.hyperparameters = {
            "hidden": hidden, "noise": noise, "noise_level": self.noise_level,
            "activation": activation, "walkback": self.walkback, "burn_in": self.burn_in,
            "lr": float(lr), "seed": int(seed),
        }
        rng = np.random.default_rng(seed)
        dim = int(np.prod(self.image_shape))
        self.net = nn.Sequential(
            nn.Flatten(),                                                        # (N, D)
            nn.Linear(dim, hidden, rng=rng), ACTIVATIONS[activation](),
            nn.Linear(hidden, hidden, rng=rng), ACTIVATIONS[activation](),
            nn.Linear(hidden, dim, rng=rng),
            nn.Unflatten(1, self.image_shape),                                   # (N, C, H, W)
        )

    def configure_optimizers(self):
        return {"model": optim.Adam(self.parameters(), lr=self.hyperparameters["lr"])}

    def corrupt(self, x, rng):
        """A draw of C(x~|x) from ``rng``: a float32 array shaped like ``x``."""
        if self.noise == "salt-and-pepper":
            hit = rng.random(x.shape) < self.noise_level
            coin = (rng.random(x.shape) < 0.5).astype(np.float32)
            return np.where(hit, coin, x).astype(np.float32)
        return (x + self.noise_level * rng.standard_normal(x.shape)).astype(np.float32)

    def reconstruction_logits(self, x_tilde):
        """P(x|x~) as Bernoulli logits, a Tensor (N, C, H, W)."""
        return self.net(x_tilde if isinstance(x_tilde, Tensor) else Tensor(x_tilde))

    def walkback_losses(self, x, rng):
        """The walkback chain from images ``x`` (N, C, H, W): a list of ``walkback`` Tensors
        (N,), the BCE in nats of each step's reconstruction against the original ``x``."""
        x = np.asarray(x, dtype=np.float32)
        axes = tuple(range(1, x.ndim))
        state, losses = x, []
        for t in range(self.walkback):
            logits = self.reconstruction_logits(self.corrupt(state, rng))
            losses.append(F.binary_cross_entropy_with_logits(logits, x, reduction="none")
                          .sum(axis=axes))
            if t + 1 < self.walkback:
                # The chain's next state: a Bernoulli draw, outside the graph.
                state = (rng.random(x.shape) < _sigmoid(logits.data)).astype(np.float32)
        return losses

    def training_step(self, x, y, optimizers, rng, step):
        """One Adam step on the walkback loss, averaged over the steps and the batch."""
        opt = optimizers["model"]
        opt.zero_grad()
        losses = self.walkback_losses(x, rng)
        loss = sum(losses[1:], losses[0]).mean() / len(losses)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    def chain(self, n_steps, rng, start=None, n=None, means=True):
        """Run the chain corrupt -> reconstruct -> sample and return its consecutive states.

        Parameters
        ----------
        n_steps : int
            Chain steps to run (and return).
        rng : numpy.random.Generator
            Source of the start, the corruption and the Bernoulli draws.
        start : numpy.ndarray, shape (n, C, H, W), optional
            The initial states x_0 (images in [0, 1]); uniform noise when omitted.
        n : int, optional
            Number of chains when ``start`` is omitted (required then).
        means : bool
            Return each step's reconstruction mean P(x = 1|x~_t) (clean grey pictures); with
            False, the binary states x_{t+1} the chain moves through.

        Returns
        -------
        numpy.ndarray of float32, shape (n_steps, n, C, H, W)
            Step t holds the states (or means) after t + 1 transitions, in [0, 1].
        """
        return np.stack(list(self._run_chain(n_steps, rng, start, n, means, "chain")))

    def _run_chain(self, n_steps, rng, start, n, means, method):
        name = f"{type(self).__name__}.{method}"
        n_steps = check_positive_int(n_steps, "n_steps", name)
        if start is None:
            n = check_positive_int(n, "n", name)
            state = rng.random((n,) + self.image_shape).astype(np.float32)
        else:
            state = np.asarray(start, dtype=np.float32)
            if state.ndim != 1 + len(self.image_shape) or state.shape[1:] != self.image_shape \
                    or len(state) == 0:
                raise ValueError(f"{name}: start must have shape (n, "
                                 f"{', '.join(map(str, self.image_shape))}), got {state.shape}")
            if n is not None and n != len(state):
                raise ValueError(f"{name}: n={n!r} but start holds {len(state)} states")
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(n_steps):
                    p = _sigmoid(self.reconstruction_logits(self.corrupt(state, rng)).data)
                    state = (rng.random(p.shape) < p).astype(np.float32)
                    yield p if means else state
        finally:
            self.train(was_training)

    def sample(self, n, rng, labels=None):
        """The reconstruction means after ``burn_in`` chain steps from uniform noise.

        The means P(x = 1|x~) rather than the binary states make cleaner pictures (as the
        GSN papers show them). Returns float32 (n, C, H, W) in [0, 1].
        """
        self._check_sample_request(n, labels)
        last = None
        for last in self._run_chain(self.burn_in, rng, None, n, True, "sample"):
            pass            # only the last step is kept: n images, not burn_in x n
        return last

    def pictures(self, x, y, rng, chains=10, steps=20):
        """The end-of-run picture ``chain``: each row one chain from uniform noise, its
        reconstruction means at ``steps`` consecutive steps. ``{stem: (images, nrow)}``."""
        states = self.chain(steps, rng, n=chains)                    # (steps, chains, C, H, W)
        return {"chain": (states.swapaxes(0, 1).reshape((-1,) + self.image_shape), steps)}

    def evaluate(self, x, y, rng, batch_size=500):
        """Held-out denoising losses in nats per image (the GSN has no tractable likelihood).

        Returns
        -------
        dict
            ``test_walkback_loss``: the training objective on ``x``;
            ``test_denoising_loss``: its first step alone, -log P(x|x~) with x~ ~ C(x~|x).
        """
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1 + len(self.image_shape) or x.shape[1:] != self.image_shape or not len(x):
            raise ValueError(f"{type(self).__name__}.evaluate: expected images of shape (N, "
                             f"{', '.join(map(str, self.image_shape))}), got {x.shape}")
        totals = np.zeros(2)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for start in range(0, len(x), batch_size):
                    losses = [loss.data.astype(np.float64)
                              for loss in self.walkback_losses(x[start:start + batch_size], rng)]
                    totals += (sum(losses).sum() / len(losses), losses[0].sum())
        finally:
            self.train(was_training)
        walkback, first = totals / len(x)
        return {"test_walkback_loss": float(walkback), "test_denoising_loss": float(first)}
