"""scratchgen.progress: a tqdm bar when enabled, a silent stand-in with the same methods."""
import io

import numpy as np
import pytest
from tqdm import tqdm

from scratchgen.progress import NullBar, progress_bar


def test_enabled_bar_is_tqdm_and_shows_count_and_postfix():
    out = io.StringIO()
    with progress_bar(total=3, desc="fit", file=out, mininterval=0) as bar:
        assert isinstance(bar, tqdm)
        for step in range(3):
            bar.set_postfix(lml=f"{-step:.3f}")
            bar.update()
    text = out.getvalue()
    assert "fit" in text and "3/3" in text and "lml=-2.000" in text


def test_disabled_bar_shows_nothing_but_counts(capsys):
    with progress_bar(total=5, desc="quiet", enabled=False) as bar:
        assert isinstance(bar, NullBar)
        bar.update()
        bar.update(2)
        bar.set_postfix(loss=1.0)
        bar.set_description("still quiet")
    assert bar.n == 3 and bar.desc == "still quiet"
    assert capsys.readouterr() == ("", "")


def test_gp_estimators_are_quiet_by_default_and_show_a_bar_when_verbose(capsys):
    from scratchgen.gp import (GaussianProcessClassifier, GaussianProcessRegressor,
                               SparseGPRegressor, kernels)
    X = np.linspace(0, 4, 20)[:, None]
    y = np.sin(X[:, 0])
    models = [
        lambda verbose: GaussianProcessRegressor(kernels.RBF(1.0) + kernels.White(0.1),
                                                 verbose=verbose),
        lambda verbose: SparseGPRegressor(n_inducing=5, max_iter=3, random_state=0,
                                          verbose=verbose),
        lambda verbose: GaussianProcessClassifier(kernels.RBF(1.0), verbose=verbose),
    ]
    for make in models:
        target = y > 0 if "Classifier" in type(make(False)).__name__ else y
        make(False).fit(X, target)
        assert capsys.readouterr().err == ""
        gp = make(True).fit(X, target)
        err = capsys.readouterr().err
        name = type(gp).__name__
        assert f"{name}.fit" in err and "evaluations" in err, err
        assert ("elbo=" if name == "SparseGPRegressor" else "lml=") in err, err


@pytest.mark.parametrize("isatty", [False, True])
def test_gp_fit_command_shows_the_bar_only_on_a_terminal(tmp_path, monkeypatch, capsys, isatty):
    from scratchgen.cli import main
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-3, 3, 20))
    rows = "\n".join(f"{a:.6f},{b:.6f}" for a, b in zip(x, np.sin(x)))
    (tmp_path / "d.csv").write_text("x,y\n" + rows + "\n")
    monkeypatch.setattr("sys.stderr.isatty", lambda: isatty, raising=False)
    monkeypatch.setattr("scratchgen.gp.command.plot_posterior_1d", lambda *a, **k: None)
    assert main(["gp", "fit", "--csv", str(tmp_path / "d.csv"), "--kernel", "rbf + white",
                 "--restarts", "0", "--out", str(tmp_path / "out")]) == 0
    assert ("GaussianProcessRegressor.fit" in capsys.readouterr().err) == isatty
