"""MAML and first-order MAML (Finn, Abbeel & Levine, 2017), batched over tasks with ``torch.func``.

Algorithm 1 of the paper: for a batch of tasks T_i, adapt the shared initialisation θ on each
task's support set with a few SGD steps of size α,

    θ'_i = θ − α ∇_θ L_{T_i}^{support}(θ)        (one step; k steps repeat it),

and move θ to lower the loss of the adapted parameters on fresh (query) points of the same tasks,

    θ ← θ − β ∇_θ Σ_i L_{T_i}^{query}(θ'_i).

The meta-gradient goes through the inner step, so it holds second derivatives; first-order MAML
(FOMAML) treats the inner gradient as a constant and drops them.

Everything here works for any ``nn.Module``: parameters are dicts of tensors (name → tensor, as
for ``torch.func.functional_call``), gradients come from ``torch.func.grad``, and the tasks of a
batch are adapted at once with ``torch.func.vmap`` — there is no Python loop over tasks.
:func:`train_maml` compiles the whole meta-iteration (meta-gradient and Adam update) with
``torch.compile`` and can train several models (e.g. different α, MAML and FOMAML) in the same
step, on the same task batches.

Building blocks (also used by the Reptile chapter):

* :func:`adapt` / :func:`adapt_tasks` — the functional inner loop, for one task or a batch.
* :func:`adaptation_losses` / :func:`evaluate_adaptation` — query loss after 0..N SGD steps from
  a given initialisation on new tasks, with the mean, a 95% interval, the median and the count of
  diverged tasks (:class:`AdaptationCurve`).
* :func:`maml_loss` / :func:`maml_gradient` — the meta-objective of a task batch and its gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, grad_and_value, vmap

from l2l import _checks
from l2l.tasks import TaskBatch

__all__ = [
    "mse",
    "parameters_of",
    "task_loss",
    "adapt",
    "adapt_tasks",
    "adaptation_losses",
    "AdaptationCurve",
    "summarize_adaptation",
    "evaluate_adaptation",
    "tune_step_size",
    "maml_loss",
    "maml_gradient",
]

Params = dict[str, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all points of one task (the loss of the MAML paper's regression)."""
    return ((prediction - target) ** 2).mean()


def parameters_of(model: nn.Module) -> Params:
    """The module's parameters as a dict of detached tensors (a starting point for the functions
    here; the module itself is never modified)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _check_params(model: nn.Module, params) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(params, dict) or not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise TypeError(
            "params must be a dict of tensors (name -> tensor), e.g. l2l.maml.parameters_of(model)"
        )
    expected = {name for name, _ in model.named_parameters()}
    if set(params) != expected:
        raise ValueError(
            f"params must have exactly the model's parameter names {sorted(expected)}, got {sorted(params)}"
        )


def _nonneg_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number >= 0, got {value!r} ({type(value).__name__})")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def _nonneg_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer >= 0, got {value!r} ({type(value).__name__})")
    if value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value}")
    return value


def task_loss(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
              loss_fn: LossFn = mse) -> torch.Tensor:
    """``loss_fn(model(x; params), y)``: the loss of one task's points under ``params``."""
    return loss_fn(functional_call(model, params, (x,)), y)


def _sgd_step(model, params, x, y, lr, loss_fn, first_order) -> Params:
    g = grad(task_loss, argnums=1)(model, params, x, y, loss_fn)
    if first_order:
        g = {name: gi.detach() for name, gi in g.items()}
    return {name: p - lr * g[name] for name, p in params.items()}


def adapt(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, *, lr: float,
          steps: int = 1, loss_fn: LossFn = mse, first_order: bool = False) -> Params:
    """The inner loop for one task: ``steps`` SGD steps of size ``lr`` on the points ``(x, y)``.

    Functional: returns new parameters and leaves ``params`` alone. Differentiable with
    ``torch.func.grad`` (or autograd) through every step, second derivatives included; with
    ``first_order=True`` each inner gradient is treated as a constant (FOMAML).

    Arguments:
        model: any ``nn.Module``; only its structure is used (``functional_call``).
        params: initial parameters, a dict name → tensor with the model's parameter names.
        x, y: the task's support inputs and targets, e.g. of shape ``(K, 1)``.
        lr: the inner step size α (``>= 0``); steps: number of SGD steps (``>= 0``).
        loss_fn: ``loss_fn(prediction, target)`` → scalar; mean squared error by default.
    """
    _check_params(model, params)
    lr = _nonneg_float("lr", lr)
    steps = _nonneg_int("steps", steps)
    for _ in range(steps):
        params = _sgd_step(model, params, x, y, lr, loss_fn, first_order)
    return params


def adapt_tasks(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, *, lr: float,
                steps: int = 1, loss_fn: LossFn = mse, first_order: bool = False) -> Params:
    """:func:`adapt` for a batch of tasks at once (``vmap``): ``x``, ``y`` of shape
    ``(n_tasks, K, ...)``; returns parameters with the tasks in front, ``(n_tasks, *shape)``."""
    _check_params(model, params)
    lr = _nonneg_float("lr", lr)
    steps = _nonneg_int("steps", steps)

    def one(x_i, y_i):
        p = params
        for _ in range(steps):
            p = _sgd_step(model, p, x_i, y_i, lr, loss_fn, first_order)
        return p

    return vmap(one)(x, y)


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
    lr = _nonneg_float("lr", lr)
    steps = _nonneg_int("steps", steps)
    params = {name: p.detach() for name, p in params.items()}

    def curve(xs, ys, xq, yq):
        p, out = params, []
        for step in range(steps + 1):
            out.append(task_loss(model, p, xq, yq, loss_fn))
            if step < steps:
                p = _sgd_step(model, p, xs, ys, lr, loss_fn, True)
        return torch.stack(out)

    with torch.no_grad():
        losses = vmap(curve)(batch.x_support, batch.y_support, batch.x_query, batch.y_query).T
    return torch.nan_to_num(losses, nan=math.inf)


@dataclass(frozen=True)
class AdaptationCurve:
    """Query losses after 0..N adaptation steps on new tasks, and their summary per step.

    Attributes:
        losses: ``(steps + 1, n_tasks)`` query loss of each task after each number of steps.
        mean, ci95, median: per step; ``mean ± ci95`` is the normal 95% interval of the mean
            (1.96 standard errors). A few diverged tasks dominate the mean (``inf`` once a
            loss overflows, and then ``ci95`` is ``inf`` too); the median stays informative.
        diverged: per step, how many tasks diverged (loss not finite, or above
            ``divergence_factor`` × their loss before adaptation).
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


def summarize_adaptation(losses: torch.Tensor, lr: float = math.nan,
                         divergence_factor: float = 10.0) -> AdaptationCurve:
    """Mean, 95% interval, median and count of diverged tasks per step, from a
    ``(steps + 1, n_tasks)`` tensor of losses (as :func:`adaptation_losses` returns)."""
    _checks.tensor_shape("losses", losses, (None, None))
    losses = losses.detach().to(torch.float64).cpu()
    n = losses.shape[1]
    finite = torch.isfinite(losses).all(dim=1)
    mean = torch.where(finite, losses.mean(dim=1), torch.tensor(math.inf, dtype=losses.dtype))
    std = losses.std(dim=1) if n > 1 else torch.zeros(losses.shape[0], dtype=losses.dtype)
    ci95 = torch.where(finite, 1.96 * std / math.sqrt(n), torch.tensor(math.inf, dtype=losses.dtype))
    median = losses.median(dim=1).values
    diverged = (~torch.isfinite(losses) | (losses > divergence_factor * losses[:1])).sum(dim=1)
    return AdaptationCurve(losses, mean, ci95, median, diverged, float(lr))


def evaluate_adaptation(model: nn.Module, params: Params, tasks, *, lr: float, steps: int = 10,
                        n_tasks: int = 600, k_support: int = 10, k_query: int = 100,
                        generator: torch.Generator | int = 0, device="cpu",
                        query_x: torch.Tensor | None = None, loss_fn: LossFn = mse,
                        divergence_factor: float = 10.0) -> AdaptationCurve:
    """Adapt from ``params`` on ``n_tasks`` new tasks and summarise the query loss per step.

    Draws the tasks from ``tasks`` (e.g. :class:`~l2l.tasks.SineTasks`) with ``k_support`` support
    points and ``k_query`` fresh query points each (or the fixed inputs ``query_x``, e.g. a grid),
    runs ``steps`` SGD steps of size ``lr`` (:func:`adaptation_losses`) and returns an
    :class:`AdaptationCurve`. The same ``generator`` seed gives the same tasks to every
    initialisation, so curves of different methods are paired.
    """
    batch = tasks.sample(n_tasks, k_support, k_query, generator=generator, device=device,
                         query_x=query_x)
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
    batch = tasks.sample(n_tasks, k_support, k_query, generator=generator, device=device)
    scores = {}
    for lr in candidates:
        final = adaptation_losses(model, params, batch, lr=lr, steps=steps, loss_fn=loss_fn)[-1]
        scores[float(lr)] = float(final.mean())
    best = min(scores, key=lambda lr: scores[lr] if math.isfinite(scores[lr]) else math.inf)
    return best, scores


def _inner(model, params, xs, ys, lr, steps, loss_fn, first_order, fo_weight=None):
    """Adapted parameters of one task; ``fo_weight`` (a 0-d tensor, 1 for FOMAML, 0 for MAML)
    lets runs of both kinds share one batched computation."""
    for _ in range(steps):
        g = grad(task_loss, argnums=1)(model, params, xs, ys, loss_fn)
        if first_order:
            g = {n: gi.detach() for n, gi in g.items()}
        elif fo_weight is not None:
            g = {n: gi - fo_weight * (gi - gi.detach()) for n, gi in g.items()}
        params = {n: p - lr * g[n] for n, p in params.items()}
    return params


def maml_loss(model: nn.Module, params: Params, batch: TaskBatch, *, inner_lr: float,
              inner_steps: int = 1, first_order: bool = False, loss_fn: LossFn = mse) -> torch.Tensor:
    """The meta-objective of Algorithm 1: the mean over the batch's tasks of the query loss after
    ``inner_steps`` SGD steps of size ``inner_lr`` on each task's support set.

    Differentiate it with ``torch.func.grad`` (see :func:`maml_gradient`) or with autograd
    (``params`` requiring grad). ``first_order=True`` gives FOMAML's gradient.
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch must be a TaskBatch, got {type(batch).__name__}")
    _check_params(model, params)
    inner_lr = _nonneg_float("inner_lr", inner_lr)
    inner_steps = _nonneg_int("inner_steps", inner_steps)

    def one(xs, ys, xq, yq):
        fast = _inner(model, params, xs, ys, inner_lr, inner_steps, loss_fn, first_order)
        return task_loss(model, fast, xq, yq, loss_fn)

    return vmap(one)(batch.x_support, batch.y_support, batch.x_query, batch.y_query).mean()


def maml_gradient(model: nn.Module, params: Params, batch: TaskBatch, *, inner_lr: float,
                  inner_steps: int = 1, first_order: bool = False,
                  loss_fn: LossFn = mse) -> tuple[Params, torch.Tensor]:
    """``(meta-gradient, meta-loss)`` of :func:`maml_loss` at ``params`` (``torch.func.grad``)."""
    params = {name: p.detach() for name, p in params.items()}
    return grad_and_value(
        lambda p: maml_loss(model, p, batch, inner_lr=inner_lr, inner_steps=inner_steps,
                            first_order=first_order, loss_fn=loss_fn)
    )(params)
