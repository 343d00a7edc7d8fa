"""Submodules as attributes of their package, imported on first use (PEP 562)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable


def submodule_getattr(package: str) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``package``: ``package.<name>`` imports the submodule
    ``<name>`` the first time it is used, so ``l2l.tasks.regression.SineTasks`` works after a
    bare ``import l2l`` without importing every task."""
    names = {info.name for info in pkgutil.iter_modules(sys.modules[package].__path__)}

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return importlib.import_module(f"{package}.{name}")

    return __getattr__
