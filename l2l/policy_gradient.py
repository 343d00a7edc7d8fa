"""Policy-gradient pieces of MAML for reinforcement learning (Finn et al. 2017, §5.3).

* a Gaussian MLP policy written as a function of its parameters, so that one call evaluates a
  different parameter set for every task (``(tasks, ...)``-shaped parameters, batched matmuls);
* discounted returns-to-go, the linear feature baseline of rllab (Duan et al. 2016) and the
  advantages they give;
* the REINFORCE (vanilla policy gradient) surrogate, whose gradient is the policy-gradient
  estimate  ĝ = −(1/N) Σ_t ∇ log π(a_t ∣ s_t) Â_t  over the N valid steps (Williams 1992);
* the TRPO step (Schulman et al. 2015): conjugate gradient on Hessian-vector products of the
  mean KL divergence, a step scaled to the trust region, and a backtracking line search.

Parameters are dicts of tensors (``names → tensor``). "Flat" helpers turn them into one vector
where TRPO needs linear algebra. The RL pieces run on the CPU (the navigation task is a few
hundred floating-point operations per step; a GPU would not help).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from l2l._flat import flatten, unflatten

Params = dict[str, torch.Tensor]

HIDDEN = (100, 100)
LOG_2PI = math.log(2 * math.pi)


def init_policy(obs_dim: int = 2, act_dim: int = 2, hidden=HIDDEN, *, init_log_std: float = 0.0,
                generator: torch.Generator | None = None) -> Params:
    """Parameters of a Gaussian MLP policy: Glorot-uniform weights, zero biases, a learned
    state-independent log standard deviation per action coordinate (rllab's defaults).

    Layer ``k`` maps with ``W{k}`` of shape ``(in, out)`` and ``b{k}``; ``log_std`` has shape
    ``(act_dim,)``.

    Args:
        obs_dim, act_dim: sizes of the observation and of the action (2 and 2: the navigation task).
        hidden: widths of the hidden layers, ``(100, 100)`` by default (``HIDDEN``).
        init_log_std: the initial log standard deviation of every action coordinate (σ = 1 at 0).
        generator: ``torch.Generator`` for the weights; ``None`` uses the global RNG.

    Returns:
        The parameters in the default dtype, a dict name → tensor, ``W0``, ``b0``, ...,
        ``W{L-1}``, ``b{L-1}`` for ``L = len(hidden) + 1`` layers, and ``log_std``, without a task
        axis (see :func:`per_task`).
    """
    sizes = (obs_dim, *hidden, act_dim)
    params = {}
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        params[f"W{k}"] = (2 * torch.rand(fan_in, fan_out, generator=generator) - 1) * bound
        params[f"b{k}"] = torch.zeros(fan_out)
    params["log_std"] = torch.full((act_dim,), float(init_log_std))
    return params


def layers(params: Params) -> int:
    return sum(1 for name in params if name.startswith("W"))


def detached(params: Params) -> Params:
    """The same values, cut from the autograd graph."""
    return {name: p.detach() for name, p in params.items()}


def per_task(params: Params, tasks: int) -> Params:
    """The same parameters for every task: a view with a leading ``tasks`` axis."""
    return {name: p.expand(tasks, *p.shape) for name, p in params.items()}


def policy_mean(params: Params, observations: torch.Tensor) -> torch.Tensor:
    """Mean action of the policy. ``params`` carry a leading task axis; ``observations`` have
    shape ``(tasks, samples, obs_dim)``; ReLU between layers."""
    h = observations
    last = layers(params) - 1
    for k in range(last + 1):
        h = torch.baddbmm(params[f"b{k}"].unsqueeze(1), h, params[f"W{k}"])
        if k < last:
            h = torch.relu(h)
    return h


def log_prob(params: Params, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log π(a ∣ s) of a diagonal Gaussian:  −½ Σ_j ((a_j − μ_j)/σ_j)² − Σ_j log σ_j − (d/2) log 2π.

    ``observations`` and ``actions`` have shape ``(tasks, *batch, dim)``; returns ``(tasks, *batch)``.
    """
    tasks, *batch, dim = observations.shape
    mean = policy_mean(params, observations.reshape(tasks, -1, dim)).reshape(actions.shape)
    log_std = params["log_std"].reshape(tasks, *([1] * len(batch)), -1)
    z = (actions - mean) * torch.exp(-log_std)
    return -0.5 * (z * z).sum(-1) - log_std.sum(-1) - 0.5 * actions.shape[-1] * LOG_2PI


def sample_actions(params: Params, observations: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw a ~ N(μ(s), diag σ²) for observations of shape ``(tasks, samples, obs_dim)``."""
    mean = policy_mean(params, observations)
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
    return mean + torch.exp(params["log_std"]).unsqueeze(1) * noise


def gaussian_kl(old: Params, new: Params, observations: torch.Tensor) -> torch.Tensor:
    """KL(π_old(· ∣ s) ‖ π_new(· ∣ s)) for every state, diagonal Gaussians:
    Σ_j [log(σ'_j/σ_j) + (σ_j² + (μ_j − μ'_j)²)/(2σ'_j²) − ½]."""
    tasks, *batch, dim = observations.shape
    flat = observations.reshape(tasks, -1, dim)
    mu_old, mu_new = policy_mean(old, flat), policy_mean(new, flat)
    ls_old, ls_new = old["log_std"].unsqueeze(1), new["log_std"].unsqueeze(1)
    kl = (ls_new - ls_old + (torch.exp(2 * ls_old) + (mu_old - mu_new) ** 2) / (2 * torch.exp(2 * ls_new))
          - 0.5).sum(-1)
    return kl.reshape(tasks, *batch)


def discounted_returns(rewards: torch.Tensor, discount: float) -> torch.Tensor:
    """Returns-to-go  R_t = Σ_{k≥t} γ^{k−t} r_k  along the last axis."""
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must lie in [0, 1], got {discount}")
    horizon = rewards.shape[-1]
    steps = torch.arange(horizon, dtype=rewards.dtype)
    gaps = steps.unsqueeze(1) - steps.unsqueeze(0)          # [k, t] = k − t
    weights = torch.where(gaps >= 0, discount ** gaps.clamp(min=0), torch.zeros(()))
    return rewards @ weights


def baseline_features(observations: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """rllab's linear-baseline features: (s, s², t, t², t³, 1) with t = step/100, s clipped to ±10,
    zero on masked steps. Shape ``(*batch, horizon, 2·obs_dim + 4)``."""
    s = observations.clamp(-10, 10)
    horizon = observations.shape[-2]
    t = (torch.arange(horizon, dtype=s.dtype) / 100).expand(*s.shape[:-1]).unsqueeze(-1)
    features = torch.cat([s, s * s, t, t * t, t ** 3, torch.ones_like(t)], dim=-1)
    return features * mask.unsqueeze(-1)


def linear_baseline(observations: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
                    ridge: float = 1e-5) -> torch.Tensor:
    """Per-task ridge regression of the returns on :func:`baseline_features`, evaluated on the
    same steps: w = (ΦᵀΦ + λI)⁻¹ Φᵀ R. Inputs have shape ``(tasks, trajectories, horizon, …)``."""
    tasks = observations.shape[0]
    phi = baseline_features(observations, mask).reshape(tasks, -1, 2 * observations.shape[-1] + 4)
    target = (returns * mask).reshape(tasks, -1, 1)
    gram = phi.transpose(1, 2) @ phi + ridge * torch.eye(phi.shape[-1], dtype=phi.dtype)
    weights = torch.linalg.solve(gram, phi.transpose(1, 2) @ target)
    if not torch.isfinite(weights).all():
        raise FloatingPointError(f"the linear baseline's least-squares fit is not finite (returns range "
                                 f"{returns.min().item():.3g}..{returns.max().item():.3g}); raise ridge "
                                 f"(now {ridge})")
    return (phi @ weights).reshape(returns.shape) * mask


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the valid steps of each task (all axes after the first)."""
    dims = tuple(range(1, values.ndim))
    return (values * mask).sum(dims) / mask.sum(dims).clamp(min=1)


def advantages(rewards: torch.Tensor, observations: torch.Tensor, mask: torch.Tensor, *,
               discount: float = 0.99, normalize: bool = True) -> torch.Tensor:
    """Â_t = R_t − b(s_t, t): returns-to-go minus the linear baseline fitted on the same batch,
    then (``normalize``) centred and scaled per task over its valid steps, as rllab's
    ``center_adv`` does."""
    returns = discounted_returns(rewards, discount)
    adv = (returns - linear_baseline(observations, returns, mask)) * mask
    if not normalize:
        return adv
    shape = (-1, *([1] * (adv.ndim - 1)))
    mean = masked_mean(adv, mask).reshape(shape)
    var = masked_mean((adv - mean) ** 2, mask).reshape(shape)
    return (adv - mean) / (var.sqrt() + 1e-8) * mask


def reinforce_loss(log_probs: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The vanilla policy-gradient surrogate per task, −(1/N) Σ_t log π(a_t ∣ s_t) Â_t over the N
    valid steps; its gradient is minus the REINFORCE estimate of ∇ E[return]. Shape ``(tasks,)``."""
    return -masked_mean(log_probs * adv.detach(), mask)


# --- TRPO -------------------------------------------------------------------------------------

def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                       iterations: int = 10, tolerance: float = 1e-10) -> torch.Tensor:
    """Approximate solution of A x = b for symmetric positive-definite A given as ``matvec``
    (Hestenes & Stiefel 1952), starting at x = 0."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    for _ in range(iterations):
        if rr <= tolerance:
            break
        Ap = matvec(p)
        alpha = rr / (p @ Ap)
        x, r = x + alpha * p, r - alpha * Ap
        rr_new = r @ r
        p, rr = r + (rr_new / rr) * p, rr_new
    return x


@dataclass
class TRPOStep:
    """Result of one :func:`trpo_step`: the new parameters, the surrogate before and after, the
    mean KL of the accepted step, and how many backtracking steps (each × ``backtrack_ratio``)
    the line search took (−1: rejected)."""

    params: Params
    loss_before: float
    loss_after: float
    kl: float
    backtracks: int


def trpo_step(params: Params, objective: Callable[[Params], tuple[torch.Tensor, torch.Tensor]], *,
              curvature: Callable[[Params], torch.Tensor] | None = None, max_kl: float = 0.01,
              cg_iterations: int = 10, damping: float = 1e-5, backtrack_ratio: float = 0.8,
              max_backtracks: int = 15) -> TRPOStep:
    """One TRPO update of ``params`` (Schulman et al. 2015, appendix C).

    With g = ∇L and F the Hessian of the mean KL at the current parameters (F v by double
    backward), x ≈ (F + damping·I)⁻¹ g by conjugate gradient, the full step −√(2δ / xᵀ(F + damping·I)x) x
    reaches the trust region's edge in the quadratic model; the line search shrinks it by
    ``backtrack_ratio`` until the surrogate improves and the measured KL is at most δ = ``max_kl``.
    ``objective(p)`` returns the surrogate L(p) and the mean KL(p), which must be 0 with zero
    gradient at ``p = params``. ``curvature(p)``, if given, is the KL whose Hessian F stands in
    for the full one in the conjugate-gradient solve (for example the KL on a subset of the data).

    Args:
        params: the current parameters, a dict of tensors (not modified).
        objective: ``objective(p)`` → ``(surrogate, mean KL)``, two scalar tensors differentiable in
            ``p``; called once with gradients and once per line-search candidate.
        curvature: ``curvature(p)`` → scalar KL whose Hessian replaces that of ``objective``'s KL in
            the solve; ``None`` (default) uses ``objective``'s.
        max_kl: δ, the trust-region radius in mean KL, ``> 0``.
        cg_iterations: conjugate-gradient iterations (at most; it stops early below tolerance).
        damping: added to F as ``damping · I`` in the solve and in the step's scale ``xᵀ(F + damping·I)x``.
        backtrack_ratio: the factor by which each backtracking step shrinks the full step.
        max_backtracks: candidate steps tried, the full step included (k = 0, ..., max_backtracks − 1).

    Returns:
        A :class:`TRPOStep`; on rejection (no candidate passed, or ``xᵀ(F + damping·I)x <= 0``) the
        detached ``params``, ``loss_after = loss_before``, ``kl = 0`` and ``backtracks = −1``.

    Raises:
        ValueError: ``max_kl`` is not positive.
        FloatingPointError: the surrogate's gradient at ``params`` is not finite.

    References:
        Schulman et al. (2015), "Trust Region Policy Optimization", appendix C (conjugate gradient,
        step scaling and line search).
    """
    if not max_kl > 0:
        raise ValueError(f"max_kl must be positive, got {max_kl}")
    theta = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    names = list(theta)
    loss, kl = objective(theta)
    grad = flatten(torch.autograd.grad(loss, [theta[n] for n in names], retain_graph=True,
                                    allow_unused=True, materialize_grads=True))
    if not torch.isfinite(grad).all():
        raise FloatingPointError(f"the TRPO surrogate's gradient is not finite (surrogate {loss.item():.3g})")
    kl_for_f = kl if curvature is None else curvature(theta)
    kl_grad = flatten(torch.autograd.grad(kl_for_f, [theta[n] for n in names], create_graph=True,
                                       allow_unused=True, materialize_grads=True))

    def fisher(v):
        hv = torch.autograd.grad(kl_grad @ v, [theta[n] for n in names], retain_graph=True,
                                 allow_unused=True, materialize_grads=True)
        return flatten(hv) + damping * v

    x = conjugate_gradient(fisher, grad, cg_iterations)
    xfx = x @ fisher(x)
    old = flatten(p.detach() for p in theta.values())
    shapes = {n: p.shape for n, p in params.items()}
    if not xfx > 0:
        return TRPOStep(detached(params), loss.item(), loss.item(), 0.0, -1)
    full_step = -torch.sqrt(2 * max_kl / xfx) * x
    for k in range(max_backtracks):
        candidate = unflatten(old + backtrack_ratio ** k * full_step, shapes)
        new_loss, kl = (value.detach() for value in objective(candidate))
        if new_loss < loss and kl <= max_kl:
            return TRPOStep(candidate, loss.item(), new_loss.item(), kl.item(), k)
    return TRPOStep(detached(params), loss.item(), loss.item(), 0.0, -1)
