"""MAML's and joint training's initialisations on linear regression, in closed form.
"""

from __future__ import annotations

import torch

from l2l import _checks
from l2l.tasks.regression import LinearTasks


def linear_maml_optimum(tasks: LinearTasks, *, inner_lr: float, inner_steps: int = 1,
                        k_support: int = 10, n_draws: int = 200_000,
                        generator: torch.Generator | int = 0) -> dict[str, torch.Tensor]:
    """The initialisations MAML and joint training converge to on linear regression, in closed form.

    For the model ``y = w[0] x + w[1]`` and the squared loss, a task with optimum ``w*`` and input
    second moment ``Σ`` (:meth:`~l2l.tasks.regression.LinearTasks.moments`) has the query loss
    ``(w − w*)ᵀ Σ (w − w*) + σ²`` on average over query points. ``k`` SGD steps of size ``α`` on a
    support set whose loss has Hessian ``Ĥ = (2/K) Σ_j φ_j φ_jᵀ`` (``φ = (x, 1)``) map
    ``w − w*`` to ``(I − αĤ)^k (w − w*)`` plus zero-mean label noise, so MAML minimises
    ``E[(w − w*)ᵀ A (w − w*)]`` with ``A = (I − αĤ)^k Σ (I − αĤ)^k``:

        w_MAML = E[A]⁻¹ E[A w*],     w_joint = E[Σ]⁻¹ E[Σ w*],

    expectations over tasks and support draws. They are estimated here from ``n_draws`` sampled
    tasks in float64. Returns ``{"maml": w_MAML, "joint": w_joint}``, each a tensor
    ``(slope, intercept)``.

    Args:
        tasks: the :class:`~l2l.tasks.regression.LinearTasks` distribution.
        inner_lr: MAML's inner step size α (``>= 0``; 0 gives ``w_MAML = w_joint``).
        inner_steps: the number k of inner SGD steps (``>= 0``).
        k_support: support points K per task, which enter ``Ĥ``.
        n_draws: tasks sampled for the Monte Carlo estimate of the expectations.
        generator: seed or ``torch.Generator`` for the sampled tasks.

    Returns:
        ``{"maml": w_MAML, "joint": w_joint}``, float64 tensors of shape ``(2,)``: slope, intercept.

    Raises:
        TypeError: ``tasks`` is not a ``LinearTasks``.
        TypeError, ValueError: an ``inner_lr`` that is not a finite number ``>= 0``, an
            ``inner_steps`` that is not an integer ``>= 0``, or a count or seed that ``tasks.sample``
            rejects.
    """
    if not isinstance(tasks, LinearTasks):
        raise TypeError(f"tasks must be a LinearTasks, got {type(tasks).__name__}")
    inner_lr = _checks.nonneg_float("inner_lr", inner_lr)
    inner_steps = _checks.nonneg_int("inner_steps", inner_steps)
    batch = tasks.sample(n_draws, k_support, 1, generator=generator, dtype=torch.float64)
    phi = torch.cat([batch.x_support, torch.ones_like(batch.x_support)], dim=2)  # (n, K, 2)
    hessian = 2 * phi.transpose(1, 2) @ phi / phi.shape[1]
    shrink = torch.linalg.matrix_power(torch.eye(2, dtype=torch.float64) - inner_lr * hessian,
                                       inner_steps)
    sigma = LinearTasks.moments(batch.params)
    a = shrink @ sigma @ shrink
    w_star = torch.stack([batch.params["slope"], batch.params["intercept"]], dim=1)[..., None]
    maml = torch.linalg.solve(a.mean(0), (a @ w_star).mean(0))[:, 0]
    joint = torch.linalg.solve(sigma.mean(0), (sigma @ w_star).mean(0))[:, 0]
    return {"maml": maml, "joint": joint}
