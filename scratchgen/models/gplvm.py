"""The GP latent variable models as generative models of images, for ``scratchgen train``.

``scratchgen.gp.GPLVM`` and ``BayesianGPLVM`` are scikit-learn style estimators on rows of
numbers. These wrappers give them the ``GenerativeModel`` face the command line, the
checkpoints and the quality report use: images (N, C, H, W) in [0, 1] in and out, a state dict
of plain arrays (the fitted state, ``LatentVariableModel.fitted_state``), and a ``fit`` in
place of the trainer's mini-batch steps, since both are fitted by L-BFGS-B on all rows at once.
"""
import numpy as np

from ..gp import BayesianGPLVM, GPLVM
from .base import GenerativeModel, check_positive_int

__all__ = ["BayesianGPLVMModel", "GPLVMModel"]

#: latent points drawn for the held-out reconstruction error in ``evaluate``
_EVALUATE_ROWS = 200


class _GPLatentImageModel(GenerativeModel):
    """Shared by the two wrappers; subclasses set ``kind`` and ``estimator_class``."""

    estimator_class = None
    loss_names = ("objective",)
    default_batch_size = None

    def __init__(self, image_shape, latent_dim=2, max_iter=500, seed=0, max_rows=None,
                 fitted=None, n_classes=None, **options):
        super().__init__(image_shape)         # not conditional: n_classes stays None
        name = type(self).__name__
        self.hyperparameters = {
            "latent_dim": check_positive_int(latent_dim, "latent_dim", name),
            "max_iter": check_positive_int(max_iter, "max_iter", name),
            "seed": int(seed),
            "max_rows": None if max_rows is None else check_positive_int(max_rows, "max_rows",
                                                                         name),
            **options, "fitted": fitted,
        }
        self._estimator = None
        if fitted is not None:
            for key, shape in fitted["shapes"].items():
                self.register_buffer(_buffer_name(key), np.zeros(shape))

    @property
    def estimator(self):
        """The fitted ``scratchgen.gp`` estimator (rebuilt from the buffers after loading)."""
        if self._estimator is None:
            fitted = self.hyperparameters["fitted"]
            if fitted is None:
                raise ValueError(f"{type(self).__name__}: the model is not fitted yet; call "
                                 f"fit(images) first")
            arrays = {key: getattr(self, _buffer_name(key)).data for key in fitted["shapes"]}
            self._estimator = self.estimator_class.from_fitted_state(fitted["config"], arrays)
        return self._estimator

    def fit(self, x, y=None, verbose=False):
        """Fit on images ``x`` (N, C, H, W) in [0, 1]; return the labels of the rows used.

        With ``max_rows`` a random subset (seeded by ``seed``) of that many images is used.
        """
        hp = self.hyperparameters
        rows = np.arange(len(x))
        if hp["max_rows"] is not None and len(x) > hp["max_rows"]:
            rng = np.random.default_rng([hp["seed"], 1])
            rows = np.sort(rng.choice(len(x), size=hp["max_rows"], replace=False))
        Y = np.asarray(x, dtype=np.float64)[rows].reshape(len(rows), -1)
        options = {k: v for k, v in hp.items() if k not in ("seed", "max_rows", "fitted")}
        estimator = self.estimator_class(random_state=hp["seed"], verbose=verbose,
                                         **options).fit(Y)
        config, arrays = estimator.fitted_state()
        hp["fitted"] = {"config": config,
                        "shapes": {key: list(value.shape) for key, value in arrays.items()}}
        for key, value in arrays.items():
            self.register_buffer(_buffer_name(key), np.asarray(value, dtype=np.float64))
        self._estimator = estimator
        return None if y is None else np.asarray(y)[rows]

    @property
    def latent_means(self):
        """The fitted latent positions (n, Q) of the training rows."""
        raise NotImplementedError

    def objective(self):
        """The fitted objective in nats: the bound, or the log marginal likelihood."""
        raise NotImplementedError

    def sample(self, n, rng, labels=None):
        self._check_sample_request(n, labels)
        rows = self.estimator.sample(n, random_state=rng)
        return np.clip(rows, 0.0, 1.0).reshape(n, *self.image_shape).astype(np.float32)

    def decode_images(self, latent, return_std=False):
        """Images (n, C, H, W) in [0, 1] decoded from latent points (n, Q); and their std."""
        out = self.estimator.decode(latent, return_std=return_std)
        mean, std = out if return_std else (out, None)
        images = np.clip(mean, 0.0, 1.0).reshape(len(latent), *self.image_shape)
        return (images, std.reshape(images.shape)) if return_std else images

    def evaluate(self, x, y, rng):
        """The objective reached, and the mean squared error of held-out images passed
        through transform and decode (on up to 200 of them)."""
        metrics = {"objective": self.objective(), "noise_variance": self.estimator.noise_}
        x = np.asarray(x, dtype=np.float64)[:_EVALUATE_ROWS]
        Y = x.reshape(len(x), -1)
        latent = self.estimator.transform(Y)
        metrics["test_reconstruction_mse"] = float(np.mean((self.estimator.decode(latent)
                                                            - Y) ** 2))
        return metrics

    def pictures(self, x, y, rng):
        """Decoded images on a 12 x 12 grid over the two most relevant latent dimensions."""
        grid = self.latent_grid(12)
        return {"latent_grid": (self.decode_images(grid), 12)}

    def relevance(self):
        """A relevance per latent dimension (larger is more relevant): variance / l_q^2 of an
        RBF kernel (times a constant), else the spread of the latent points."""
        weights = _ard_weights(self.estimator.kernel_, self.hyperparameters["latent_dim"])
        return np.var(self.latent_means, axis=0) if weights is None else weights

    def plane(self):
        """The two most relevant latent dimensions, most relevant first."""
        order = np.argsort(self.relevance())[::-1]
        return order[:2] if order.size > 1 else order

    def latent_grid(self, size):
        """(size^2, Q) latent points on a grid over the range of the training latents in
        ``plane()``, the other dimensions at their mean; rows top to bottom."""
        means = self.latent_means
        grid = np.tile(means.mean(axis=0), (size * size, 1))
        dims = self.plane()
        lows, highs = np.percentile(means[:, dims], [2, 98], axis=0)
        cols = np.linspace(lows[0], highs[0], size)
        grid[:, dims[0]] = np.tile(cols, size)
        if dims.size > 1:
            grid[:, dims[1]] = np.repeat(np.linspace(highs[1], lows[1], size), size)
        return grid


class GPLVMModel(_GPLatentImageModel):
    """``GPLVM`` (Lawrence, 2005) on images; samples from a density over its latent points."""

    kind = "gplvm"
    estimator_class = GPLVM

    @property
    def latent_means(self):
        return self.estimator.latent_

    def objective(self):
        return float(self.estimator.log_marginal_likelihood_value_)


class BayesianGPLVMModel(_GPLatentImageModel):
    """``BayesianGPLVM`` (Titsias and Lawrence, 2010) on images; samples from the prior."""

    kind = "bgplvm"
    estimator_class = BayesianGPLVM

    def __init__(self, image_shape, latent_dim=2, max_iter=500, seed=0, max_rows=None,
                 fitted=None, n_classes=None, n_inducing=50, batch_size=None,
                 learning_rate=0.01):
        name = type(self).__name__
        super().__init__(image_shape, latent_dim, max_iter, seed, max_rows, fitted, n_classes,
                         n_inducing=check_positive_int(n_inducing, "n_inducing", name),
                         batch_size=None if batch_size is None else check_positive_int(
                             batch_size, "batch_size", name),
                         learning_rate=float(learning_rate))

    @property
    def latent_means(self):
        return self.estimator.latent_mean_

    def objective(self):
        return float(self.estimator.elbo_)


def _buffer_name(key):
    return key.replace(".", "_")


def _ard_weights(kernel, latent_dim):
    """variance / l^2 per dimension of ``[c *] RBF``, or None for another kernel."""
    from ..gp import kernels

    scale, base = 1.0, kernel
    if isinstance(kernel, kernels.Product) and isinstance(kernel.k1, kernels.ConstantKernel):
        scale, base = kernel.k1.constant_value, kernel.k2
    if not isinstance(base, kernels.RBF):
        return None
    return scale / np.broadcast_to(base.length_scale, (latent_dim,)) ** 2
