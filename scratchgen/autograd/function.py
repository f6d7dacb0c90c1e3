"""``Function``: the base class of every differentiable primitive.

An op is a subclass with two methods side by side:

* ``forward(self, *arrays, **params)`` takes and returns plain arrays and saves on ``self``
  whatever backward will need (often the output, reachable later as ``self.output``);
* ``backward(self, grad_out)`` takes the Tensor dL/d(output) and returns one Tensor per input
  (``None`` where none is needed), computed with *Tensor ops*. Under a plain ``backward()`` those
  ops record nothing; under ``create_graph=True`` they are recorded, so the gradient can be
  differentiated again.

``Op.apply(*tensors, **params)`` runs forward and, when any input requires grad, links the
output to this node of the graph.
"""
import weakref

import numpy as np

from .. import backend as _backend
from . import anomaly
from .grad_mode import is_grad_enabled
from .tensor import Tensor


class Function:
    """One node of the graph: an op applied to some input Tensors.

    Attributes set by ``apply`` when the output requires grad
    ----------------------------------------------------------
    inputs : tuple of Tensor
        The operands, kept so backward can use them (and so the engine can walk the graph).
        ``None`` once the graph has been freed by a backward pass without ``retain_graph``.
    needs_input_grad : tuple of bool
        Which inputs require a gradient; backward may skip the others.
    """

    inputs = None
    needs_input_grad = ()
    created_at = None

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on ``inputs`` (Tensors) and record it in the graph when needed."""
        # NOTE: this runs once per op (about 30 times in a VAE step, 400 in a DCGAN step), so
        # it reads each switch once and the inputs' slots directly.
        fn = cls()
        anomalous = anomaly.is_anomaly_enabled()
        if anomalous:
            fn.created_at = anomaly.user_call_site()
        try:
            out_data = fn.forward(*[t.data for t in inputs], **params)
        except ValueError as err:
            # NumPy says "operands could not be broadcast"; say which op and which shapes.
            if not str(err).startswith("operands could not be broadcast"):
                raise
            shapes = ", ".join(str(t.shape) for t in inputs)
            raise ValueError(
                f"{cls.__name__.lower()}: operands could not be broadcast together "
                f"(shapes {shapes})"
            ) from None
        out = Tensor._wrap(out_data if type(out_data) is np.ndarray else np.asarray(out_data))
        if anomalous and anomaly.checks_forward():
            anomaly.check_forward(fn, out.data)
        differentiable = out.data.dtype.kind == "f"  # e.g. not a cast to an integer dtype
        if differentiable and is_grad_enabled():
            needs = tuple([t._requires_grad for t in inputs])
            if True in needs:
                fn.inputs = inputs
                fn.needs_input_grad = needs
                # A weak reference: the output owns its node, not the other way round, so
                # the graph has no reference cycle and is freed as soon as the last output
                # goes away.
                fn._output_ref = weakref.ref(out)
                out._requires_grad = True
                out._fn = fn
        return out

    @property
    def output(self):
        """The Tensor this node produced (alive whenever its backward can run)."""
        return self._output_ref()

    @property
    def backend(self):
        """The array backend that runs the heavy kernels (see ``scratchgen.backend``)."""
        return _backend.current()

    def release(self):
        """Drop the inputs and everything forward saved, freeing the memory of this node."""
        self.__dict__.clear()
        self.inputs = None

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def __repr__(self):
        return f"<{type(self).__name__}>"
