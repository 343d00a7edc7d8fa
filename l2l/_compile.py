"""Compilation in one place: compiled on first call, never at import, one switch, one fallback.

Every compiled path of the package (the LSTM cell's fused kernels, the MAML meta-iteration, the
Reptile update) goes through :class:`Lazy` or :func:`traced`. ``L2L_COMPILE=0`` in the environment
turns all of them into their eager equivalents; a compilation that fails (no C++ compiler, an
unsupported platform, a torch without the private entry points) warns once and runs eagerly.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable


def enabled() -> bool:
    """Whether the package may compile: ``False`` when ``L2L_COMPILE=0`` is in the environment.
    Read at each first call, so setting it after ``import l2l`` still counts."""
    return os.environ.get("L2L_COMPILE", "1") != "0"


def _fall_back(what: str, error: Exception) -> None:
    warnings.warn(f"could not compile {what} ({type(error).__name__}: {error}); running it eagerly",
                  stacklevel=4)


class Lazy:
    """``fn`` under ``torch.compile``, built on the first call (not at import).

    Calls run the compiled function when compilation is :func:`enabled`, else ``fn`` itself. When
    the compiled function fails, ``fn`` runs eagerly on the same arguments (so ``fn`` must be pure,
    as every compiled path here is): if that fails too, its own error is raised; if it succeeds,
    the failure was the compiler's, which is reported once, and ``fn`` runs from then on.
    ``compiled`` tells, after the first call, which of the two runs.
    """

    def __init__(self, fn: Callable, *, dynamic: bool | None = None):
        self.fn = fn
        self.dynamic = dynamic
        self._run: Callable | None = None

    @property
    def compiled(self) -> bool:
        return self._run is not None and self._run is not self.fn

    def __call__(self, *args):
        if self._run is None:
            import torch

            self._run = torch.compile(self.fn, dynamic=self.dynamic) if enabled() else self.fn
        if self._run is self.fn:
            return self.fn(*args)
        try:
            return self._run(*args)
        except Exception as error:  # noqa: BLE001 — a compiler failure, or the function's own error
            failure = error
        result = self.fn(*args)  # an error of the function itself propagates as it is, unwrapped
        _fall_back(getattr(self.fn, "__name__", "a function"), failure)  # so it was the compiler
        self._run = self.fn
        return result


def traced(fn: Callable, example: tuple, what: str) -> Callable:
    """``fn`` traced for the shapes of ``example`` into one flat graph of ATen operations
    (``make_fx``, which sees through ``torch.func.grad`` and ``vmap`` quickly) and compiled by
    Inductor, so that a call runs generated kernels with no Python tracing and no guards.
    Returns ``fn`` itself when compilation is not :func:`enabled` or fails (with a warning)."""
    if not enabled():
        return fn
    try:  # private entry points of torch: a release without them runs eagerly
        from torch._inductor import compile as inductor_compile
        from torch.fx.experimental.proxy_tensor import make_fx

        def positional(*args):
            return fn(*args)

        graph = make_fx(positional, tracing_mode="fake")(*example)
        return inductor_compile(graph, [a.clone() for a in example])
    except Exception as error:  # noqa: BLE001 — any failure: run eagerly instead
        _fall_back(what, error)
        return fn
