"""Convolution and pooling in plain NumPy: the reference definition of every conv kernel.

Convolution is a matrix product once the input is unfolded: ``im2col`` copies every window of
x (C_in * KH * KW values) into a column, so that for one image and one group

    y[c_out, p] = sum_k  w[c_out, k] * cols[k, p]        (y = W @ cols)

where k runs over (c_in, i, j) and p over the output pixels. The two backward passes are the
two other products of that identity:

    dL/dcols = W^T @ G       then col2im adds each column back into its window of x;
    dL/dW    = G @ cols^T    summed over the batch.

``col2im`` is the adjoint of ``im2col``: overlapping windows add up. The Cython kernels in
``scratchgen._kernels`` compute exactly this, faster; read this file first.
"""
import numpy as np


def _window(g, i, j, H_out, W_out):
    """Slices of the padded input read by kernel tap (i, j) for every output pixel."""
    (sh, sw), (dh, dw) = g.stride, g.dilation
    return (slice(i * dh, i * dh + sh * (H_out - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (W_out - 1) + 1, sw))


def im2col(x, g, pad_value=0.0):
    """Unfold the windows of ``x`` (N, C, H, W) into columns: (N, C * KH * KW, H_out * W_out).

    Row ``(c * KH + i) * KW + j`` holds tap (i, j) of channel c for every output pixel.
    """
    N, C = x.shape[:2]
    ph, pw = g.padding
    H_out, W_out = g.H_out, g.W_out
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    cols = np.empty((N, C, g.KH, g.KW, H_out, W_out), dtype=x.dtype)
    for i in range(g.KH):
        for j in range(g.KW):
            rows, columns = _window(g, i, j, H_out, W_out)
            cols[:, :, i, j] = padded[:, :, rows, columns]
    return cols.reshape(N, C * g.KH * g.KW, H_out * W_out)


def col2im(cols, g, channels):
    """Adjoint of ``im2col``: add each column back into its window. (N, C*KH*KW, L) -> x."""
    N = cols.shape[0]
    ph, pw = g.padding
    H_out, W_out = g.H_out, g.W_out
    cols = cols.reshape(N, channels, g.KH, g.KW, H_out, W_out)
    padded = np.zeros((N, channels, g.H + 2 * ph, g.W + 2 * pw), dtype=cols.dtype)
    for i in range(g.KH):
        for j in range(g.KW):
            rows, columns = _window(g, i, j, H_out, W_out)
            padded[:, :, rows, columns] += cols[:, :, i, j]  # windows overlap: accumulate
    return padded[:, :, ph:ph + g.H, pw:pw + g.W]


def _grouped(array, groups):
    """(N, C * R, L) -> (N, groups, C // groups * R, L): the rows of each group together."""
    N, rows, L = array.shape
    return array.reshape(N, groups, rows // groups, L)


def conv2d(x, w, b, g):
    """y = conv2d(x, w) + b.  x: (N, C_in, H, W), w: (C_out, C_in/groups, KH, KW), b: (C_out,)
    or None.  Returns y: (N, C_out, H_out, W_out)."""
    cols = _grouped(im2col(x, g), g.groups)                           # (N, G, K, L)
    w_mat = w.reshape(g.groups, g.C_out // g.groups, -1)              # (G, C_out/G, K)
    y = np.matmul(w_mat, cols)                                        # (N, G, C_out/G, L)
    y = y.reshape(g.y_shape)                                          # (N, C_out, H_out, W_out)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def conv2d_backward_data(grad_y, w, g):
    """dL/dx of y = conv2d(x, w): col2im(W^T @ G).  Also the forward of conv_transpose2d.

    grad_y: (N, C_out, H_out, W_out).  Returns (N, C_in, H, W).
    """
    grad_y = _grouped(grad_y.reshape(g.N, g.C_out, -1), g.groups)     # (N, G, C_out/G, L)
    w_mat = w.reshape(g.groups, g.C_out // g.groups, -1)              # (G, C_out/G, K)
    cols = np.matmul(w_mat.transpose(0, 2, 1), grad_y)                # (N, G, K, L)
    return col2im(cols.reshape(g.N, -1, g.H_out * g.W_out), g, g.C_in)


def conv2d_backward_weight(grad_y, x, g):
    """dL/dw of y = conv2d(x, w): sum over the batch of G @ cols^T.  Returns w's shape."""
    cols = _grouped(im2col(x, g), g.groups)                           # (N, G, K, L)
    grad_y = _grouped(grad_y.reshape(g.N, g.C_out, -1), g.groups)     # (N, G, C_out/G, L)
    grad_w = np.matmul(grad_y, cols.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, C_out/G, K)
    return grad_w.reshape(g.w_shape)


def max_pool2d(x, g):
    """Maximum over each window (padding never wins).  Returns (y, argmax).

    y: (N, C, H_out, W_out); argmax: int64, same shape, the flat index ``h * W + w`` of the
    winning input in its (H, W) plane (ties go to the first window position, as in PyTorch).
    A window of padding alone (dilation can make one) has max -inf and argmax -1.
    """
    N, C = x.shape[:2]
    L = g.H_out * g.W_out
    planes = x.reshape(N * C, 1, g.H, g.W)
    cols = im2col(planes, g, pad_value=-np.inf).reshape(N * C, g.KH * g.KW, L)
    tap = np.argmax(cols, axis=1)                                     # (N*C, L)
    y = np.take_along_axis(cols, tap[:, None, :], axis=1)[:, 0]
    # Padding reads -inf, so it wins only where every input of the window is -inf too (or
    # the window has none): then the first tap inside the input wins the tie.
    inside = im2col(np.ones((1, 1, g.H, g.W)), g)[0] > 0              # (KH*KW, L)
    lost_to_padding = ~np.take_along_axis(inside, tap, axis=0) if N * C else tap < 0
    tap = np.where(lost_to_padding, np.argmax(inside, axis=0), tap)
    # Turn (tap, output pixel) into the input's (h, w).
    i, j = np.divmod(tap, g.KW)
    p_h, p_w = np.divmod(np.arange(L), g.W_out)
    h = p_h * g.stride[0] - g.padding[0] + i * g.dilation[0]
    w = p_w * g.stride[1] - g.padding[1] + j * g.dilation[1]
    argmax = np.where(inside.any(axis=0), h * g.W + w, -1)
    return y.reshape(N, C, g.H_out, g.W_out), argmax.reshape(N, C, g.H_out, g.W_out)


def max_pool2d_backward(grad_y, argmax, g):
    """dL/dx of max pooling: each output's gradient goes to its winning input (adding up where
    one input wins several overlapping windows; argmax -1, a window of padding alone, gives
    its gradient to no input)."""
    N, C = grad_y.shape[:2]
    plane = g.H * g.W
    argmax = argmax.reshape(N * C, -1)
    won = argmax >= 0
    flat = (np.where(won, argmax, 0) + plane * np.arange(N * C)[:, None]).ravel()
    weights = np.where(won, grad_y.reshape(N * C, -1), 0).ravel()
    grad_x = np.bincount(flat, weights=weights, minlength=N * C * plane)
    return grad_x.astype(grad_y.dtype).reshape(N, C, g.H, g.W)


def _pool_divisor(g, count_include_pad, dtype):
    """How many inputs each average-pooling window averages over, (H_out * W_out,)."""
    if count_include_pad:
        return np.asarray(g.KH * g.KW, dtype=dtype)
    ones = np.ones((1, 1, g.H, g.W), dtype=dtype)
    return im2col(ones, g).sum(axis=1)[0]


def avg_pool2d(x, g, count_include_pad=True):
    """Mean over each window; padding counts as zeros when ``count_include_pad``."""
    N, C = x.shape[:2]
    cols = im2col(x.reshape(N * C, 1, g.H, g.W), g)                   # (N*C, KH*KW, L)
    y = cols.sum(axis=1) / _pool_divisor(g, count_include_pad, x.dtype)
    return y.astype(x.dtype, copy=False).reshape(N, C, g.H_out, g.W_out)


def avg_pool2d_backward(grad_y, g, count_include_pad=True):
    """dL/dx of average pooling: each output's gradient, divided by its window's count,
    spread over the window."""
    N, C = grad_y.shape[:2]
    share = grad_y.reshape(N * C, 1, -1) / _pool_divisor(g, count_include_pad, grad_y.dtype)
    cols = np.broadcast_to(share, (N * C, g.KH * g.KW, share.shape[-1]))
    return col2im(cols.astype(grad_y.dtype, copy=False), g, 1).reshape(N, C, g.H, g.W)
