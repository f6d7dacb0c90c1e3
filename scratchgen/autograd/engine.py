"""The backward pass: walk the graph from the outputs to the inputs, applying the chain rule.

Two entry points share one traversal:

* ``backward(root, grad)``, behind ``Tensor.backward``: accumulates into ``leaf.grad``;
* ``grad(outputs, inputs)``: returns d(outputs)/d(inputs) and touches no ``.grad``.

The traversal is iterative (no recursion limit, graphs of any depth) and visits each node once,
after every consumer of its output has sent its contribution, so a tensor used twice receives
the sum of both gradients.
"""
import numpy as np

from . import anomaly
from .grad_mode import set_grad_enabled


def _topological_order(roots):
    """Every tensor that requires grad and leads to ``roots``, inputs before consumers.

    An iterative depth-first search: a tensor is emitted after all of its inputs. The explicit
    stack holds ``(tensor, inputs_done)``; the second visit emits the tensor.
    """
    order, seen = [], set()
    stack = [(root, False) for root in roots]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        fn = node._fn
        if fn is not None and fn.inputs is not None:
            stack.extend((t, False) for t in fn.inputs if t.requires_grad and id(t) not in seen)
    return order


def _seed_gradient(caller, root, grad):
    """dL/d(root): ones for a one-element root, else the gradient the caller passed."""
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"{caller}: the gradient can be created implicitly only for a one-element "
                f"output, got shape {root.shape}; pass grad= with that shape"
            )
        return type(root)._wrap(np.ones_like(root.data))
    grad = grad if isinstance(grad, type(root)) else type(root)(grad, dtype=root.dtype)
    if grad.shape != root.shape:
        raise ValueError(
            f"{caller}: grad has shape {grad.shape} but the output has shape {root.shape}"
        )
    return grad


def _run(roots, seeds, targets, accumulate, retain_graph, create_graph):
    """Propagate ``seeds`` from ``roots``; return {id(target): gradient} for ``targets``.

    When ``accumulate`` is set, leaves (and tensors that called ``retain_grad``) get their
    gradient added into ``.grad``. Only nodes that lead to a target are expanded.
    """
    order = _topological_order(roots)
    if targets is None:
        useful = None  # every node leads to some leaf
    else:
        useful = set(targets)
        for node in order:  # inputs come first, so a node's inputs are already classified
            fn = node._fn
            if fn is not None and fn.inputs is not None and any(
                id(t) in useful for t in fn.inputs
            ):
                useful.add(id(node))

    grads, found = {}, {}
    anomalous = anomaly.is_anomaly_enabled()
    # Backward passes record their ops only under create_graph; the mode is set once for the
    # whole walk (setting it per node cost more than a small op's backward).
    with set_grad_enabled(create_graph):
        for root, seed in zip(roots, seeds):
            _accumulate(grads, root, seed)
        for node in reversed(order):
            grad_out = grads.pop(id(node), None)
            if grad_out is None:
                continue
            if targets is not None and id(node) in targets:
                found[id(node)] = grad_out
            if accumulate and (node._fn is None or node._retains_grad):
                node.grad = _accumulated_grad(node.grad, grad_out, create_graph)
            fn = node._fn
            if fn is None:
                continue
            if fn.inputs is None:
                raise RuntimeError(
                    f"backward: trying to go through the graph of {type(fn).__name__} a "
                    "second time, but its saved values were freed by the first backward; "
                    "pass retain_graph=True to the first backward (or grad) call"
                )
            if useful is not None and id(node) not in useful:
                continue
            if anomalous:
                with anomaly.backward_of(fn):
                    input_grads = _backward_of(fn, grad_out)
                    anomaly.check_backward(fn, input_grads)
            else:
                input_grads = _backward_of(fn, grad_out)
            for tensor, needed, grad in zip(fn.inputs, fn.needs_input_grad, input_grads):
                if needed and grad is not None:
                    _accumulate(grads, tensor, _match(fn, tensor, grad))
            if not retain_graph:
                fn.release()
    return found


def _backward_of(fn, grad_out):
    """``fn.backward(grad_out)`` as a tuple (an op with one input may return one Tensor)."""
    input_grads = fn.backward(grad_out)
    return input_grads if isinstance(input_grads, tuple) else (input_grads,)


def _match(fn, tensor, grad):
    """Check an op's gradient has its input's shape; cast it to the input's dtype."""
    if grad.shape != tensor.shape:
        raise RuntimeError(
            f"{type(fn).__name__}.backward returned a gradient of shape {grad.shape} for an "
            f"input of shape {tensor.shape} (a bug in that op's backward)"
        )
    return grad if grad.dtype == tensor.dtype else grad.astype(tensor.dtype)


def _accumulated_grad(previous, grad, create_graph):
    """The new ``.grad`` of a tensor: ``previous + grad``.

    NOTE: without create_graph the first gradient is copied, since ``grad`` may be shared
    (``a + b`` hands the same tensor to both operands), read-only (a broadcast view), or the
    caller's own array; ``.grad`` must be private and writable for in-place optimizers. The
    copy is C-contiguous, the layout the fused optimizer kernels read: a linear layer's weight
    gradient arrives as the transpose of a product (``x @ w.T``), and the copy costs the same
    in either order.
    """
    if previous is None:
        return grad if create_graph else type(grad)._wrap(np.array(grad.data, order="C"))
    with set_grad_enabled(create_graph):
        return previous + grad


def _accumulate(grads, tensor, grad):
    previous = grads.get(id(tensor))
    grads[id(tensor)] = grad if previous is None else previous + grad


def backward(root, grad=None, retain_graph=False, create_graph=False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` (see ``Tensor.backward``)."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn (did you create "
            "it under no_grad(), or forget requires_grad=True on its inputs?)"
        )
    seed = _seed_gradient("backward", root, grad)
    _run([root], [seed], None, True, retain_graph or create_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, like ``torch.autograd.grad``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
        Differentiated quantities; ``grad_outputs`` weights them (defaults to ones for
        one-element outputs).
    inputs : Tensor or sequence of Tensor
        Tensors (leaves or intermediate) to differentiate with respect to.
    grad_outputs : Tensor or sequence, optional
        dL/d(outputs), one per output.
    retain_graph : bool, optional
        Keep the graph for another pass; defaults to ``create_graph``.
    create_graph : bool
        Record the backward pass so the result can be differentiated again (gradient penalties,
        Hessian-vector products).
    allow_unused : bool
        Return None for inputs that do not affect the outputs instead of raising.

    Returns
    -------
    tuple of Tensor
        One gradient per input, each of that input's shape. ``.grad`` attributes are untouched.
    """
    outputs = [outputs] if not isinstance(outputs, (list, tuple)) else list(outputs)
    inputs = [inputs] if not isinstance(inputs, (list, tuple)) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs"
        )
    for index, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"grad: input {index} (shape {tensor.shape}) does not require grad")
    roots, seeds = [], []
    for index, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(
                f"grad: output {index} (shape {out.shape}) does not require grad; it does not "
                "depend on any tensor with requires_grad=True"
            )
        roots.append(out)
        seeds.append(_seed_gradient("grad", out, g))
    retain = create_graph if retain_graph is None else retain_graph
    found = _run(roots, seeds, {id(t) for t in inputs}, False, retain, create_graph)
    result = []
    for index, tensor in enumerate(inputs):
        g = found.get(id(tensor))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {index} (shape {tensor.shape}) is not used to compute the "
                "outputs; pass allow_unused=True to get None for it"
            )
        result.append(g)
    return tuple(result)
