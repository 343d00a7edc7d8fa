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

    Args:
        model: any ``nn.Module``; only its structure is used (``functional_call``).
        params: the initialisation, a dict name → tensor with the model's parameter names
            (detached: no gradient flows back).
        batch: a :class:`~l2l.tasks.regression.TaskBatch`; each task adapts on its support set and
            is scored on its query set.
        lr: the fine-tuning step size (``>= 0``); steps: number of SGD steps (``>= 0``).
        loss_fn: ``loss_fn(prediction, target)`` → scalar of one task; mean squared error by default.

    Returns:
        A tensor ``(steps + 1, n_tasks)``: row ``s`` is each task's query loss after ``s`` steps.

    Raises:
        TypeError: ``batch`` is not a ``TaskBatch``; ``model``, ``params``, ``lr`` or ``steps`` of
            the wrong type.
        ValueError: ``params`` whose names differ from the model's; ``lr`` negative or not finite;
            ``steps`` negative.
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
            loss overflows, and then ``ci95`` is ``inf`` too); the median stays informative. The
            median is ``torch.median``'s: for an even number of tasks, the lower of the two middle
            losses, not their mean.
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
    single value).

    Args:
        values: a tensor ``(..., n)`` with ``n >= 1`` values along its last axis.

    Returns:
        ``(mean, half_width)``, two tensors of shape ``values.shape[:-1]``; ``s`` is the sample
        standard deviation (Bessel-corrected, ``Tensor.std``).
    """
    n = values.shape[-1]
    std = values.std(-1) if n > 1 else torch.zeros_like(values[..., 0])
    return values.mean(-1), 1.96 * std / math.sqrt(n)


def summarize_adaptation(losses: torch.Tensor, lr: float = math.nan,
                         divergence_factor: float = 10.0) -> AdaptationCurve:
    """Mean, 95% interval, median and count of diverged tasks per step, from a
    ``(steps + 1, n_tasks)`` tensor of losses (as :func:`adaptation_losses` returns).

    Args:
        losses: ``(steps + 1, n_tasks)`` query losses; row 0 is the loss before adaptation.
        lr: the step size the losses were measured with, recorded in the result (not used in the
            summary); ``nan`` (default) when unknown.
        divergence_factor: a task counts as diverged at a step where its loss is not finite or
            exceeds this multiple of the mean finite loss of row 0 (default 10).

    Returns:
        An :class:`AdaptationCurve` (statistics in float64, on the CPU).

    Raises:
        TypeError: ``losses`` is not a tensor.
        ValueError: ``losses`` is not two-dimensional.
    """
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
                        generator: torch.Generator | int = 0, device=None,
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

    Args:
        model: any ``nn.Module``; only its structure is used (``functional_call``).
        params: the initialisation to evaluate, a dict name → tensor with the model's parameter
            names; its first tensor's dtype is the dtype of the tasks.
        tasks: a task distribution with ``sample(n, k_support, k_query, generator=, device=, dtype=,
            query_x=)`` (the tasks of :mod:`l2l.tasks.regression`).
        lr: the fine-tuning step size (``>= 0``); steps: number of SGD steps (``>= 0``).
        n_tasks: how many new tasks; k_support, k_query: support and query points per task.
        generator: seed or ``torch.Generator`` for the tasks.
        device: where the tasks are drawn and the adaptation runs (``None``: the parameters').
        query_x: fixed query inputs instead of ``k_query`` random ones (see the distribution's
            ``sample``); ``None`` draws them.
        loss_fn: ``loss_fn(prediction, target)`` → scalar of one task; mean squared error by default.
        divergence_factor: passed to :func:`summarize_adaptation`.

    Returns:
        An :class:`AdaptationCurve` of the ``n_tasks`` tasks after 0..``steps`` steps.

    Raises:
        TypeError, ValueError: ``model`` or ``params`` as in :func:`adaptation_losses`, a bad ``lr``
            or ``steps``, or the counts, seed or ``query_x`` that ``tasks.sample`` rejects.

    Example:
        >>> curve = evaluate_adaptation(net, result.params[0], l2l.SineTasks(), lr=0.01, steps=10)
        >>> curve.at(1)                      # {"mean": ..., "ci95": ..., "median": ..., "diverged": ...}
    """
    _check_params(model, params)
    first = next(iter(params.values()))
    batch = tasks.sample(n_tasks, k_support, k_query, generator=generator, device=device or first.device,
                         dtype=first.dtype, query_x=query_x)
    losses = adaptation_losses(model, params, batch, lr=lr, steps=steps, loss_fn=loss_fn)
    return summarize_adaptation(losses, lr, divergence_factor)


def tune_step_size(model: nn.Module, params: Params, tasks, candidates: Sequence[float], *,
                   steps: int = 10, n_tasks: int = 100, k_support: int = 10, k_query: int = 100,
                   generator: torch.Generator | int = 1, device=None,
                   loss_fn: LossFn = mse) -> tuple[float, dict[float, float]]:
    """The fine-tuning step size, among ``candidates``, with the lowest mean query loss after
    ``steps`` steps on held-out tasks (use a seed other than the test tasks').

    Returns ``(best, scores)`` with ``scores[lr]`` the mean loss for each candidate.

    Args:
        model: any ``nn.Module``; only its structure is used (``functional_call``).
        params: the initialisation, a dict name → tensor with the model's parameter names; its
            first tensor's dtype is the dtype of the tasks.
        tasks: a task distribution with ``sample(n, k_support, k_query, generator=, device=,
            dtype=)`` (the tasks of :mod:`l2l.tasks.regression`).
        candidates: the step sizes to try, each ``>= 0``; all are scored on the same tasks.
        steps: SGD steps after which the query loss is compared.
        n_tasks: how many held-out tasks; k_support, k_query: support and query points per task.
        generator: seed or ``torch.Generator`` for the tasks (default 1, not the 0 of
            :func:`evaluate_adaptation`).
        device: where the tasks are drawn and the adaptation runs (``None``: the parameters').
        loss_fn: ``loss_fn(prediction, target)`` → scalar of one task; mean squared error by default.

    Returns:
        ``(best, scores)``: the chosen step size (a float) and ``{float(lr): mean final query loss}``
        (``inf`` where some task diverged); if every candidate scores ``inf``, ``best`` is the first.

    Raises:
        ValueError: ``candidates`` is empty.
        TypeError, ValueError: ``model`` or ``params`` as in :func:`adaptation_losses`, a candidate
            or ``steps`` that it rejects, or arguments that ``tasks.sample`` rejects.
    """
    if not candidates:
        raise ValueError("candidates must hold at least one step size")
    _check_params(model, params)
    first = next(iter(params.values()))
    batch = tasks.sample(n_tasks, k_support, k_query, generator=generator, device=device or first.device,
                         dtype=first.dtype)
    scores = {}
    for lr in candidates:
        final = adaptation_losses(model, params, batch, lr=lr, steps=steps, loss_fn=loss_fn)[-1]
        scores[float(lr)] = float(final.mean())
    best = min(scores, key=lambda lr: scores[lr] if math.isfinite(scores[lr]) else math.inf)
    return best, scores
