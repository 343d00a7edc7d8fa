"""The curvature an initialisation meets on each task: the top eigenvalue of the support-loss
Hessian, which bounds the stable inner step size (α λ < 2).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import grad, vmap

from l2l import _checks
from l2l.maml.core import LossFn, Params, _check_params, mse, task_loss
from l2l.tasks.regression import TaskBatch


def sharpness(model: nn.Module, params: Params, batch: TaskBatch, *, iterations: int = 100,
              per_task: bool = False, loss_fn: LossFn = mse,
              generator: torch.Generator | int = 0) -> torch.Tensor:
    """The largest magnitude of an eigenvalue λ of each task's support-loss Hessian at ``params``.

    Gradient descent with step ``α`` on a quadratic diverges along any direction whose curvature
    ``λ`` has ``α λ > 2``; ``α ×`` :func:`sharpness` tells which tasks an initialisation can adapt
    to stably. The bound needs the largest positive eigenvalue: where a negative one dominates in
    magnitude (strong negative curvature), that magnitude overstates the positive curvature, and the number
    is an upper bound on it. Power iteration with Hessian-vector products (forward-over-reverse,
    ``torch.func``), all tasks at once. With ``per_task=True`` each task has its own parameters,
    with the tasks in front (as :func:`adapt_tasks` returns them), e.g. to follow the curvature
    along adaptation. Returns a tensor of shape ``(n_tasks,)``.

    Args:
        model: any ``nn.Module``; only its structure is used (``functional_call``).
        params: the parameters at which the Hessians are taken, a dict name → tensor with the
            model's parameter names; with ``per_task=True`` each tensor has ``n_tasks`` in front.
        batch: a :class:`~l2l.tasks.regression.TaskBatch`; only its support sets are used.
        iterations: power-iteration steps (``>= 1``; default 100).
        per_task: whether ``params`` holds one parameter set per task (default ``False``: shared).
        loss_fn: ``loss_fn(prediction, target)`` → scalar of one task; mean squared error by default.
        generator: seed or ``torch.Generator`` for the random start vectors.

    Returns:
        A tensor ``(n_tasks,)``: the estimate of the largest magnitude of λ for each task after
        ``iterations`` steps.

    Raises:
        TypeError: ``batch`` is not a ``TaskBatch``; ``model``, ``params``, ``iterations`` or
            ``generator`` of the wrong type.
        ValueError: ``params`` whose names differ from the model's; ``iterations < 1``; with
            ``per_task=True``, a tensor of ``params`` that does not start with the ``n_tasks`` tasks.
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch must be a TaskBatch, got {type(batch).__name__}")
    _check_params(model, params)
    iterations = _checks.positive_int("iterations", iterations)
    params = {name: p.detach() for name, p in params.items()}
    if per_task:
        for name, p in params.items():
            if p.dim() == 0 or p.shape[0] != len(batch):
                raise ValueError(f"with per_task=True, params[{name!r}] must start with the "
                                 f"{len(batch)} tasks, got shape {tuple(p.shape)}")
    gen = _checks.generator(generator)
    shapes = {name: p.shape[1:] if per_task else p.shape for name, p in params.items()}
    start = {name: torch.randn((len(batch), *shape), generator=gen, dtype=params[name].dtype)
             .to(params[name].device) for name, shape in shapes.items()}

    def norm(v):
        return torch.sqrt(sum((t**2).sum() for t in v.values()))

    def top(theta, xs, ys, v):
        gradient = grad(lambda p: task_loss(model, p, xs, ys, loss_fn))
        v = {n: t / norm(v) for n, t in v.items()}
        value = torch.zeros(())
        for _ in range(iterations):
            hv = torch.func.jvp(gradient, (theta,), (v,))[1]
            value = sum((hv[n] * v[n]).sum() for n in v)  # Rayleigh quotient
            v = {n: t / norm(hv) for n, t in hv.items()}
        return value

    with torch.no_grad():
        return vmap(top, in_dims=(0 if per_task else None, 0, 0, 0))(
            params, batch.x_support, batch.y_support, start
        ).abs()
