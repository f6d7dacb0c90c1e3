"""Export the graph behind a tensor in Graphviz DOT format, to look at what autograd recorded.

    dot = scratchgen.to_dot(loss)          # a string
    open("graph.dot", "w").write(dot)      # then: dot -Tpng graph.dot -o graph.png

Tensors are boxes (shape, dtype; leaves that require grad are filled), ops are ellipses named
after their ``Function`` class, and edges point from inputs to outputs, the direction of
forward.
"""
from .engine import _topological_order


def _label_tensor(t, names):
    name = names.get(id(t))
    title = f"{name}\\n" if name else ""
    return f"{title}{tuple(t.shape)}\\n{t.dtype}"


def to_dot(root, names=None):
    """The graph that produced ``root`` as a DOT string.

    Parameters
    ----------
    root : Tensor
        The output whose history to draw (usually the loss).
    names : dict of {str: Tensor}, optional
        Labels for tensors of interest, e.g. ``{"w": w, "loss": loss}``.

    Returns
    -------
    str
        A ``digraph``: render it with ``dot -Tpng``.
    """
    names = {id(t): label for label, t in (names or {}).items()}
    lines = [
        "digraph scratchgen {",
        '  rankdir="LR";',
        '  node [fontname="monospace", fontsize=10];',
    ]
    for t in _topological_order([root]) if root.requires_grad else [root]:
        style = ', style=filled, fillcolor="lightblue"' if t.is_leaf and t.requires_grad else ""
        lines.append(f'  t{id(t)} [shape=box, label="{_label_tensor(t, names)}"{style}];')
        fn = t.grad_fn
        if fn is None:
            continue
        lines.append(f'  f{id(fn)} [shape=ellipse, label="{type(fn).__name__}"];')
        lines.append(f"  f{id(fn)} -> t{id(t)};")
        for parent in fn.inputs or ():
            if parent.requires_grad:
                lines.append(f"  t{id(parent)} -> f{id(fn)};")
            else:  # a constant operand: drawn small, since it receives no gradient
                lines.append(
                    f'  c{id(parent)}_{id(fn)} [shape=plaintext, label="const {tuple(parent.shape)}"];'
                )
                lines.append(f"  c{id(parent)}_{id(fn)} -> f{id(fn)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
