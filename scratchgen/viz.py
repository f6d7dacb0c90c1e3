"""Pictures of what the models learn: image grids (Pillow) and loss curves (matplotlib).

Both libraries come with the ``demo`` extra (``pip install 'scratchgen[demo]'``); without
them these functions raise ImportError with that advice, and the trainer carries on without
the pictures (the numbers are still written).
"""
from pathlib import Path

import numpy as np

from .serialization import write_atomically

__all__ = ["image_grid", "save_ard_weights", "save_image_grid", "save_latent_picture",
           "save_loss_curves"]


def image_grid(images, nrow=8, padding=2, pad_value=1.0):
    """Tile images into one picture, row by row.

    Parameters
    ----------
    images : numpy.ndarray, shape (N, C, H, W)
        Values in [0, 1] (clipped); C is 1 (grey) or 3 (RGB).
    nrow : int
        Images per row.
    padding : int
        Pixels between images and around the border.
    pad_value : float
        Colour of the padding, in [0, 1] (1 is white).

    Returns
    -------
    numpy.ndarray of uint8
        Shape (rows * (H + padding) + padding, nrow * (W + padding) + padding), with a
        trailing axis of 3 for RGB.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or len(images) == 0:
        raise ValueError(f"image_grid: expected images of shape (N, 1 or 3, H, W) with N >= 1, "
                         f"got {images.shape}")
    if not np.all(np.isfinite(images)):
        raise ValueError("image_grid: images contain NaN or inf")
    if nrow < 1 or padding < 0:
        raise ValueError(f"image_grid: need nrow >= 1 and padding >= 0, got nrow={nrow}, "
                         f"padding={padding}")
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    grid = np.full((c, rows * (h + padding) + padding, ncol * (w + padding) + padding),
                   pad_value)
    for i, image in enumerate(images):
        top = padding + (i // ncol) * (h + padding)
        left = padding + (i % ncol) * (w + padding)
        grid[:, top:top + h, left:left + w] = image
    grid = np.round(np.clip(grid, 0.0, 1.0) * 255).astype(np.uint8)
    return grid[0] if c == 1 else np.moveaxis(grid, 0, -1)


def save_image_grid(images, path, nrow=8, padding=2, scale=None):
    """Write ``image_grid(images)`` as a PNG file, atomically.

    ``scale`` enlarges small images (nearest neighbour) so that 8x8 digits stay visible;
    by default the grid is scaled up until it is at least 256 pixels wide.
    """
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("save_image_grid needs Pillow: pip install 'scratchgen[demo]'") from None
    grid = image_grid(images, nrow=nrow, padding=padding)
    if scale is None:
        scale = max(1, -(-256 // grid.shape[1]))
    picture = Image.fromarray(grid)
    if scale > 1:
        picture = picture.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    write_atomically(Path(path), lambda f: picture.save(f, format="PNG"))
    return Path(path)


def _figure(caller, size):
    """A matplotlib Figure of its own (not pyplot: the user's backend stays as it is)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"{caller} needs matplotlib: pip install 'scratchgen[demo]'") from None
    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save_latent_picture(latent, labels, grid_images, extent, path, dims=(0, 1),
                        title="latent space"):
    """The classic GP-LVM picture: decoded images on a grid, the latent points on top.

    Parameters
    ----------
    latent : ndarray (n, Q)
        Latent positions of the training rows.
    labels : ndarray (n,) or None
        Colours of the points (digit classes).
    grid_images : ndarray (size^2, 1, H, W)
        Images decoded at a size x size grid over ``extent``, rows top to bottom.
    extent : (left, right, bottom, top)
        The latent range the grid covers, in the coordinates of ``dims``.
    dims : (int, int)
        The two latent dimensions shown.
    """
    fig = _figure("save_latent_picture", (7, 7))
    ax = fig.subplots()
    size = int(round(np.sqrt(len(grid_images))))
    mosaic = image_grid(grid_images, nrow=size, padding=1, pad_value=0.0)
    ax.imshow(mosaic, cmap="gray_r" if mosaic.ndim == 2 else None, extent=extent,
              alpha=0.55, aspect="auto", interpolation="nearest")
    if labels is None:
        ax.scatter(latent[:, dims[0]], latent[:, dims[1]], s=6, alpha=0.8)
    else:
        points = ax.scatter(latent[:, dims[0]], latent[:, dims[1]], s=6, c=labels,
                            cmap="tab10", alpha=0.8)
        fig.colorbar(points, ax=ax, label="label")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel(f"latent dimension {dims[0]}")
    ax.set_ylabel(f"latent dimension {dims[1]}")
    ax.set_title(title)
    fig.tight_layout()
    write_atomically(Path(path), lambda f: fig.savefig(f, format="png"))
    return Path(path)


def save_ard_weights(weights, path, title="ARD weights of the latent dimensions"):
    """A bar chart of one relevance weight per latent dimension."""
    fig = _figure("save_ard_weights", (6, 3.5))
    ax = fig.subplots()
    weights = np.asarray(weights, dtype=np.float64)
    ax.bar(np.arange(weights.size), weights, color="C0")
    ax.set_xticks(np.arange(weights.size))
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("variance / length scale^2")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    write_atomically(Path(path), lambda f: fig.savefig(f, format="png"))
    return Path(path)


def save_loss_curves(history, path, title="training losses", smooth=None, xlabel="training step",
                     ylabel="loss"):
    """Plot each loss against the step and write a PNG, atomically.

    Parameters
    ----------
    history : dict of str -> (steps, values)
        One curve per loss name; ``steps`` and ``values`` are sequences of equal length.
    path : str or os.PathLike
    title : str
    smooth : int, optional
        Also draw a moving average over this many steps (default: about 1/50 of the run).
    xlabel, ylabel : str
        The axes' labels.
    """
    fig = _figure("save_loss_curves", (7, 4))
    ax = fig.subplots()
    for index, (name, (steps, values)) in enumerate(history.items()):
        steps, values = np.asarray(steps), np.asarray(values, dtype=np.float64)
        if len(values) == 0:
            continue
        colour = f"C{index}"
        window = smooth or max(1, len(values) // 50)
        ax.plot(steps, values, color=colour, alpha=0.25 if window > 1 else 1.0, linewidth=0.8)
        if window > 1 and len(values) >= window:
            average = np.convolve(values, np.ones(window) / window, mode="valid")
            ax.plot(steps[window - 1:], average, color=colour, linewidth=1.8,
                    label=f"{name} (mean of {window} steps)")
        else:
            ax.lines[-1].set_label(name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    write_atomically(Path(path), lambda f: fig.savefig(f, format="png"))
    return Path(path)
