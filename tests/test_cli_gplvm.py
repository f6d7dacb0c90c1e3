"""``scratchgen train gplvm|bgplvm`` and ``scratchgen sample`` on their checkpoints: the files
a fit writes, samples in the neural models' format, and one clear line for each bad option."""
import json

import numpy as np
import pytest

from scratchgen.cli import main
from scratchgen.train import load_checkpoint

pytest.importorskip("sklearn")           # the 8x8 digits


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A quick Bayesian GP-LVM on 300 of the 8x8 digits, judged at the end."""
    pytest.importorskip("PIL")
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("bgplvm")
    assert main(["train", "bgplvm", "--dataset", "digits", "--iters", "60", "--inducing", "20",
                 "--max-rows", "300", "--out", str(out), "--no-progress"]) == 0
    return out


def test_fit_writes_the_run_files_and_a_quality_report(run):
    for name in ("samples.png", "latent.png", "latent_grid.png", "ard.png", "loss_curves.png"):
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    lines = (run / "losses.csv").read_text().splitlines()
    metrics = json.loads((run / "metrics.json").read_text())
    # one row per L-BFGS-B iteration; --iters caps the evaluations too, so at most 60
    assert lines[0] == "epoch,step,objective" and len(lines) == 1 + metrics["iterations"]
    assert 40 <= metrics["iterations"] <= 60
    objective = [float(line.split(",")[2]) for line in lines[1:]]
    assert objective[-1] > objective[0]
    assert metrics["model"] == "bgplvm" and metrics["rows_fitted"] == 300
    assert metrics["objective"] == pytest.approx(objective[-1], rel=1e-4)   # the CSV rounds
    assert 0 < metrics["test_reconstruction_mse"] < 0.1
    assert len(metrics["ard_weights"]) == 2
    quality = metrics["quality"]
    assert quality["frechet_distance"] > quality["real_frechet_distance"] >= 0
    assert quality["classes_recognized"] >= 5
    ckpt = load_checkpoint(run / "last.sgz", kind="bgplvm")
    assert ckpt["step"] == metrics["iterations"]


def test_sample_reads_the_checkpoint_like_a_neural_model(run, tmp_path):
    assert main(["sample", "--checkpoint", str(run / "last.sgz"), "--n", "9", "--seed", "4",
                 "--out", str(tmp_path / "x.npy")]) == 0
    x = np.load(tmp_path / "x.npy", allow_pickle=False)
    assert x.shape == (9, 1, 8, 8) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.std() > 0.05
    assert main(["sample", "--checkpoint", str(run / "last.sgz"), "--n", "9", "--seed", "4",
                 "--out", str(tmp_path / "y.npy")]) == 0
    np.testing.assert_array_equal(x, np.load(tmp_path / "y.npy"))


def test_gplvm_fits_and_samples(tmp_path):
    pytest.importorskip("PIL")
    pytest.importorskip("matplotlib")
    out = tmp_path / "gplvm"
    assert main(["train", "gplvm", "--dataset", "digits", "--iters", "30", "--max-rows", "200",
                 "--out", str(out), "--no-progress", "--no-quality"]) == 0
    assert json.loads((out / "metrics.json").read_text())["rows_fitted"] == 200
    assert main(["sample", "--checkpoint", str(out / "last.sgz"), "--n", "4",
                 "--out", str(tmp_path / "g.npy")]) == 0
    assert np.load(tmp_path / "g.npy").shape == (4, 1, 8, 8)


@pytest.mark.parametrize("argv, message", [
    (["train", "gplvm", "--epochs", "3"], "gplvm has no --epochs: it is fitted in one run by "
                                          "L-BFGS-B"),
    (["train", "gplvm", "--batch-size", "64"], "gplvm has no --batch-size"),
    (["train", "bgplvm", "--lr", "0.1"], "bgplvm has no --lr"),
    (["train", "gplvm", "--inducing", "10"], "gplvm has no --inducing"),
    (["train", "dcgan", "--iters", "10"], "dcgan has no --iters (an option of gplvm and bgplvm)"),
    (["train", "bgplvm", "--latent-dim", "100"], "latent_dim=100 is larger than the 64 columns"),
    (["train", "bgplvm", "--inducing", "0"], "n_inducing must be a positive int, got 0"),
])
def test_bad_options_get_one_line_and_exit_1(argv, message, tmp_path, capsys):
    assert main([*argv, "--dataset", "digits", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_bgplvm_fits_by_minibatches_with_batch_size(tmp_path):
    pytest.importorskip("PIL")
    pytest.importorskip("matplotlib")
    out = tmp_path / "svi"
    assert main(["train", "bgplvm", "--dataset", "digits", "--batch-size", "100", "--iters",
                 "40", "--lr", "0.03", "--inducing", "20", "--out", str(out), "--no-progress",
                 "--no-quality"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["hyperparameters"]["batch_size"] == 100
    assert metrics["iterations"] == 40 and np.isfinite(metrics["objective"])


def test_a_fresh_fit_refuses_a_folder_that_holds_a_run(run, capsys):
    assert main(["train", "gplvm", "--dataset", "digits", "--out", str(run)]) == 1
    assert "already holds a run (last.sgz)" in capsys.readouterr().err
