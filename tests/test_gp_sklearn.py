"""The GP estimators inside scikit-learn's tools: clone, cross_val_score, GridSearchCV,
Pipeline and tags, each compared with the same work done by hand; scikit-learn's parameter
spellings. Skipped without scikit-learn."""
import numpy as np
import pytest

sklearn_base = pytest.importorskip("sklearn.base")
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402

from scratchgen import estimator  # noqa: E402
from scratchgen.gp import (GaussianProcessClassifier, GaussianProcessRegressor,  # noqa: E402
                           SparseGPRegressor, kernels)


def regression_data(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, (n, 2))
    return X, np.sin(X).sum(axis=1) + 0.1 * rng.standard_normal(n)


def estimators():
    return [
        GaussianProcessRegressor(kernels.RBF(1.0) + kernels.White(0.1), alpha=1e-6,
                                 n_restarts_optimizer=1, optimizer="fmin_l_bfgs_b",
                                 random_state=0),
        SparseGPRegressor(n_inducing=8, noise=0.1, max_iter=5, random_state=0),
        GaussianProcessClassifier(kernels.Constant(1.0) * kernels.RBF(1.0), random_state=0),
    ]


def test_scikit_learns_base_classes_are_used():
    assert estimator.SKLEARN_BASE
    assert estimator.BaseEstimator is sklearn_base.BaseEstimator
    gpr, sgpr, gpc = estimators()
    assert sklearn_base.is_regressor(gpr) and sklearn_base.is_regressor(sgpr)
    assert sklearn_base.is_classifier(gpc)
    assert get_tags(gpr).target_tags.multi_output
    assert not get_tags(sgpr).target_tags.multi_output


@pytest.mark.parametrize("model", estimators(), ids=lambda m: type(m).__name__)
def test_clone_round_trips_every_parameter(model):
    copy = sklearn_base.clone(model)
    assert type(copy) is type(model) and copy is not model
    params, copied = model.get_params(deep=False), copy.get_params(deep=False)
    assert params.keys() == copied.keys()
    for name, value in params.items():
        assert repr(copied[name]) == repr(value), name
    assert set(params) >= {"kernel", "random_state"}
    X, y = regression_data()
    sklearn_base.clone(model.fit(X, y > 0 if type(model) is GaussianProcessClassifier else y))
    assert not hasattr(sklearn_base.clone(model), "kernel_")     # a clone is unfitted


@pytest.mark.parametrize("model", estimators(), ids=lambda m: type(m).__name__)
def test_cross_val_score_equals_a_manual_loop(model):
    X, y = regression_data(n=36)
    classify = type(model) is GaussianProcessClassifier
    if classify:
        y = y > np.median(y)
    folds = (StratifiedKFold if classify else KFold)(n_splits=3)
    scores = cross_val_score(model, X, y, cv=3)
    manual = [sklearn_base.clone(model).fit(X[train], y[train]).score(X[test], y[test])
              for train, test in folds.split(X, y)]
    assert len(scores) == 3
    np.testing.assert_allclose(scores, manual, rtol=1e-12)


def test_grid_search_over_alpha_picks_the_best_mean_score():
    X, y = regression_data(n=30)
    model = GaussianProcessRegressor(kernels.RBF(1.0), optimizer=None)
    alphas = [1e-4, 1e-2, 1.0]
    search = GridSearchCV(model, {"alpha": alphas}, cv=3).fit(X, y)
    means = [np.mean([GaussianProcessRegressor(kernels.RBF(1.0), alpha=a, optimizer=None)
                      .fit(X[train], y[train]).score(X[test], y[test])
                      for train, test in KFold(3).split(X)]) for a in alphas]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], means, rtol=1e-12)
    assert search.best_params_ == {"alpha": alphas[int(np.argmax(means))]}
    assert search.best_estimator_.alpha == search.best_params_["alpha"]


def test_pipeline_with_a_scaler_equals_scaling_by_hand():
    X, y = regression_data(n=30)
    X = X * [1.0, 100.0] + [0.0, 50.0]
    Xt, yt = regression_data(n=10, seed=1)
    model = GaussianProcessRegressor(kernels.RBF([1.0, 1.0]) + kernels.White(0.1),
                                     random_state=0)
    pipe = make_pipeline(StandardScaler(), model).fit(X, y)
    scaler = StandardScaler().fit(X)
    by_hand = sklearn_base.clone(model).fit(scaler.transform(X), y)
    np.testing.assert_allclose(pipe.predict(Xt), by_hand.predict(scaler.transform(Xt)),
                               rtol=1e-10)
    assert pipe.score(Xt, yt) == pytest.approx(by_hand.score(scaler.transform(Xt), yt),
                                               rel=1e-10)


def test_scikit_learn_spellings_fit_the_same_model():
    X, y = regression_data()
    kernel = kernels.Constant(1.0) * kernels.RBF(1.0) + kernels.White(0.1)
    ours = GaussianProcessRegressor(kernel, n_restarts=2, random_state=1).fit(X, y)
    theirs = GaussianProcessRegressor(kernel, n_restarts_optimizer=2, optimizer="fmin_l_bfgs_b",
                                      random_state=1).fit(X, y)
    np.testing.assert_array_equal(ours.kernel_.theta, theirs.kernel_.theta)
    assert theirs.get_params()["n_restarts_optimizer"] == 2
    with pytest.raises(ValueError, match=r"GaussianProcessRegressor.fit: n_restarts and "
                                         r"n_restarts_optimizer \(its scikit-learn name\) "
                                         r"disagree, got n_restarts=1 and "
                                         r"n_restarts_optimizer=2"):
        GaussianProcessRegressor(kernel, n_restarts=1, n_restarts_optimizer=2).fit(X, y)
    with pytest.raises(ValueError, match="GaussianProcessClassifier.fit: optimizer must be "
                                         r"'L-BFGS-B' \(or 'fmin_l_bfgs_b'\)"):
        GaussianProcessClassifier(optimizer="adam").fit(X, y > 0)


def test_classifier_optimizer_none_keeps_the_kernel():
    X, y = regression_data()
    kernel = kernels.Constant(2.0) * kernels.RBF(0.7)
    gpc = GaussianProcessClassifier(kernel, optimizer=None).fit(X, y > 0)
    np.testing.assert_array_equal(gpc.kernel_.theta, kernel.theta)
    fitted = GaussianProcessClassifier(kernel, n_restarts_optimizer=1, random_state=0)
    assert not np.array_equal(fitted.fit(X, y > 0).kernel_.theta, kernel.theta)


def test_saved_regressor_keeps_the_restart_count_of_either_spelling(tmp_path):
    X, y = regression_data(n=10)
    gp = GaussianProcessRegressor(kernels.RBF(1.0), n_restarts_optimizer=3,
                                  optimizer="fmin_l_bfgs_b")
    gp.save(tmp_path / "gp.sgz")
    back = GaussianProcessRegressor.load(tmp_path / "gp.sgz")
    assert (back.n_restarts, back.n_restarts_optimizer, back.optimizer) == (
        3, None, "fmin_l_bfgs_b")
