"""Max pooling picks the right winner with dilation and padding, on whichever backend runs
(the NumPy twin included), checked against positions worked out from the definition."""
import numpy as np
import pytest

import scratchgen as sg
import scratchgen.nn.functional as F
from scratchgen.backend import numpy_conv
from scratchgen.backend.conv_geometry import ConvGeometry


def winners_by_definition(x, k, stride, padding, dilation):
    """Flat index h * W + w of each window's maximum, from the definition, by loops."""
    H, W = x.shape
    H_out = (H + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    W_out = (W + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    winners = np.empty((H_out, W_out), dtype=np.int64)
    for p in range(H_out):
        for q in range(W_out):
            taps = [(p * stride - padding + i * dilation, q * stride - padding + j * dilation)
                    for i in range(k) for j in range(k)]
            inside = [(h, w) for h, w in taps if 0 <= h < H and 0 <= w < W]
            h, w = max(inside, key=lambda hw: x[hw])
            winners[p, q] = h * W + w
    return winners


def test_a_dilated_window_picks_its_maximum():
    # 5x5 with the largest values placed so that a window read without dilation (the 2x2
    # block at its corner) would pick a different input than the dilated one.
    x = np.array([[0, 9, 1, 8, 2],
                  [7, 24, 6, 23, 5],
                  [3, 10, 4, 11, 12],
                  [13, 22, 14, 21, 15],
                  [16, 17, 18, 19, 20]], dtype=np.float64)
    # kernel 2, dilation 2: output (p, q) reads x[p + {0, 2}, q + {0, 2}]; e.g. (0, 0) reads
    # 0, 1, 3, 4 and its winner is x[2, 2] = 4 (flat 12), where the undilated block would
    # pick x[1, 1] = 24.
    want = np.array([[12, 13, 14],
                     [17, 6, 19],
                     [22, 23, 24]])
    np.testing.assert_array_equal(want, winners_by_definition(x, 2, 1, 0, 2))
    t = sg.tensor(x[None, None], requires_grad=True, dtype=np.float64)
    y = F.max_pool2d(t, 2, stride=1, dilation=2)
    np.testing.assert_array_equal(y.data[0, 0], x.ravel()[want])
    y.sum().backward()
    np.testing.assert_array_equal(t.grad.data[0, 0].ravel(),
                                  np.bincount(want.ravel(), minlength=25))


@pytest.mark.parametrize("k, stride, padding, dilation", [
    (2, 1, 0, 2), (2, 2, 1, 2), (3, 1, 1, 2), (3, 2, 1, 3), (2, 1, 1, 3), (3, 1, 0, 1)])
def test_winners_match_the_definition(k, stride, padding, dilation):
    x = np.random.default_rng(k * 100 + dilation).permutation(49).reshape(7, 7).astype(float)
    want = winners_by_definition(x, k, stride, padding, dilation)
    g = ConvGeometry(1, 1, 7, 7, 1, k, k, (stride, stride), (padding, padding),
                     (dilation, dilation), groups=1)
    _, argmax = numpy_conv.max_pool2d(x[None, None], g)                  # the twin itself
    np.testing.assert_array_equal(argmax[0, 0], want)
    t = sg.tensor(x[None, None], requires_grad=True, dtype=np.float64)  # the current backend
    y = F.max_pool2d(t, k, stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_array_equal(y.data[0, 0], x.ravel()[want])
    y.sum().backward()
    np.testing.assert_array_equal(t.grad.data[0, 0].ravel(),
                                  np.bincount(want.ravel(), minlength=49))
