"""Dense layers and shape layers: Linear, Embedding, Identity, Flatten, Unflatten."""
import numpy as np

from . import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x W^T + b.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    rng : numpy.random.Generator or int, optional
        Generator for the initial values (PyTorch's default: U(-1/sqrt(in), 1/sqrt(in))).
    dtype : numpy dtype

    Shapes: input (..., in_features) -> output (..., out_features); weight (out, in).
    """

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.register_parameter("bias", Parameter(np.empty(out_features, dtype)) if bias else None)
        init.default_layer_init_(self.weight, self.bias, rng)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of ``weight`` (num, dim),
    initialized N(0, 1) as in PyTorch."""

    def __init__(self, num_embeddings, embedding_dim, rng=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        init.normal_(self.weight, rng=rng)

    def forward(self, indices):
        return F.embedding(indices, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Identity(Module):
    """Returns its input (a placeholder, e.g. for an optional normalization)."""

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` (by default all but the batch axis)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``, e.g. (N, 784) -> (N, 1, 28, 28)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        dim = self.dim % x.ndim
        if np.prod(self.unflattened_size) != x.shape[dim]:
            raise ValueError(f"Unflatten: cannot split axis {dim} of length {x.shape[dim]} into "
                             f"{self.unflattened_size} (input shape {x.shape})")
        return x.reshape(x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
