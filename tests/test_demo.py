"""``scratchgen demo --quick``: the main job end to end on the 8x8 digits, in seconds."""
import json

import numpy as np
import pytest

from scratchgen.cli import main


def test_quick_demo_trains_both_models_scores_them_and_fits_the_gps(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "epoch 1/1 [D loss: " in printed and "held-out -ELBO" in printed
    assert "fitted kernel" in printed and str(out / "samples.png") in printed
    metrics = json.loads((out / "metrics.json").read_text())
    for name in ("dcgan", "vae"):
        assert metrics[name]["steps"] > 0 and metrics[name]["seconds_per_step"] > 0
        quality = metrics[name]["quality"]
        assert np.isfinite(quality["frechet_distance"]) and quality["judge_test_accuracy"] > 0.8
        assert (out / name / "samples_epoch_001.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / name / "loss_curves.png").is_file() and (out / name / "last.sgz").is_file()
    assert metrics["vae"]["test_nll_iwae"] <= metrics["vae"]["test_neg_elbo"] + 0.5
    assert (out / "samples.png").read_bytes()[:4] == b"\x89PNG"
    gp = metrics["gaussian_process"]
    for job in ("gp_bmi", "gp_all_features"):
        assert np.isfinite(gp[job]["log_marginal_likelihood"])
        assert gp[job]["test_rmse"] < gp[job]["baseline_rmse"]   # better than the mean
    # All ten features explain more than body-mass index alone.
    assert gp["gp_all_features"]["test_rmse"] < gp["gp_bmi"]["test_rmse"]
    assert (out / "gp" / "gp_bmi.png").is_file()
