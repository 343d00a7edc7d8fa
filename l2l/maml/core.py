"""MAML's functional inner loop and meta-objective (Finn, Abbeel & Levine 2017, Algorithm 1).

Parameters are dicts of tensors (name → tensor, as for ``torch.func.functional_call``); one task
is adapted by SGD on its support set,

    θ'_i = θ − α ∇_θ L_{T_i}^{support}(θ)        (one step; k steps repeat it),

and :func:`maml_loss` is the mean query loss of the adapted parameters over a batch of tasks,
whose gradient (:func:`maml_gradient`) goes through the inner steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from l2l import _checks
from l2l.inner_sgd import sgd
from l2l.tasks.regression import TaskBatch

Params = dict[str, torch.Tensor]


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all points of one task (the loss of the MAML paper's regression)."""
    return ((prediction - target) ** 2).mean()


def parameters_of(model: nn.Module) -> Params:
    """The module's parameters as a dict of detached tensors (a starting point for the functions
    here; the module itself is never modified).

    Args:
        model: any ``nn.Module``.

    Returns:
        A dict name → tensor in ``named_parameters`` order: detached clones of the parameters.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
    """
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


def task_loss(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
              loss_fn: LossFn = mse) -> torch.Tensor:
    """``loss_fn(model(x; params), y)``: the loss of one task's points under ``params``."""
    return loss_fn(functional_call(model, params, (x,)), y)


def _inner(model, params, x, y, lr, steps, loss_fn, first_order) -> Params:
    """``steps`` SGD steps on one task's points (:func:`l2l.inner_sgd.sgd`): the adapted parameters."""
    return sgd(lambda p, x_i, y_i: task_loss(model, p, x_i, y_i, loss_fn), params, [(x, y)] * steps, lr,
               first_order=first_order)


def adapt(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, *, lr: float,
          steps: int = 1, loss_fn: LossFn = mse, first_order: bool = False) -> Params:
    """The inner loop for one task: ``steps`` SGD steps of size ``lr`` on the points ``(x, y)``.

    Functional: returns new parameters and leaves ``params`` alone. Differentiable with
    ``torch.func.grad`` (or autograd) through every step, second derivatives included; with
    ``first_order=True`` each inner gradient is treated as a constant (FOMAML).

    Args:
        model: any ``nn.Module``; only its structure is used (``functional_call``).
        params: initial parameters, a dict name → tensor with the model's parameter names.
        x, y: the task's support inputs and targets, e.g. of shape ``(K, 1)``.
        lr: the inner step size α (``>= 0``); steps: number of SGD steps (``>= 0``).
        loss_fn: ``loss_fn(prediction, target)`` → scalar; mean squared error by default.
        first_order: treat each inner gradient as a constant (FOMAML); ``False`` (default)
            differentiates through it.

    Returns:
        The adapted parameters, a new dict with the names and shapes of ``params`` (with
        ``steps=0``, the same tensors).

    Raises:
        TypeError: ``model`` is not an ``nn.Module``, ``params`` is not a dict of tensors, or
            ``lr``/``steps`` is not a number/an integer.
        ValueError: ``params`` lacks or adds parameter names of ``model``; ``lr`` is negative or not
            finite; ``steps`` is negative.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 40), torch.nn.ReLU(), torch.nn.Linear(40, 1))
        >>> task = l2l.SineTasks().sample(1, 10, generator=0)
        >>> fast = adapt(net, parameters_of(net), task.x_support[0], task.y_support[0], lr=0.01, steps=5)
    """
    _check_params(model, params)
    lr = _checks.nonneg_float("lr", lr)
    steps = _checks.nonneg_int("steps", steps)
    return _inner(model, params, x, y, lr, steps, loss_fn, first_order)


def adapt_tasks(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, *, lr: float,
                steps: int = 1, loss_fn: LossFn = mse, first_order: bool = False) -> Params:
    """:func:`adapt` for a batch of tasks at once (``vmap``): ``x``, ``y`` of shape
    ``(n_tasks, K, ...)``; returns parameters with the tasks in front, ``(n_tasks, *shape)``.

    Args:
        model: any ``nn.Module``; only its structure is used (``functional_call``).
        params: the initial parameters shared by all tasks, a dict name → tensor with the model's
            parameter names.
        x, y: the tasks' support inputs and targets, ``(n_tasks, K, ...)``.
        lr: the inner step size α (``>= 0``); steps: number of SGD steps (``>= 0``).
        loss_fn: ``loss_fn(prediction, target)`` → scalar of one task; mean squared error by default.
        first_order: treat each inner gradient as a constant (FOMAML).

    Returns:
        A dict with the names of ``params``, each tensor of shape ``(n_tasks, *shape)``: one
        adapted parameter set per task.

    Raises:
        TypeError, ValueError: as :func:`adapt` (``model``, ``params``, ``lr``, ``steps``).
    """
    _check_params(model, params)
    lr = _checks.nonneg_float("lr", lr)
    steps = _checks.nonneg_int("steps", steps)

    return vmap(lambda x_i, y_i: _inner(model, params, x_i, y_i, lr, steps, loss_fn, first_order))(x, y)


def maml_loss(model: nn.Module, params: Params, batch: TaskBatch, *, inner_lr: float | torch.Tensor,
              inner_steps: int = 1, first_order: bool = False, loss_fn: LossFn = mse) -> torch.Tensor:
    """The meta-objective of Algorithm 1: the mean over the batch's tasks of the query loss after
    ``inner_steps`` SGD steps of size ``inner_lr`` on each task's support set,

        L(θ) = (1/n) Σ_i L_{T_i}^{query}(θ − α ∇_θ L_{T_i}^{support}(θ))      (one step).

    Differentiate it with ``torch.func.grad`` (see :func:`maml_gradient`) or with autograd
    (``params`` requiring grad). ``first_order=True`` gives FOMAML's gradient. This is the
    function :func:`~l2l.maml.training.train_maml` minimises; there ``inner_lr`` is a tensor, one
    α per run trained side by side.

    Args:
        model: any ``nn.Module``; only its structure is used (``functional_call``).
        params: the initialisation θ, a dict name → tensor with the model's parameter names.
        batch: a :class:`~l2l.tasks.regression.TaskBatch`; each task adapts on its support set and
            is scored on its query set.
        inner_lr: the inner step size α, a number ``>= 0``, or a tensor (not checked).
        inner_steps: SGD steps per task (``>= 0``).
        first_order: treat each inner gradient as a constant (FOMAML).
        loss_fn: ``loss_fn(prediction, target)`` → scalar of one task; mean squared error by default.

    Returns:
        The mean over tasks of the query loss after adaptation, a scalar tensor.

    Raises:
        TypeError: ``batch`` is not a ``TaskBatch``; ``model``, ``params``, ``inner_lr`` or
            ``inner_steps`` of the wrong type (as in :func:`adapt`).
        ValueError: ``params`` whose names differ from the model's; a number ``inner_lr`` that is
            negative or not finite; a negative ``inner_steps``.

    References:
        Finn, Abbeel & Levine (2017), Algorithm 1 (the objective of its meta-update).

    Example:
        >>> batch = l2l.SineTasks().sample(25, 10, generator=0)
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 40), torch.nn.ReLU(), torch.nn.Linear(40, 1))
        >>> loss = maml_loss(net, parameters_of(net), batch, inner_lr=0.01)
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch must be a TaskBatch, got {type(batch).__name__}")
    _check_params(model, params)
    if not isinstance(inner_lr, torch.Tensor):
        inner_lr = _checks.nonneg_float("inner_lr", inner_lr)
    inner_steps = _checks.nonneg_int("inner_steps", inner_steps)

    def one(xs, ys, xq, yq):
        fast = _inner(model, params, xs, ys, inner_lr, inner_steps, loss_fn, first_order)
        return task_loss(model, fast, xq, yq, loss_fn)

    return vmap(one)(batch.x_support, batch.y_support, batch.x_query, batch.y_query).mean()


def maml_gradient(model: nn.Module, params: Params, batch: TaskBatch, *, inner_lr: float,
                  inner_steps: int = 1, first_order: bool = False,
                  loss_fn: LossFn = mse) -> tuple[Params, torch.Tensor]:
    """``(meta-gradient, meta-loss)`` of :func:`maml_loss` at ``params`` (``torch.func.grad``).

    Args:
        model, params, batch, inner_lr, inner_steps, first_order, loss_fn: as for :func:`maml_loss`
            (``params`` are detached first; the gradient is taken with respect to them).

    Returns:
        ``(gradient, loss)``: a dict with the names and shapes of ``params``, and the scalar
        meta-loss.

    Raises:
        TypeError, ValueError: as :func:`maml_loss`.

    References:
        Finn, Abbeel & Levine (2017), Algorithm 1 (the gradient of its meta-update).
    """
    _check_params(model, params)
    params = {name: p.detach() for name, p in params.items()}
    return grad_and_value(
        lambda p: maml_loss(model, p, batch, inner_lr=inner_lr, inner_steps=inner_steps,
                            first_order=first_order, loss_fn=loss_fn)
    )(params)
