"""PyTorch as an oracle: forward values, first- and second-order gradients of every op in the
table agree with torch's on random inputs (skipped when torch is not installed)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgen as sg
from scratchgen.testing.op_table import OPS

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-9, 1e-11  # both sides compute in float64; only rounding order differs


def _tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _close(ours, theirs, what):
    if ours is None and theirs is None:
        return  # neither side depends on this input
    theirs = np.zeros(ours.shape) if theirs is None else theirs.detach().numpy(force=True)
    ours = np.zeros(theirs.shape) if ours is None else ours.data
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("spec", [s for s in OPS if s.torch_fn], ids=lambda s: s.name)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_agrees_with_torch(spec, data, seed):
    case = data.draw(spec.inputs)
    rng = np.random.default_rng(seed)
    ours = [sg.tensor(a, requires_grad=True, dtype=np.float64) for a in case.arrays]
    theirs = [torch.tensor(a, requires_grad=True, dtype=torch.float64) for a in case.arrays]
    out = _tuple(spec.fn(*ours, **case.params))
    tout = _tuple(spec.torch_fn(torch, *theirs, **case.params))
    assert len(out) == len(tout)
    for k, (o, t) in enumerate(zip(out, tout)):
        assert o.shape == tuple(t.shape), f"output {k}: shape {o.shape} vs torch {tuple(t.shape)}"
        _close(o, t, f"forward output {k}")

    # First order: vector-Jacobian products with random v (v requires grad so the result can
    # be differentiated in it too).
    vs = [rng.standard_normal(o.shape) for o in out]
    our_v = [sg.tensor(v, requires_grad=True, dtype=np.float64) for v in vs]
    torch_v = [torch.tensor(v, requires_grad=True) for v in vs]
    grads = sg.grad(list(out), ours, our_v, create_graph=True, allow_unused=True)
    tgrads = torch.autograd.grad(tout, theirs, torch_v, create_graph=True, allow_unused=True)
    for i, (g, t) in enumerate(zip(grads, tgrads)):
        _close(g, t, f"gradient of input {i}")

    # Second order: the gradient of <w, J^T v> with respect to the inputs and to v.
    ws = [rng.standard_normal(x.shape) for x in ours]
    pairs = [(g, t, w) for g, t, w in zip(grads, tgrads, ws) if g is not None and t is not None]
    if not pairs:
        return
    s = sum((g * sg.tensor(w, dtype=np.float64)).sum() for g, _, w in pairs)
    ts = sum((t * torch.tensor(w)).sum() for _, t, w in pairs)
    second = sg.grad(s, ours + our_v, allow_unused=True)
    tsecond = torch.autograd.grad(ts, theirs + torch_v, allow_unused=True)
    for i, (g, t) in enumerate(zip(second, tsecond)):
        _close(g, t, f"second-order gradient {i}")
