"""Progress bars: live in Jupyter and a terminal, none when asked or when ``TQDM_DISABLE=1``."""

from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(iterable=None, *, show: bool, **options) -> tqdm:
    """``tqdm.auto.tqdm(iterable, **options)``, silent unless ``show``.

    ``disable`` is passed only to silence the bar: tqdm lets ``TQDM_DISABLE=1`` in the environment
    (set by ``make book`` and ``make notebooks``, so that the site shows no bar) override only
    the arguments it is not given.
    """
    return tqdm(iterable, **options) if show else tqdm(iterable, disable=True, **options)
