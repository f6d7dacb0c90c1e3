"""``scratchgen train``, ``sample`` and ``export`` on the command line: the files they write,
and one clear message with a non-zero exit for each kind of bad input."""
import json

import numpy as np
import pytest

from scratchgen.cli import main
from scratchgen.train import load_checkpoint

pytest.importorskip("sklearn")           # the 8x8 digits


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One quick DCGAN run on the 8x8 digits: 2 epochs of 5 steps, judged at the end."""
    pytest.importorskip("PIL")
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "dcgan", "--dataset", "digits", "--epochs", "2", "--batch-size",
                 "256", "--latent-dim", "16", "--out", str(out), "--no-progress"]) == 0
    return out


def test_train_writes_csv_grids_checkpoints_and_metrics(run, capsys):
    header = (run / "losses.csv").read_text().splitlines()[0]
    assert header == "epoch,step,D loss,G loss"
    assert len((run / "losses.csv").read_text().splitlines()) == 1 + 10
    for name in ("samples_epoch_001.png", "samples_epoch_002.png"):
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "dcgan" and metrics["epochs"] == 2
    assert metrics["seconds_per_step"] > 0 and metrics["hyperparameters"]["latent_dim"] == 16
    quality = metrics["quality"]
    assert quality["judge_test_accuracy"] > 0.8
    assert quality["frechet_distance"] > quality["real_frechet_distance"] >= 0
    assert sum(quality["class_histogram"]) == quality["n_samples"]
    assert load_checkpoint(run / "checkpoint_epoch_002.sgz")["epoch"] == 2


def test_sample_writes_a_grid_or_the_raw_samples(run, tmp_path):
    assert main(["sample", "--checkpoint", str(run / "last.sgz"), "--n", "10",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["sample", "--checkpoint", str(run / "last.sgz"), "--n", "7",
                 "--out", str(tmp_path / "x.npy")]) == 0
    x = np.load(tmp_path / "x.npy", allow_pickle=False)
    assert x.shape == (7, 1, 8, 8) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_resume_continues_where_the_run_stopped(run, tmp_path, capsys):
    out = tmp_path / "more"
    assert main(["train", "dcgan", "--dataset", "digits", "--epochs", "3", "--out", str(out),
                 "--resume", str(run / "checkpoint_epoch_002.sgz"), "--no-quality",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "resuming dcgan" in printed and "epoch 3/3" in printed and "epoch 2/3" not in printed
    assert load_checkpoint(out / "last.sgz")["step"] == 15
    # The new folder's losses.csv starts with the original run's rows.
    steps = [int(line.split(",")[1]) for line in (out / "losses.csv").read_text().splitlines()[1:]]
    assert steps == list(range(15))


def _fails(argv, capsys, *fragments):
    assert main(argv) == 1
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err, err
    assert "Traceback" not in err
    return err


def test_bad_sampling_requests_fail_with_one_message(run, tmp_path, capsys):
    ckpt = str(run / "last.sgz")
    _fails(["sample", "--checkpoint", ckpt, "--n", "0", "--out", str(tmp_path / "g.png")],
           capsys, "scratchgen sample: error: --n must be at least 1, got 0")
    _fails(["sample", "--checkpoint", ckpt, "--label", "3", "--out", str(tmp_path / "g.png")],
           capsys, "--label needs a conditional model")
    _fails(["sample", "--checkpoint", ckpt, "--out", str(tmp_path / "g.jpg")],
           capsys, "--out must end in .png")
    data = (run / "last.sgz").read_bytes()
    (tmp_path / "cut.sgz").write_bytes(data[:1000])
    _fails(["sample", "--checkpoint", str(tmp_path / "cut.sgz"), "--out",
            str(tmp_path / "g.png")], capsys, "is not a readable checkpoint")
    assert not (tmp_path / "g.png").exists()


def test_bad_training_requests_fail_with_one_message(run, tmp_path, capsys):
    _fails(["train", "dcgan", "--dataset", "mnist", "--data", str(tmp_path / "nowhere"),
            "--out", str(tmp_path / "o")], capsys, "no train images in", "does not exist")
    folder = tmp_path / "corrupt"
    folder.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (folder / stem).write_bytes(b"\x00\x00\x08\x03garbage")
    err = _fails(["train", "dcgan", "--dataset", "mnist", "--data", str(folder), "--out",
                  str(tmp_path / "o")], capsys, "scratchgen train: error:")
    assert "train-images-idx3-ubyte" in err
    _fails(["train", "wgan-gp", "--dataset", "digits", "--resume", str(run / "last.sgz"),
            "--out", str(tmp_path / "o")], capsys, "holds a 'dcgan' model, not 'wgan-gp'")
    _fails(["train", "stylegan", "--out", str(tmp_path / "o")], capsys,
           "unknown model 'stylegan'; choose one of dcgan, wgan-gp, cgan, vae, conv-vae")
    _fails(["train", "gsn", "--dataset", "digits", "--latent-dim", "4", "--out",
            str(tmp_path / "o")], capsys, "gsn has no --latent-dim")
    _fails(["train", "dcgan", "--dataset", "digits", "--batch-size", "0", "--out",
            str(tmp_path / "o")], capsys, "batch_size must be in [1, 1438]")
    _fails(["train", "dcgan", "--dataset", "digits", "--out", str(run)], capsys,
           "already holds a run (last.sgz)")
    _fails(["train", "dcgan", "--dataset", "digits", "--lr", "0.1", "--resume",
            str(run / "last.sgz"), "--out", str(tmp_path / "o")], capsys,
           "--lr 0.1 differs from the checkpoint's 0.0002")
    _fails(["train", "dcgan", "--dataset", "mnist", "--resume", str(run / "last.sgz"),
            "--out", str(tmp_path / "o")], capsys, "the checkpoint was trained on digits")


def test_a_nan_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path, capsys):
    out = tmp_path / "nan"
    _fails(["train", "dcgan", "--dataset", "digits", "--epochs", "2",
            "--batch-size", "256", "--lr", "1e30", "--out", str(out), "--no-quality",
            "--no-progress"], capsys, "became nan at step", "Try a lower --lr")


def test_export_loads_into_the_same_pytorch_architecture(run, tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    out = tmp_path / "generator.safetensors"
    assert main(["export", "--checkpoint", str(run / "last.sgz"), "--out", str(out)]) == 0
    tnn = torch.nn
    k, latent = 64, 16
    twin = tnn.Module()
    twin.net = tnn.Sequential(
        tnn.Linear(latent, 2 * k * 2 * 2), tnn.BatchNorm1d(2 * k * 2 * 2), tnn.ReLU(),
        tnn.Unflatten(1, (2 * k, 2, 2)),
        tnn.ConvTranspose2d(2 * k, k, 4, 2, 1), tnn.BatchNorm2d(k), tnn.ReLU(),
        tnn.ConvTranspose2d(k, 1, 4, 2, 1), tnn.Tanh())
    twin.load_state_dict(safetensors_torch.load_file(str(out)))
    twin.eval()
    from scratchgen.train import model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(run / "last.sgz"))
    z = np.random.default_rng(0).standard_normal((5, latent)).astype(np.float32)
    model.generator.eval()
    import scratchgen as sg

    with sg.no_grad():
        ours = model.generator(sg.tensor(z)).data
    with torch.no_grad():
        theirs = twin.net(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_a_label_out_of_range_fails_with_one_message(tmp_path, capsys):
    from scratchgen.models import ConditionalGAN
    from scratchgen.train import save_checkpoint

    model = ConditionalGAN((1, 8, 8), n_classes=10, width=8, seed=0)
    ckpt = tmp_path / "cgan.sgz"
    save_checkpoint(ckpt, model, model.configure_optimizers(), epoch=1, step=1, seed=0,
                    batch_size=64)
    _fails(["sample", "--checkpoint", str(ckpt), "--label", "12", "--out",
            str(tmp_path / "g.npy")], capsys, r"labels must lie in [0, 9], got [12, 12]")
    assert main(["sample", "--checkpoint", str(ckpt), "--label", "3", "--n", "4", "--out",
                 str(tmp_path / "g.npy")]) == 0
    assert np.load(tmp_path / "g.npy").shape == (4, 1, 8, 8)
