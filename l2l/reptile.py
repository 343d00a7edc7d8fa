"""Reptile (Nichol, Achiam & Schulman, "On First-Order Meta-Learning Algorithms", 2018).

Batched Reptile (the paper's Algorithm 2): at every iteration sample tasks τ_1, ..., τ_n, run
k steps of SGD with step α on k minibatches of each task from the current initialisation φ,

    W_i = SGD(L_{τ_i}, φ, k),

and move φ toward the adapted weights,

    φ ← φ + ε (1/n) Σ_i (W_i − φ),

with the outer step ε annealed linearly to 0 over training (as in the paper's code). Only first
derivatives are needed: with one task per step, (φ − W)/α plays the role of a gradient.

Parameters are dicts of tensors (as for ``torch.func.functional_call``); a loss is a function
``loss(params, *minibatch)`` that returns a scalar. :func:`reptile_step` adapts all n tasks at once
with ``torch.func.vmap``; :func:`reptile_step_serial` loops over them and gives the same update.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch.func import vmap

from l2l import _checks
from l2l._compile import Lazy
from l2l._progress import progress_bar
from l2l.inner_sgd import sgd
from l2l.tasks.regression import TaskBatch

__all__ = [
    "inner_sgd",
    "reptile_update",
    "reptile_step",
    "reptile_step_serial",
    "linear_anneal",
    "task_minibatches",
    "ReptileResult",
    "train_reptile",
]

Params = dict[str, torch.Tensor]
Loss = Callable[..., torch.Tensor]


def inner_sgd(loss: Loss, params: Params, minibatches: tuple, lr: float) -> Params:
    """W = SGD(L, φ, k): one SGD step φ ← φ − α ∇L(φ; minibatch i) for each of the k minibatches
    (:func:`l2l.inner_sgd.sgd`).

    ``minibatches`` is a tuple of tensors whose first dimension runs over the k minibatches;
    minibatch i is ``tuple(t[i] for t in minibatches)``.
    """
    k = minibatches[0].shape[0]
    return sgd(loss, params, [tuple(t[i] for t in minibatches) for i in range(k)], lr)


def reptile_update(params: Params, adapted: Params, epsilon: float) -> Params:
    """φ + ε (1/n) Σ_i (W_i − φ), where each tensor of ``adapted`` has the n tasks in front."""
    return {name: p + epsilon * (adapted[name] - p).mean(0) for name, p in params.items()}


def _check_step(minibatches, lr, epsilon) -> tuple[float, float]:
    if not isinstance(minibatches, tuple) or not minibatches:
        got = "an empty tuple" if isinstance(minibatches, tuple) else type(minibatches).__name__
        raise TypeError(f"minibatches must be a non-empty tuple of tensors (n_tasks, k, ...), got {got}")
    shapes = {tuple(t.shape[:2]) for t in minibatches}
    if len(shapes) != 1 or any(t.dim() < 2 for t in minibatches):
        raise ValueError(f"every tensor of minibatches must start with (n_tasks, k); got {shapes}")
    return _checks.positive_float("inner_lr", lr), _checks.in_range("epsilon", epsilon, 0.0, 1.0)


def _batched_step(loss: Loss, params: Params, minibatches: tuple, inner_lr: float, epsilon) -> Params:
    adapted = vmap(inner_sgd, in_dims=(None, None, 0, None))(loss, params, minibatches, inner_lr)
    return reptile_update(params, adapted, epsilon)


def _serial_step(loss: Loss, params: Params, minibatches: tuple, inner_lr: float, epsilon) -> Params:
    n_tasks = minibatches[0].shape[0]
    each = [inner_sgd(loss, params, tuple(t[i] for t in minibatches), inner_lr) for i in range(n_tasks)]
    adapted = {name: torch.stack([w[name] for w in each]) for name in params}
    return reptile_update(params, adapted, epsilon)


def reptile_step(
    loss: Loss, params: Params, minibatches: tuple, *, inner_lr: float, epsilon: float
) -> Params:
    """One batched Reptile update: the n tasks' inner loops run at once under ``vmap``.

    ``minibatches``: a tuple of tensors of shape ``(n_tasks, k, ...)`` (e.g. inputs and targets
    of k minibatches per task).

    Args:
        loss: ``loss(params, *minibatch)`` of one minibatch of one task, a scalar.
        params: the current initialisation φ, a dict of tensors (not modified).
        minibatches: a non-empty tuple of tensors, each of shape ``(n_tasks, k, ...)``: the k
            minibatches of every task, taken in order by the inner SGD.
        inner_lr: α, the inner SGD step, a finite number ``> 0``.
        epsilon: ε, the outer step, in [0, 1] (1 moves φ to the mean of the adapted weights).

    Returns:
        The updated φ + ε (1/n) Σ_i (W_i − φ), a dict with the names and shapes of ``params``.

    Raises:
        TypeError: ``minibatches`` is not a non-empty tuple; ``inner_lr`` or ``epsilon`` not a number.
        ValueError: the tensors of ``minibatches`` do not share their first two sizes
            ``(n_tasks, k)`` or have fewer than two dimensions; ``inner_lr`` not positive and finite;
            ``epsilon`` outside [0, 1].

    References:
        Nichol, Achiam & Schulman (2018), Algorithm 2 (batched Reptile).
    """
    inner_lr, epsilon = _check_step(minibatches, inner_lr, epsilon)
    return _batched_step(loss, params, minibatches, inner_lr, epsilon)


def reptile_step_serial(
    loss: Loss, params: Params, minibatches: tuple, *, inner_lr: float, epsilon: float
) -> Params:
    """The same update as :func:`reptile_step`, with a Python loop over the tasks instead of
    ``vmap``: the reference that the batched step is tested against.

    Args:
        loss, params, minibatches, inner_lr, epsilon: as for :func:`reptile_step`.

    Returns:
        As :func:`reptile_step`: the updated φ, a dict with the names and shapes of ``params``.

    Raises:
        TypeError, ValueError: as :func:`reptile_step`.
    """
    inner_lr, epsilon = _check_step(minibatches, inner_lr, epsilon)
    return _serial_step(loss, params, minibatches, inner_lr, epsilon)


def linear_anneal(epsilon: float, iteration: int, iterations: int) -> float:
    """ε_t = ε (1 − t/T): the outer step falls linearly from ε at t = 0 toward 0 at t = T.

    Args:
        epsilon: ε, the outer step at t = 0 (not checked).
        iteration: t, the current iteration, ``0 <= t < T``.
        iterations: T, the number of iterations of the run.

    Returns:
        ε_t; the last iteration, t = T − 1, gets ε/T (0 is never reached).

    Raises:
        ValueError: ``iteration`` outside [0, ``iterations``).

    References:
        Nichol, Achiam & Schulman (2018): ε annealed linearly to 0, as in the paper's code.
    """
    if not 0 <= iteration < iterations:
        raise ValueError(f"iteration must lie in [0, {iterations}), got {iteration}")
    return epsilon * (1 - iteration / iterations)


def task_minibatches(
    batch: TaskBatch, k: int, size: int, generator: torch.Generator | int
) -> tuple[torch.Tensor, torch.Tensor]:
    """k minibatches of ``size`` points for each task of ``batch``, for Reptile's inner loop.

    Reptile needs no support/query split: each task's support and query points are pooled, and
    the minibatches are taken in order from fresh random permutations of the pool, one epoch
    after another (like SGD over epochs), so a minibatch never repeats a point unless the pool
    is exhausted. Returns inputs and targets of shape ``(n_tasks, k, size, ...)``.
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch must be a TaskBatch, got {type(batch).__name__}")
    k, size = _checks.positive_int("k", k), _checks.positive_int("size", size)
    gen = _checks.generator(generator)
    x = torch.cat([batch.x_support, batch.x_query], dim=1)
    y = torch.cat([batch.y_support, batch.y_query], dim=1)
    n, pool = x.shape[:2]
    if size > pool:
        raise ValueError(f"size={size} is larger than a task's {pool} points")
    epochs = -(-k * size // pool)
    keys = torch.rand(n, epochs, pool, generator=gen, device=gen.device)
    order = keys.argsort(dim=-1).reshape(n, epochs * pool)[:, : k * size].to(x.device)

    def take(t):
        index = order.reshape(n, k * size, *([1] * (t.dim() - 2))).expand(n, k * size, *t.shape[2:])
        return t.gather(1, index).reshape(n, k, size, *t.shape[2:])

    return take(x), take(y)


@dataclass
class ReptileResult:
    """What :func:`train_reptile` returns.

    Attributes:
        params: the trained initialisation φ.
        path: φ_0, ..., φ_T when ``keep_path`` was set, else empty.
        seconds: wall time of the training loop, compilation included.
        compile_seconds: time of the first iteration, which compiles the step when ``compile``.
        compiled: whether the step ran under ``torch.compile``.
    """

    params: Params
    path: list[Params]
    seconds: float
    compile_seconds: float
    compiled: bool


def train_reptile(
    loss: Loss,
    params: Params,
    sample: Callable[[torch.Generator], tuple],
    iterations: int,
    *,
    inner_lr: float,
    epsilon: float,
    generator: torch.Generator | int = 0,
    serial: bool = False,
    compile: bool = False,
    keep_path: bool = False,
    progress: bool = False,
) -> ReptileResult:
    """Meta-train an initialisation with Reptile, ε annealed linearly (:func:`linear_anneal`).

    Args:
        loss: ``loss(params, *minibatch)`` of one minibatch of one task, a scalar.
        params: the initial φ, a dict of tensors (not modified).
        sample: ``sample(generator)`` returns the minibatches of a fresh batch of tasks, a tuple
            of tensors of shape ``(n_tasks, k, ...)``.
        iterations: number of outer updates T.
        inner_lr: α of the inner SGD; epsilon: the outer step at the start, in [0, 1].
        generator: a ``torch.Generator`` or an int seed, passed to ``sample``.
        serial: loop over tasks instead of ``vmap`` (same numbers, slower).
        compile: run each update under ``torch.compile`` (falls back to eager mode, with a
            warning, if compilation fails); worth it for long runs.
        keep_path: also keep φ after every update (for small models).
        progress: show a progress bar.

    Returns:
        A :class:`ReptileResult`: the trained φ (and its path with ``keep_path``) and timings.

    Raises:
        FloatingPointError: φ stopped being finite; the message names the iteration.

    References:
        Nichol, Achiam & Schulman (2018), Algorithm 2 (batched); the outer step annealed linearly
        to 0, as in the paper's experiments.

    Example:
        >>> loss = lambda p, x, y: ((x * p["w"] - y) ** 2).mean()
        >>> def sample(gen):  # 5 tasks y = a x, 3 minibatches of 10 points each
        ...     a = torch.randn(5, 1, 1, generator=gen)
        ...     x = torch.randn(5, 3, 10, generator=gen)
        ...     return x, a * x
        >>> result = train_reptile(loss, {"w": torch.zeros(())}, sample, 100, inner_lr=0.1, epsilon=1.0)
    """
    iterations = _checks.positive_int("iterations", iterations)
    inner_lr = _checks.positive_float("inner_lr", inner_lr)
    epsilon = _checks.in_range("epsilon", epsilon, 0.0, 1.0)
    gen = _checks.generator(generator)
    eager = partial(_serial_step if serial else _batched_step, loss)
    step = Lazy(eager, dynamic=False) if compile else eager
    params = {name: p.detach().clone() for name, p in params.items()}
    some = next(iter(params.values()))
    path = [params] if keep_path else []
    compile_seconds = 0.0
    began = time.perf_counter()
    for t in progress_bar(range(iterations), show=progress, desc="Reptile", mininterval=1.0):
        batch = sample(gen)
        eps = torch.tensor(linear_anneal(epsilon, t, iterations), dtype=some.dtype, device=some.device)
        if t == 0:
            _check_step(batch, inner_lr, epsilon)
        params = step(params, batch, inner_lr, eps)
        if t == 0:
            compile_seconds = time.perf_counter() - began
        if not all(bool(torch.isfinite(p).all()) for p in params.values()):
            raise FloatingPointError(
                f"Reptile diverged at iteration {t}: the initialisation is not finite; "
                f"lower inner_lr (now {inner_lr}) or epsilon (now {epsilon})"
            )
        if keep_path:
            path.append(params)
    compiled = isinstance(step, Lazy) and step.compiled
    return ReptileResult(params, path, time.perf_counter() - began, compile_seconds, compiled)
