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

from l2l._files import atomic_write

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


def record(notebook: str, **numbers) -> None:
    """Merge ``numbers`` into ``_build/results/<notebook>.json`` (:func:`results_dir`).

    Returns nothing, so that a notebook cell ending with it shows no output (a path of the
    machine that built the page would).

    Values may be Python numbers, strings, tensors, numpy scalars, or lists and dicts of them.
    Infinity is stored as the JSON token ``Infinity`` (diverged runs are data, not errors).

    Args:
        notebook: the notebook's name, the file's stem: letters, digits, ``_`` or ``-``.
        **numbers: the values to store, by key; a key already in the file is overwritten, the
            others are kept.

    Raises:
        ValueError: a bad ``notebook`` name, no ``numbers``, or a NaN among the values.
        TypeError: a value that JSON cannot store.
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
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def load(notebook: str) -> dict:
    """Read back what :func:`record` wrote for ``notebook``."""
    if not _NAME.match(notebook):
        raise ValueError(f"notebook name {notebook!r} must be letters, digits, '_' or '-'")
    path = results_dir() / f"{notebook}.json"
    if not path.exists():
        raise FileNotFoundError(f"no results recorded for {notebook!r} at {path}; run its notebook")
    return json.loads(path.read_text())


#: Environment variables through which ``benchmarks/claims.py`` reruns a notebook under another
#: seed and thread count; a reader who sets neither gets the published run.
SEED_VARIABLE, THREADS_VARIABLE = "L2L_SEED", "L2L_THREADS"


def notebook_settings(threads: int = 1) -> int:
    """Fix torch's seed and thread count for a notebook; return the base of its seeds.

    Every random draw of a notebook takes ``generator=SEED + k`` with a fixed ``k`` per use, and
    ``SEED = notebook_settings()`` is 0 for the published run. ``$L2L_SEED = s`` makes it
    ``1000 s`` (so no two runs share a generator) and ``$L2L_THREADS`` overrides ``threads``: the
    claims benchmark (``benchmarks/claims.py``) reruns each notebook that way.

    The thread count is fixed because it changes the order of floating-point sums, and with it
    the digits a long run prints. One thread is the default: the book's tensors are small, and a
    second thread makes every parallel kernel wait for it whenever another process holds the
    other core (``benchmarks/threads.py`` measures what that costs).

    Args:
        threads: torch's thread count unless ``$L2L_THREADS`` is set, a positive integer.

    Returns:
        The base of the notebook's seeds, ``1000 * $L2L_SEED`` (0 when it is unset); torch's global
        seed is set to it.

    Raises:
        ValueError: ``$L2L_SEED`` is not a non-negative integer, or the thread count
            (``$L2L_THREADS``, else ``threads``) is not a positive integer.
    """
    seed = os.environ.get(SEED_VARIABLE, "0")
    if not seed.isdigit():
        raise ValueError(f"{SEED_VARIABLE}={seed!r} must be a non-negative integer")
    source = THREADS_VARIABLE if THREADS_VARIABLE in os.environ else "threads"
    count = os.environ.get(THREADS_VARIABLE, str(threads))
    if not (count.isdigit() and int(count) > 0):
        raise ValueError(f"{source}={count!r} must be a positive integer")
    base = 1000 * int(seed)
    torch.manual_seed(base)
    torch.set_num_threads(int(count))
    return base


class Claims:
    """The claims a notebook asserts: each a number it measured against a threshold.

    ``below(claim, value, threshold)`` states ``value < threshold``, ``above`` the reverse, ``at_most``
    ``value <= threshold`` (for a bound that is reached) and ``exactly`` ``value == threshold``
    (for counts and exact arithmetic). The
    claims are only collected; :meth:`check` prints them as a table, records them (key
    ``claims`` of :func:`record`) and then raises one ``AssertionError`` naming every claim that
    failed. Recording first keeps every measured value even when a claim fails, which is what the
    claims benchmark (``benchmarks/claims.py``) tabulates over seeds and thread counts.
    """

    def __init__(self, notebook: str):
        if not _NAME.match(notebook):
            raise ValueError(f"notebook name {notebook!r} must be letters, digits, '_' or '-'")
        self.notebook = notebook
        self.items: list[dict] = []

    def _add(self, claim: str, value, relation: str, threshold) -> None:
        value, threshold = float(_plain(value)), float(_plain(threshold))
        if math.isnan(value) or math.isnan(threshold):
            raise ValueError(f"claim {claim!r}: the measured value {value} or threshold {threshold} is NaN")
        if any(item["claim"] == claim for item in self.items):
            raise ValueError(f"claim {claim!r} is stated twice")
        holds = {"<": value < threshold, ">": value > threshold, "<=": value <= threshold,
                 "==": value == threshold}[relation]
        self.items.append({"claim": claim, "value": value, "relation": relation, "threshold": threshold,
                           "holds": holds})

    def below(self, claim: str, value, threshold) -> None:
        """State ``value < threshold``."""
        self._add(claim, value, "<", threshold)

    def above(self, claim: str, value, threshold) -> None:
        """State ``value > threshold``."""
        self._add(claim, value, ">", threshold)

    def at_most(self, claim: str, value, bound) -> None:
        """State ``value <= bound``."""
        self._add(claim, value, "<=", bound)

    def exactly(self, claim: str, value, expected) -> None:
        """State ``value == expected`` (no tolerance: for integers and exact fractions)."""
        self._add(claim, value, "==", expected)

    def check(self) -> None:
        """Print the table, record the claims, then assert that every claim holds."""
        if not self.items:
            raise ValueError(f"{self.notebook}: no claims to check")
        width = max(len(item["claim"]) for item in self.items)
        for item in self.items:
            verdict = "holds" if item["holds"] else "FAILS"
            print(f"{item['claim']:<{width}}  {item['value']:>10.4g} {item['relation']} "
                  f"{item['threshold']:<10.4g} {verdict}")
        record(self.notebook, claims=self.items)
        failed = [f"{i['claim']}: {i['value']:.4g} is not {i['relation']} {i['threshold']:.4g}"
                  for i in self.items if not i["holds"]]
        if failed:
            raise AssertionError(f"{self.notebook}: {len(failed)} claim(s) failed: " + "; ".join(failed))


def glue(name: str, value) -> int | float | str:
    """Hand a number this run measured to the page's prose; return it.

    In the built book, a markdown cell writes ``{glue:text}`name:.3f``` and shows this run's
    value (myst-nb's ``glue``), so the text never contradicts what the code printed on another
    machine. Where myst-nb is not installed (a plain Jupyter or Colab session) nothing is stored,
    and the printed tables carry the same numbers.

    Args:
        name: the glue key the prose refers to: letters, digits, ``_`` or ``-``.
        value: a number or a string; a one-element tensor or a numpy scalar is turned into a Python
            number first.

    Returns:
        ``value`` as a plain Python ``int`` (a ``bool`` stays one), ``float`` or ``str``.

    Raises:
        ValueError: a bad ``name``, or ``value`` is NaN.
        TypeError: ``value`` is not a number or a string (e.g. a tensor of several elements).
    """
    if not _NAME.match(name):
        raise ValueError(f"glue name {name!r} must be letters, digits, '_' or '-'")
    value = _plain(value)
    if not isinstance(value, (int, float, str)):
        raise TypeError(f"glue {name!r}: expected a number or a string, got {type(value).__name__}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=False)
    return value
