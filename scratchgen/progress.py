"""Progress bars for long work: a tqdm bar, or a silent stand-in with the same methods.

Used by the GP estimators (``verbose=True`` shows one bar over the optimizer's evaluations,
with the current objective) and meant for any long loop, such as a model trainer's epochs::

    with progress_bar(total=n_epochs, desc="train", enabled=verbose) as bar:
        for epoch in range(n_epochs):
            loss = train_one_epoch()
            bar.set_postfix(loss=f"{loss:.4f}")
            bar.update()
"""
from tqdm import tqdm

__all__ = ["NullBar", "progress_bar"]


class NullBar:
    """A progress bar that shows nothing: what ``progress_bar(enabled=False)`` returns.

    It counts ``update`` calls in ``n``, as tqdm does, so code may read the count either way.
    """

    def __init__(self, total=None, desc=None):
        self.total, self.desc, self.n = total, desc, 0

    def update(self, n=1):
        self.n += n

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        pass

    def set_description(self, desc=None, refresh=True):
        self.desc = desc

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def progress_bar(total=None, desc=None, enabled=True, **tqdm_kwargs):
    """A tqdm progress bar, or a ``NullBar`` when ``enabled`` is false.

    Parameters
    ----------
    total : int, optional
        The number of steps, when known (otherwise the bar counts without an end).
    desc : str, optional
        A label shown before the bar.
    enabled : bool
        False returns a ``NullBar``, which shows nothing and costs nothing.
    **tqdm_kwargs
        Passed on to ``tqdm.tqdm`` (``file``, ``leave``, ``unit``...). tqdm writes to
        standard error by default.

    Returns
    -------
    tqdm.tqdm or NullBar
        Either has ``update(n=1)``, ``set_postfix(**values)``, ``set_description``,
        ``close()`` and works as a context manager (which closes it).
    """
    if not enabled:
        return NullBar(total, desc)
    return tqdm(total=total, desc=desc, **tqdm_kwargs)
