"""Progress bars: live in Jupyter and a terminal, none when asked or when ``TQDM_DISABLE=1``."""

from __future__ import annotations

import os

from tqdm.auto import tqdm


def progress_bar(iterable=None, *, show: bool, **options) -> tqdm:
    """``tqdm.auto.tqdm(iterable, **options)``, silent unless ``show``, and silent whenever
    ``TQDM_DISABLE`` is set in the environment (``make book`` and ``make notebooks`` set it, so that
    the site shows no bar). tqdm itself lets that variable win only over arguments it was not
    given, and its notebook bar always passes one, so the switch is read here."""
    quiet = os.environ.get("TQDM_DISABLE", "").lower() not in ("", "0", "false")
    return tqdm(iterable, disable=quiet or not show, **options)
