"""Argument checks shared by the package: each raises with the bad value and what is allowed."""

from __future__ import annotations

import math
import numbers

import torch


def _number(name: str, value, kind: type, allowed: str, within) -> float | int:
    """``value`` if it is a ``kind`` (never a bool) for which ``within(value)`` holds, else a
    ``TypeError``/``ValueError`` that names it and says what is ``allowed``."""
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    if not within(value):
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def positive_int(name: str, value) -> int:
    """``value`` as an int >= 1, else ``ValueError``/``TypeError`` naming it."""
    return int(_number(name, value, numbers.Integral, "a positive integer", lambda v: v >= 1))


def nonneg_int(name: str, value) -> int:
    """``value`` as an int >= 0, else ``ValueError``/``TypeError`` naming it."""
    return int(_number(name, value, numbers.Integral, "an integer >= 0", lambda v: v >= 0))


def nonneg_float(name: str, value) -> float:
    """``value`` as a finite float >= 0, else ``ValueError``/``TypeError`` naming it."""
    return float(_number(name, value, numbers.Real, "a finite number >= 0",
                         lambda v: math.isfinite(v) and v >= 0))


def finite_float(name: str, value) -> float:
    """``value`` as a finite float, else ``ValueError``/``TypeError`` naming it."""
    return float(_number(name, value, numbers.Real, "a finite number", math.isfinite))


def positive_float(name: str, value) -> float:
    """``value`` as a finite float > 0, else ``ValueError``/``TypeError`` naming it."""
    return float(_number(name, value, numbers.Real, "a positive finite number",
                         lambda v: math.isfinite(v) and v > 0))


def fraction(name: str, value) -> float:
    """``value`` as a float in [0, 1), a decay rate (momentum, β, ρ), else an error naming it: at 1
    nothing decays, and Adam's bias correction 1 − βᵗ is 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r} ({type(value).__name__})")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return float(value)


def in_range(name: str, value, low: float, high: float) -> float:
    """``value`` as a float in the closed interval [low, high], else ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [{low}, {high}], got {value!r} ({type(value).__name__})")
    if not (low <= value <= high):
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
    return float(value)


def divides(name_step: str, steps: int, name_unroll: str, unroll: int) -> None:
    """Require ``unroll`` to divide ``steps`` (truncated BPTT cuts the run into equal unrolls)."""
    if steps % unroll:
        raise ValueError(
            f"{name_unroll}={unroll} must divide {name_step}={steps} "
            f"(truncated BPTT cuts the run into equal pieces); try one of "
            f"{[d for d in range(1, steps + 1) if steps % d == 0]}"
        )


def tensor_shape(name: str, tensor, shape: tuple) -> None:
    """Require a tensor of the given shape; ``None`` in ``shape`` matches any size."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    ok = tensor.dim() == len(shape) and all(
        want is None or got == want for got, want in zip(tensor.shape, shape)
    )
    if not ok:
        pretty = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {pretty}, got {tuple(tensor.shape)}")


def generator(value) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with an int, or the generator given."""
    if isinstance(value, torch.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"generator must be an int seed or a torch.Generator, got {value!r} "
                        f"({type(value).__name__})")
    return torch.Generator().manual_seed(int(value))
