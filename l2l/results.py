"""A small record of the numbers each notebook reports and asserts.

Every notebook calls :func:`record` with the numbers it prints in its final table; they are
merged into ``_build/results/<notebook>.json`` at the top of the book (the folder that holds
``_toc.yml``), so results can be compared across runs and machines and tabulated.
Set ``L2L_RESULTS_DIR`` to write them somewhere else.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import torch

_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def results_dir(start: Path | None = None) -> Path:
    """Folder the records go to: ``$L2L_RESULTS_DIR``, else ``<book root>/_build/results``.

    The book root is the nearest folder at or above ``start`` (default: the working directory)
    that holds ``_toc.yml``; outside a checkout (e.g. on Colab) it is the working directory.
    """
    if os.environ.get("L2L_RESULTS_DIR"):
        return Path(os.environ["L2L_RESULTS_DIR"])
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder / "_build" / "results"
    return here / "_build" / "results"


def _plain(value):
    """Turn tensors and numpy scalars into JSON numbers; reject NaN so a record is never silent."""
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("refusing to record NaN: the experiment produced an undefined number")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def record(notebook: str, **numbers) -> Path:
    """Merge ``numbers`` into ``_build/results/<notebook>.json`` and return the file's path.

    Values may be Python numbers, strings, tensors, numpy scalars, or lists and dicts of them.
    Infinity is stored as the JSON token ``Infinity`` (diverged runs are data, not errors).
    """
    if not _NAME.match(notebook):
        raise ValueError(f"notebook name {notebook!r} must be letters, digits, '_' or '-'")
    if not numbers:
        raise ValueError("record() needs at least one number, e.g. record('quadratics', ratio=0.6)")
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update({key: _plain(value) for key, value in numbers.items()})
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def load(notebook: str) -> dict:
    """Read back what :func:`record` wrote for ``notebook``."""
    path = results_dir() / f"{notebook}.json"
    if not path.exists():
        raise FileNotFoundError(f"no results recorded for {notebook!r} at {path}; run its notebook")
    return json.loads(path.read_text())
