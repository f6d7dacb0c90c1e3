"""scratchgen.estimator: the stand-in base classes used when scikit-learn is not installed."""
import numpy as np
import pytest

from scratchgen.estimator import (LocalBaseEstimator, LocalClassifierMixin,
                                  LocalRegressorMixin)


class Line(LocalRegressorMixin, LocalBaseEstimator):
    def __init__(self, slope=1.0, inner=None):
        self.slope = slope
        self.inner = inner

    def predict(self, X):
        return self.slope * np.asarray(X)[:, 0]


class Sign(LocalClassifierMixin, LocalBaseEstimator):
    def __init__(self):
        pass

    def predict(self, X):
        return np.asarray(X)[:, 0] > 0


def test_get_params_reads_the_init_signature_sorted_and_deep():
    model = Line(2.0, inner=Line(3.0))
    assert list(model.get_params(deep=False)) == ["inner", "slope"]
    params = model.get_params()
    assert params["inner__slope"] == 3.0 and params["slope"] == 2.0
    assert Sign().get_params() == {}


def test_set_params_sets_nested_and_refuses_unknown_names():
    model = Line(inner=Line())
    assert model.set_params(slope=4.0, inner__slope=5.0) is model
    assert (model.slope, model.inner.slope) == (4.0, 5.0)
    with pytest.raises(ValueError, match=r"Line.set_params: invalid parameter 'slop'; valid "
                                         r"parameters are \['inner', 'slope'\]"):
        model.set_params(slop=1.0)


def test_a_constructor_with_var_args_is_refused():
    class Loose(LocalBaseEstimator):
        def __init__(self, *args):
            self.args = args

    with pytest.raises(RuntimeError, match="Loose: an estimator's __init__ must name every"):
        Loose().get_params()


def test_scores_are_r2_and_accuracy():
    X = np.array([[-1.0], [0.5], [2.0], [3.0]])
    y = np.array([-1.0, 0.0, 2.0, 3.5])
    residual, total = ((y - X[:, 0]) ** 2).sum(), ((y - y.mean()) ** 2).sum()
    assert Line().score(X, y) == pytest.approx(1 - residual / total)
    assert Line(0.0).score(X, np.zeros(4)) == 1.0          # constant target, exact
    assert Line().score(X, np.zeros(4)) == 0.0
    assert Sign().score(X, [False, True, True, False]) == 0.75
    assert Line._estimator_type == "regressor" and Sign._estimator_type == "classifier"


def test_gp_estimators_work_on_the_stand_ins_without_scikit_learn(tmp_path):
    # A fresh interpreter in which `import sklearn` fails, as on an install without it. It
    # runs outside the repository, so it imports the installed scratchgen (with its kernels),
    # not the source tree that `python -c` would put first on sys.path.
    import subprocess
    import sys
    import textwrap
    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None          # makes every `import sklearn...` fail
        import numpy as np
        from scratchgen import estimator
        from scratchgen.gp import GaussianProcessRegressor, NotFittedError, kernels
        assert not estimator.SKLEARN_BASE
        assert NotFittedError.__bases__ == (ValueError, AttributeError)
        X = np.linspace(0, 3, 12)[:, None]
        y = np.sin(X[:, 0])
        gp = GaussianProcessRegressor(kernels.RBF(1.0), n_restarts_optimizer=1)
        assert gp.get_params()["n_restarts_optimizer"] == 1
        assert gp.set_params(alpha=1e-6, optimizer=None).alpha == 1e-6
        assert gp.fit(X, y).score(X, y) > 0.99
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
