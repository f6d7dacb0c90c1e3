"""The command line's GP job: ``scratchgen gp fit`` on a CSV file."""
import json

import numpy as np
import pytest

from scratchgen.cli import main


def _write_csv(path, n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3, 3, n))
    y = np.sin(x) + 0.1 * rng.standard_normal(n)
    lines = ["x,noise,y"] + [f"{a:.6f},{b:.6f},{c:.6f}" for a, b, c in
                             zip(x, rng.standard_normal(n), y)]
    path.write_text("\n".join(lines) + "\n")
    return x, y


def test_gp_fit_writes_hyperparameters_metrics_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    csv = tmp_path / "data.csv"
    _write_csv(csv)
    out = tmp_path / "fit"
    assert main(["gp", "fit", "--csv", str(csv), "--x-cols", "x", "--y-col", "y",
                 "--kernel", "constant * rbf + white", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    hyper = json.loads((out / "hyperparameters.json").read_text())
    assert metrics["n"] == 60 and metrics["x_cols"] == ["x"]
    assert np.isfinite(metrics["log_marginal_likelihood"])
    assert metrics["train_rmse"] < 0.2  # noise level 0.1: the fit follows sin(x)
    assert len(hyper["theta"]) == len(hyper["hyperparameters"]) == 3
    assert (out / "posterior.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gp_fit_with_several_columns_writes_no_plot(tmp_path):
    csv = tmp_path / "data.csv"
    _write_csv(csv)
    out = tmp_path / "fit"
    assert main(["gp", "fit", "--csv", str(csv), "--kernel", "rbf + white",
                 "--out", str(out), "--restarts", "0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["x_cols"] == ["x", "noise"] and metrics["y_col"] == "y"
    assert not (out / "posterior.png").exists()


@pytest.mark.parametrize("content, message", [
    ("x,y\n1,2\n3,oops\n", "line 3 has a non-numeric value"),
    ("x,y\n", "needs a header row and at least one data row"),
    ("x,y\n1,2,3\n", "line 2 has 3 fields"),
])
def test_gp_fit_reports_bad_csv_in_one_line(tmp_path, capsys, content, message):
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    assert main(["gp", "fit", "--csv", str(csv), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "scratchgen gp: error:" in err and message in err


def test_gp_fit_unknown_column(tmp_path, capsys):
    csv = tmp_path / "data.csv"
    _write_csv(csv)
    assert main(["gp", "fit", "--csv", str(csv), "--y-col", "z", "--out", str(tmp_path)]) == 1
    assert "column 'z' is not in" in capsys.readouterr().err
