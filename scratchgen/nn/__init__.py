"""Neural-network building blocks. ``scratchgen.nn.functional`` holds the stateless ops."""
from . import functional

__all__ = ["functional"]
