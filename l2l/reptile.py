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

from collections.abc import Callable

import torch
from torch.func import grad, vmap
from tqdm.auto import tqdm

from l2l import _checks

__all__ = [
    "inner_sgd",
    "reptile_update",
    "reptile_step",
    "reptile_step_serial",
    "linear_anneal",
    "train_reptile",
]

Params = dict[str, torch.Tensor]
Loss = Callable[..., torch.Tensor]


def inner_sgd(loss: Loss, params: Params, minibatches: tuple, lr: float) -> Params:
    """W = SGD(L, φ, k): one SGD step φ ← φ − α ∇L(φ; minibatch i) for each of the k minibatches.

    ``minibatches`` is a tuple of tensors whose first dimension runs over the k minibatches;
    minibatch i is ``tuple(t[i] for t in minibatches)``.
    """
    gradient = grad(loss)
    for i in range(minibatches[0].shape[0]):
        g = gradient(params, *(t[i] for t in minibatches))
        params = {name: p - lr * g[name] for name, p in params.items()}
    return params


def reptile_update(params: Params, adapted: Params, epsilon: float) -> Params:
    """φ + ε (1/n) Σ_i (W_i − φ), where each tensor of ``adapted`` has the n tasks in front."""
    return {name: p + epsilon * (adapted[name] - p).mean(0) for name, p in params.items()}


def _check_step(minibatches, lr, epsilon) -> tuple[float, float]:
    if not isinstance(minibatches, tuple) or not minibatches:
        raise TypeError("minibatches must be a non-empty tuple of tensors (n_tasks, k, ...)")
    shapes = {tuple(t.shape[:2]) for t in minibatches}
    if len(shapes) != 1 or any(t.dim() < 2 for t in minibatches):
        raise ValueError(f"every tensor of minibatches must start with (n_tasks, k); got {shapes}")
    return _checks.positive_float("inner_lr", lr), _checks.in_range("epsilon", epsilon, 0.0, 1.0)


def reptile_step(
    loss: Loss, params: Params, minibatches: tuple, *, inner_lr: float, epsilon: float
) -> Params:
    """One batched Reptile update: the n tasks' inner loops run at once under ``vmap``.

    ``minibatches``: a tuple of tensors of shape ``(n_tasks, k, ...)`` (e.g. inputs and targets
    of k minibatches per task).
    """
    inner_lr, epsilon = _check_step(minibatches, inner_lr, epsilon)
    adapted = vmap(inner_sgd, in_dims=(None, None, 0, None))(loss, params, minibatches, inner_lr)
    return reptile_update(params, adapted, epsilon)


def reptile_step_serial(
    loss: Loss, params: Params, minibatches: tuple, *, inner_lr: float, epsilon: float
) -> Params:
    """The same update as :func:`reptile_step`, with a Python loop over the tasks."""
    inner_lr, epsilon = _check_step(minibatches, inner_lr, epsilon)
    n_tasks = minibatches[0].shape[0]
    each = [
        inner_sgd(loss, params, tuple(t[i] for t in minibatches), inner_lr) for i in range(n_tasks)
    ]
    adapted = {name: torch.stack([w[name] for w in each]) for name in params}
    return reptile_update(params, adapted, epsilon)


def linear_anneal(epsilon: float, iteration: int, iterations: int) -> float:
    """ε_t = ε (1 − t/T): the outer step falls linearly from ε at t = 0 toward 0 at t = T."""
    if not 0 <= iteration < iterations:
        raise ValueError(f"iteration must lie in [0, {iterations}), got {iteration}")
    return epsilon * (1 - iteration / iterations)


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
    keep_path: bool = False,
    progress: bool = False,
) -> tuple[Params, list[Params]]:
    """Meta-train an initialisation with Reptile, ε annealed linearly (:func:`linear_anneal`).

    Arguments:
        loss: ``loss(params, *minibatch)`` of one minibatch of one task, a scalar.
        params: the initial φ, a dict of tensors (not modified).
        sample: ``sample(generator)`` returns the minibatches of a fresh batch of tasks, a tuple
            of tensors of shape ``(n_tasks, k, ...)``.
        iterations: number of outer updates T.
        inner_lr: α of the inner SGD; epsilon: the outer step at the start, in [0, 1].
        generator: a ``torch.Generator`` or an int seed, passed to ``sample``.
        serial: loop over tasks instead of ``vmap`` (same numbers, slower).
        keep_path: also return φ after every update (for small models).
        progress: show a progress bar.

    Returns ``(φ, path)``: the trained initialisation and, with ``keep_path``, the list of
    iterates φ_0, ..., φ_T (else an empty list). Raises ``FloatingPointError`` naming the
    iteration if φ stops being finite.
    """
    iterations = _checks.positive_int("iterations", iterations)
    gen = _checks.generator(generator)
    step = reptile_step_serial if serial else reptile_step
    params = {name: p.detach().clone() for name, p in params.items()}
    path = [params] if keep_path else []
    for t in tqdm(range(iterations), desc="Reptile", disable=not progress):
        eps = linear_anneal(epsilon, t, iterations)
        params = step(loss, params, sample(gen), inner_lr=inner_lr, epsilon=eps)
        if not all(bool(torch.isfinite(p).all()) for p in params.values()):
            raise FloatingPointError(
                f"Reptile diverged at iteration {t}: the initialisation is not finite; "
                f"lower inner_lr (now {inner_lr}) or epsilon (now {epsilon})"
            )
        if keep_path:
            path.append(params)
    return params, path
