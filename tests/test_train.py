"""The trainer: what a run writes, resuming equals not stopping, and a diverged run stops
with the step named and its last good checkpoint kept."""
import csv

import numpy as np
import pytest

import scratchgen as sg
from scratchgen import backend
from scratchgen.models import DCGAN, GSN, VAE, WGANGP
from scratchgen.train import (
    CheckpointError,
    LossLog,
    Trainer,
    TrainingDiverged,
    load_checkpoint,
    model_from_checkpoint,
)


def _digits(n=192):
    pytest.importorskip("sklearn")
    (x, y), _ = sg.data.load_train_test("digits")
    return x[:n], y[:n]


def _dcgan(seed):
    return DCGAN((1, 8, 8), width=8, latent_dim=8, seed=seed)


def _trainer(out, epochs, data, seed=0, make_model=_dcgan):
    return Trainer(make_model(seed), data, out, epochs, batch_size=64, seed=seed, grid_size=16,
                   show_progress=False, say=lambda line: None)


# Models whose state goes beyond weights and Adam's moments: a critic schedule (5 steps per
# G update, 3 steps per epoch, so it runs across epochs), a weight average, a learned variance.
_MODELS = {
    "dcgan": _dcgan,
    "wgan-gp": lambda seed: WGANGP((1, 8, 8), width=8, latent_dim=8, seed=seed),
    "dcgan-ema": lambda seed: DCGAN((1, 8, 8), width=8, latent_dim=8, seed=seed,
                                    ema_decay=0.9),
    "vae-learned-variance": lambda seed: VAE((1, 8, 8), hidden=16, latent_dim=2, seed=seed,
                                             decoder="gaussian", gaussian_variance="learned"),
    "gsn": lambda seed: GSN((1, 8, 8), hidden=16, walkback=2, burn_in=5, seed=seed),
}


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_writes_losses_grids_checkpoints_and_curves(tmp_path):
    pytest.importorskip("PIL")
    data = _digits()
    lines = []
    trainer = _trainer(tmp_path, 2, data)
    trainer.say = lines.append
    summary = trainer.fit()
    assert summary["epochs"] == 2 and summary["steps"] == 6 and summary["seconds_per_step"] > 0
    assert lines[0].startswith("epoch 1/2 [D loss: ") and ", G loss: " in lines[0]
    rows = _rows(tmp_path / "losses.csv")
    assert [int(r["step"]) for r in rows] == list(range(6))
    assert [r["epoch"] for r in rows] == ["1"] * 3 + ["2"] * 3
    assert all(np.isfinite(float(r["D loss"])) for r in rows)
    for name in ("samples_epoch_001.png", "samples_epoch_002.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpt = load_checkpoint(tmp_path / "last.sgz", kind="dcgan")
    assert (ckpt["epoch"], ckpt["step"]) == (2, 6)
    assert (tmp_path / "checkpoint_epoch_001.sgz").is_file()
    model = model_from_checkpoint(ckpt)
    np.testing.assert_array_equal(model.sample(3, np.random.default_rng(0)),
                                  trainer.model.sample(3, np.random.default_rng(0)))
    if pytest.importorskip("matplotlib"):
        assert (tmp_path / "loss_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_the_grid_uses_the_same_noise_every_epoch(tmp_path):
    trainer = _trainer(tmp_path, 1, _digits())
    np.testing.assert_array_equal(trainer.fixed_noise_samples(), trainer.fixed_noise_samples())


@pytest.mark.parametrize("name", sorted(_MODELS))
def test_resumed_run_repeats_the_uninterrupted_run_exactly(tmp_path, name):
    data = _digits()
    make_model = _MODELS[name]
    with backend.use("numpy"):
        whole = _trainer(tmp_path / "whole", 3, data, make_model=make_model)
        whole.fit()
        part = _trainer(tmp_path / "part", 1, data, make_model=make_model)
        part.fit()
        # A crash after epoch 1 can leave rows of the unfinished epoch 2 behind.
        LossLog(tmp_path / "part" / "losses.csv", part.model.loss_names).append(
            [{"epoch": 2, "step": 3, **{k: 9.0 for k in part.model.loss_names}}])
        resumed = _trainer(tmp_path / "part", 3, data, make_model=make_model)
        resumed.resume_from(load_checkpoint(tmp_path / "part" / "last.sgz"))
        assert (resumed.epoch, resumed.step) == (1, 3)
        resumed.fit()
    assert _rows(tmp_path / "whole" / "losses.csv") == _rows(tmp_path / "part" / "losses.csv")
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(whole.fixed_noise_samples(), resumed.fixed_noise_samples())


def test_a_diverged_run_names_the_step_and_keeps_the_last_checkpoint(tmp_path):
    data = _digits()
    trainer = _trainer(tmp_path, 3, data)
    step = trainer.model.training_step

    def poisoned(x, y, optimizers, rng, index):
        losses = step(x, y, optimizers, rng, index)
        return {**losses, "G loss": float("nan")} if index == 4 else losses

    object.__setattr__(trainer.model, "training_step", poisoned)
    with pytest.raises(TrainingDiverged, match=r"the G loss became nan at step 4 \(epoch 2\)"):
        trainer.fit()
    ckpt = load_checkpoint(tmp_path / "last.sgz")
    assert ckpt["epoch"] == 1                     # epoch 1's checkpoint, untouched
    assert not (tmp_path / "checkpoint_epoch_002.sgz").exists()
    assert [int(r["step"]) for r in _rows(tmp_path / "losses.csv")] == [0, 1, 2, 3]


def test_trainer_rejects_data_of_another_shape_and_bad_sizes(tmp_path):
    x, y = _digits()
    model = DCGAN((1, 28, 28), width=8)
    with pytest.raises(ValueError, match=r"samples of shape \(1, 28, 28\) but the data has "
                                         r"shape \(1, 8, 8\)"):
        Trainer(model, (x, y), tmp_path, 1)
    model = DCGAN((1, 8, 8), width=8)
    with pytest.raises(ValueError, match="batch_size must be in"):
        Trainer(model, (x, y), tmp_path, 1, batch_size=10_000)
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        Trainer(model, (x, y), tmp_path, 0)


def test_checkpoints_of_another_kind_or_truncated_are_refused(tmp_path):
    _trainer(tmp_path, 1, _digits()).fit()
    with pytest.raises(CheckpointError, match="holds a 'dcgan' model, not 'wgan-gp'"):
        load_checkpoint(tmp_path / "last.sgz", kind="wgan-gp")
    data = (tmp_path / "last.sgz").read_bytes()
    (tmp_path / "cut.sgz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "cut.sgz")
    sg.save({"weights": np.zeros(3)}, tmp_path / "other.sgz")
    with pytest.raises(CheckpointError, match="not a model checkpoint"):
        load_checkpoint(tmp_path / "other.sgz")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.sgz")
