"""How well an initialisation adapts: query losses after 0..N SGD steps on new tasks, their
summary (:class:`AdaptationCurve`), and the choice of the fine-tuning step size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import vmap

from l2l import _checks
from l2l.inner_sgd import sgd_path
from l2l.maml.core import LossFn, Params, _check_params, mse, task_loss
from l2l.tasks.regression import TaskBatch


def adaptation_losses(model: nn.Module, params: Params, batch: TaskBatch, *, lr: float,
                      steps: int = 10, loss_fn: LossFn = mse) -> torch.Tensor:
    """Query loss of every task after 0, 1, ..., ``steps`` SGD steps of size ``lr`` on its support.

    Starts from ``params`` (any initialisation: MAML's, Reptile's, a pretrained network's) and
    adapts all tasks of ``batch`` at once. Returns a tensor of shape ``(steps + 1, n_tasks)``;
    a task whose loss stops being finite (it diverged) reads ``inf``.
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch must be a TaskBatch, got {type(batch).__name__}")
    _check_params(model, params)
    lr = _checks.nonneg_float("lr", lr)
    steps = _checks.nonneg_int("steps", steps)
    params = {name: p.detach() for name, p in params.items()}

    def curve(xs, ys, xq, yq):
        def query(p):
            return task_loss(model, p, xq, yq, loss_fn)

        def support(p, x, y):
            return task_loss(model, p, x, y, loss_fn)

        path = sgd_path(support, params, [(xs, ys)] * steps, lr, first_order=True)
        return torch.stack([query(params), *(query(p) for p, _ in path)])

    with torch.no_grad():
        losses = vmap(curve)(batch.x_support, batch.y_support, batch.x_query, batch.y_query).T
    return torch.nan_to_num(losses, nan=math.inf, posinf=math.inf)  # inf stays inf, not the largest float


@dataclass(frozen=True)
class AdaptationCurve:
    """Query losses after 0..N adaptation steps on new tasks, and their summary per step.

    Attributes:
        losses: ``(steps + 1, n_tasks)`` query loss of each task after each number of steps.
        mean, ci95, median: per step; ``mean ± ci95`` is the normal 95% interval of the mean
            (1.96 standard errors). A few diverged tasks dominate the mean (``inf`` once a
            loss overflows, and then ``ci95`` is ``inf`` too); the median stays informative.
        diverged: per step, how many tasks diverged: loss not finite, or above
            ``divergence_factor`` × the mean loss before adaptation (a scale no task reaches
            while it converges; relative to the mean, so that a task whose own starting loss is
            tiny is not counted for a harmless rise).
        lr: the step size used.
    """

    losses: torch.Tensor
    mean: torch.Tensor
    ci95: torch.Tensor
    median: torch.Tensor
    diverged: torch.Tensor
    lr: float

    @property
    def steps(self) -> int:
        return self.losses.shape[0] - 1

    def at(self, step: int) -> dict[str, float]:
        """The summary after ``step`` steps as plain numbers (for tables and records)."""
        return {
            "mean": float(self.mean[step]),
            "ci95": float(self.ci95[step]),
            "median": float(self.median[step]),
            "diverged": int(self.diverged[step]),
        }


def mean_ci95(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over the last axis and the half-width of its normal 95 % interval, 1.96 s/√n (0 for a
    single value)."""
    n = values.shape[-1]
    std = values.std(-1) if n > 1 else torch.zeros_like(values[..., 0])
    return values.mean(-1), 1.96 * std / math.sqrt(n)


def summarize_adaptation(losses: torch.Tensor, lr: float = math.nan,
                         divergence_factor: float = 10.0) -> AdaptationCurve:
    """Mean, 95% interval, median and count of diverged tasks per step, from a
    ``(steps + 1, n_tasks)`` tensor of losses (as :func:`adaptation_losses` returns)."""
    _checks.tensor_shape("losses", losses, (None, None))
    losses = losses.detach().to(torch.float64).cpu()
    finite = torch.isfinite(losses).all(dim=1)
    mean, half = mean_ci95(losses)
    mean = torch.where(finite, mean, torch.tensor(math.inf, dtype=losses.dtype))
    ci95 = torch.where(finite, half, torch.tensor(math.inf, dtype=losses.dtype))
    median = losses.median(dim=1).values
    threshold = divergence_factor * losses[0][torch.isfinite(losses[0])].mean()
    diverged = (~torch.isfinite(losses) | (losses > threshold)).sum(dim=1)
    return AdaptationCurve(losses, mean, ci95, median, diverged, float(lr))


def evaluate_adaptation(model: nn.Module, params: Params, tasks, *, lr: float, steps: int = 10,
                        n_tasks: int = 600, k_support: int = 10, k_query: int = 100,
                        generator: torch.Generator | int = 0, device="cpu",
                        query_x: torch.Tensor | None = None, loss_fn: LossFn = mse,
                        divergence_factor: float = 10.0) -> AdaptationCurve:
    """Adapt from ``params`` on ``n_tasks`` new tasks and summarise the query loss per step.

    Draws the tasks from ``tasks`` (e.g. :class:`~l2l.tasks.regression.SineTasks`) with ``k_support`` support
    points and ``k_query`` fresh query points each (or the fixed inputs ``query_x``, e.g. a grid)
    in the dtype of ``params``,
    runs ``steps`` SGD steps of size ``lr`` (:func:`adaptation_losses`) and returns an
    :class:`AdaptationCurve`. The same ``generator`` seed gives the same tasks to every
    initialisation of the same dtype, so curves of different methods are paired (a float32 and
    a float64 initialisation draw different tasks from one seed).

    Example:
        >>> curve = evaluate_adaptation(net, result.params[0], l2l.SineTasks(), lr=0.01, steps=10)
        >>> curve.at(1)                      # {"mean": ..., "ci95": ..., "median": ..., "diverged": ...}
    """
    _check_params(model, params)
    dtype = next(iter(params.values())).dtype
    batch = tasks.sample(n_tasks, k_support, k_query, generator=generator, device=device,
                         dtype=dtype, query_x=query_x)
    losses = adaptation_losses(model, params, batch, lr=lr, steps=steps, loss_fn=loss_fn)
    return summarize_adaptation(losses, lr, divergence_factor)


def tune_step_size(model: nn.Module, params: Params, tasks, candidates: Sequence[float], *,
                   steps: int = 10, n_tasks: int = 100, k_support: int = 10, k_query: int = 100,
                   generator: torch.Generator | int = 1, device="cpu",
                   loss_fn: LossFn = mse) -> tuple[float, dict[float, float]]:
    """The fine-tuning step size, among ``candidates``, with the lowest mean query loss after
    ``steps`` steps on held-out tasks (use a seed other than the test tasks').

    Returns ``(best, scores)`` with ``scores[lr]`` the mean loss for each candidate.
    """
    if not candidates:
        raise ValueError("candidates must hold at least one step size")
    _check_params(model, params)
    dtype = next(iter(params.values())).dtype
    batch = tasks.sample(n_tasks, k_support, k_query, generator=generator, device=device, dtype=dtype)
    scores = {}
    for lr in candidates:
        final = adaptation_losses(model, params, batch, lr=lr, steps=steps, loss_fn=loss_fn)[-1]
        scores[float(lr)] = float(final.mean())
    best = min(scores, key=lambda lr: scores[lr] if math.isfinite(scores[lr]) else math.inf)
    return best, scores
