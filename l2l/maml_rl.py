"""MAML for reinforcement learning (Finn et al. 2017, Algorithm 3 and §5.3), all tasks batched.

For a batch of tasks 𝒯_i (here: navigation goals) and policy parameters θ:

1. sample ``trajectories`` episodes 𝒟_i with π_θ on each task;
2. inner step, one vanilla policy-gradient step per task:
   θ'_i = θ − α ∇_θ L_i(θ),  L_i the REINFORCE surrogate on 𝒟_i with a linear baseline;
3. sample episodes 𝒟'_i with π_{θ'_i};
4. outer step by TRPO on  mean_i L^TRPO_i(θ'_i(θ))  under  mean_i KL(π_{θ'_i(θ_old)} ‖ π_{θ'_i(θ)}) ≤ δ,
   differentiating through the inner step (second derivatives: Hessian-vector products through
   ∇_θ L_i), unless ``first_order`` treats ∇_θ L_i as a constant (first-order MAML).

With α = 0 the inner step vanishes and the same procedure trains one policy on all tasks at once:
the paper's "pretrained" baseline.

Parameters with a leading task axis (one parameter set per task) let every task's rollout, inner
step and surrogate run in one batched call (``l2l.policy_gradient.policy_mean``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from l2l import _checks
from l2l import policy_gradient as pg
from l2l.tasks import navigation as nav

Params = pg.Params


def policy_actor(params: Params):
    """The stochastic policy π_params as ``rollout`` expects it (``params`` per task)."""
    def act(observations, generator):
        return pg.sample_actions(params, observations, generator)
    return act


def sample(params: Params, goals: torch.Tensor, trajectories: int,
           generator: torch.Generator | None) -> nav.Trajectories:
    """Episodes of π_params (per-task parameters) on each goal."""
    return nav.rollout(policy_actor(pg.detached(params)), goals, trajectories, generator=generator)


def inner_step(params: Params, episodes: nav.Trajectories, adv: torch.Tensor, lr: float, *,
               create_graph: bool) -> Params:
    """θ'_i = θ_i − α ∇ L_i(θ_i) for every task at once (``params`` per task).

    ``L_i = reinforce_loss`` on task i's episodes. With ``create_graph`` the result stays a
    differentiable function of ``params`` (for the meta-gradient); without it the gradient is a
    constant, which is first-order MAML and also test-time adaptation.
    """
    if lr == 0:
        return params
    with torch.enable_grad():
        leaves = {n: p if p.requires_grad else p.detach().requires_grad_() for n, p in params.items()}
        logp = pg.log_prob(leaves, episodes.observations, episodes.actions)
        loss = pg.reinforce_loss(logp, adv, episodes.mask).sum()
        grads = torch.autograd.grad(loss, list(leaves.values()), create_graph=create_graph)
    return {n: p - lr * g for (n, p), g in zip(leaves.items(), grads)}


def adapt_on(params: Params, episodes: nav.Trajectories, lr: float, discount: float = 0.99) -> Params:
    """Test-time adaptation: one policy-gradient step per task on ``episodes`` (advantages from
    their linear baseline), as constants cut from the graph."""
    adv = pg.advantages(episodes.rewards, episodes.observations, episodes.mask, discount=discount)
    return pg.detached(inner_step(params, episodes, adv, lr, create_graph=False))


def mean_path(params: Params, goals: torch.Tensor) -> torch.Tensor:
    """Positions visited by the noise-free policy (its mean action) from the origin, including the
    last one; ``params`` per task, shape ``(tasks, horizon + 1, 2)``."""
    episodes = nav.rollout(lambda positions, generator: pg.policy_mean(params, positions), goals, 1)
    last_move = nav.to_env_action(episodes.actions[:, 0, -1]) * episodes.mask[:, 0, -1:]
    final = episodes.observations[:, 0, -1] + last_move
    return torch.cat([episodes.observations[:, 0], final.unsqueeze(1)], dim=1)


@dataclass
class MetaBatch:
    """What one meta-iteration samples: pre-update episodes and advantages, the adapted policy
    at θ_old with its post-update episodes, their advantages and log-probabilities."""

    pre: nav.Trajectories
    pre_adv: torch.Tensor
    adapted_old: Params
    post: nav.Trajectories
    post_adv: torch.Tensor
    post_logp_old: torch.Tensor

    def first(self, tasks: int) -> MetaBatch:
        """The same batch restricted to its first ``tasks`` tasks (a random subset: goals are
        drawn independently)."""
        return MetaBatch(self.pre.first(tasks), self.pre_adv[:tasks],
                         {n: p[:tasks] for n, p in self.adapted_old.items()}, self.post.first(tasks),
                         self.post_adv[:tasks], self.post_logp_old[:tasks])


def sample_meta_batch(params: Params, goals: torch.Tensor, *, trajectories: int, lr: float,
                      discount: float, generator: torch.Generator | None) -> MetaBatch:
    """Steps 1–3 of the algorithm for the tasks ``goals`` (θ = ``params``, shared)."""
    theta = pg.per_task(params, goals.shape[0])
    pre = sample(theta, goals, trajectories, generator)
    pre_adv = pg.advantages(pre.rewards, pre.observations, pre.mask, discount=discount)
    adapted = pg.detached(inner_step(theta, pre, pre_adv, lr, create_graph=False))
    post = sample(adapted, goals, trajectories, generator)
    post_adv = pg.advantages(post.rewards, post.observations, post.mask, discount=discount)
    with torch.no_grad():
        logp_old = pg.log_prob(adapted, post.observations, post.actions)
    return MetaBatch(pre, pre_adv, adapted, post, post_adv, logp_old)


def meta_objective(params: Params, batch: MetaBatch, lr: float, *, first_order: bool = False):
    """TRPO's surrogate and constraint at θ = ``params`` (shared), both means over tasks:

    L(θ) = −mean_i mean_t [π_{θ'_i(θ)}(a_t ∣ s_t) / π_{θ'_i(θ_old)}(a_t ∣ s_t)] Â'_t,
    KL(θ) = mean_i mean_t KL(π_{θ'_i(θ_old)}(· ∣ s_t) ‖ π_{θ'_i(θ)}(· ∣ s_t)),  on the post-update episodes.
    """
    theta = pg.per_task(params, batch.pre.goals.shape[0])
    adapted = inner_step(theta, batch.pre, batch.pre_adv, lr, create_graph=not first_order)
    post = batch.post
    ratio = torch.exp(pg.log_prob(adapted, post.observations, post.actions) - batch.post_logp_old)
    surrogate = -pg.masked_mean(ratio * batch.post_adv, post.mask).mean()
    kl = pg.masked_mean(pg.gaussian_kl(batch.adapted_old, adapted, post.observations), post.mask).mean()
    return surrogate, kl


@dataclass
class MAMLRLResult:
    """Meta-trained parameters and, per iteration, the mean return before and after the inner
    step on that iteration's tasks, the accepted step's KL and the wall time."""

    params: Params
    pre_returns: list[float] = field(default_factory=list)
    post_returns: list[float] = field(default_factory=list)
    kls: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_maml_rl(iterations: int, *, meta_batch: int = 20, trajectories: int = 20, inner_lr: float = 0.1,
                  max_kl: float = 0.01, discount: float = 0.99, first_order: bool = False,
                  curvature_tasks: int = 5, params: Params | None = None,
                  generator: torch.Generator | int = 0) -> MAMLRLResult:
    """Meta-train a Gaussian MLP policy (2-100-100-2, ReLU) on 2-D navigation by MAML-TRPO.

    Each iteration draws ``meta_batch`` new goals. ``inner_lr = 0`` trains the pretrained
    baseline (one policy for all goals). Defaults follow the paper (§5.3 and appendix A.2:
    20 trajectories per task, meta-batch 20, δ = 0.01, α = 0.1).

    The conjugate-gradient solve uses the KL's curvature on the first ``curvature_tasks`` tasks
    of the batch only (an unbiased estimate of the full curvature; TRPO's Fisher-vector products
    are commonly computed on a subsample, rllab's ``subsample_factor``), which cuts the cost of
    the Hessian-vector products through the inner step in proportion. The gradient, and the line
    search's surrogate and KL bound, use every task. Raises FloatingPointError if a return or the
    surrogate stops being finite.

    Args:
        iterations: meta-iterations (``>= 1``), one TRPO step each.
        meta_batch: goals (tasks) per iteration (``>= 1``); trajectories: episodes per task before
            and after the inner step (``>= 1``).
        inner_lr: α, the inner policy-gradient step (``>= 0``; 0: the pretrained baseline).
        max_kl: δ, TRPO's trust-region radius in mean KL (``> 0``).
        discount: γ of the returns-to-go, in [0, 1].
        first_order: treat the inner gradient as a constant (first-order MAML).
        curvature_tasks: tasks whose KL gives the conjugate-gradient curvature (``>= 1``; at most
            ``meta_batch`` are used).
        params: the starting policy, shared by all tasks (no task axis), e.g. from
            :func:`~l2l.policy_gradient.init_policy`; ``None`` draws one with ``generator``.
        generator: seed or ``torch.Generator`` for the initial policy, the goals and the episodes.

    Returns:
        A :class:`MAMLRLResult`: the trained parameters, per-iteration returns before and after
        adaptation and step KLs, and the wall time.

    Raises:
        TypeError, ValueError: a count that is not a positive integer, an ``inner_lr`` that is not
            a finite number ``>= 0``, or a bad ``generator``; ``discount`` outside [0, 1] or
            ``max_kl <= 0`` (ValueError, at the first iteration).
        FloatingPointError: the returns stop being finite (the message names the iteration), the
            surrogate's gradient is not finite, or the linear baseline's fit is not finite.

    References:
        Finn, Abbeel & Levine (2017), Algorithm 3 and §5.3; Schulman et al. (2015), TRPO.

    Example:
        >>> result = train_maml_rl(20, generator=0)            # the notebook's run
        >>> goals = l2l.tasks.navigation.sample_goals(40, torch.Generator().manual_seed(1))
        >>> returns = adaptation_returns(result.params, goals, steps=1)
    """
    _checks.positive_int("iterations", iterations)
    _checks.positive_int("meta_batch", meta_batch)
    _checks.positive_int("trajectories", trajectories)
    _checks.positive_int("curvature_tasks", curvature_tasks)
    inner_lr = _checks.nonneg_float("inner_lr", inner_lr)
    generator = _checks.generator(generator)
    params = pg.init_policy(generator=generator) if params is None else dict(params)
    result = MAMLRLResult(params)
    began = time.perf_counter()
    for iteration in range(iterations):
        goals = nav.sample_goals(meta_batch, generator)
        batch = sample_meta_batch(params, goals, trajectories=trajectories, lr=inner_lr,
                                  discount=discount, generator=generator)
        pre, post = batch.pre.average_return().mean().item(), batch.post.average_return().mean().item()
        if not (math.isfinite(pre) and math.isfinite(post)):
            raise FloatingPointError(f"returns stopped being finite at iteration {iteration} (before "
                                     f"adaptation {pre}, after {post}); lower inner_lr (now {inner_lr})")

        part = batch.first(min(curvature_tasks, meta_batch))

        def objective(p, batch=batch):
            return meta_objective(p, batch, inner_lr, first_order=first_order)

        def curvature(p, part=part):
            return meta_objective(p, part, inner_lr, first_order=first_order)[1]

        step = pg.trpo_step(params, objective, curvature=curvature, max_kl=max_kl)
        params = step.params
        result.pre_returns.append(pre)
        result.post_returns.append(post)
        result.kls.append(step.kl)
    result.params = pg.detached(params)
    result.seconds = time.perf_counter() - began
    return result


def adaptation_returns(params: Params, goals: torch.Tensor, *, steps: int = 3, trajectories: int = 20,
                       lr: float = 0.1, discount: float = 0.99,
                       generator: torch.Generator | int = 0) -> torch.Tensor:
    """Average return on each goal after 0, 1, …, ``steps`` policy-gradient steps from
    ``params``, each step on ``trajectories`` fresh episodes, all with step size ``lr``.
    Shape ``(steps + 1, tasks)``.

    This is the evaluation of the paper's Figure 5 with one step size throughout. The released
    test script (``maml_examples/test_maml_point.py``) takes its first step with its training
    step size, 0.5, each later one with half of it, and 40 episodes per step.

    Args:
        params: the policy to adapt, shared by all goals (no task axis), e.g. ``result.params``.
        goals: ``(tasks, 2)`` (or one ``(2,)``) goals inside the square [−0.5, 0.5]².
        steps: policy-gradient steps (``>= 0``); trajectories: episodes per goal and step (``>= 1``).
        lr: the step size of each adaptation step (not checked; 0 adapts nothing).
        discount: γ of the returns-to-go used for the advantages, in [0, 1].
        generator: seed or ``torch.Generator`` for the episodes.

    Returns:
        A tensor ``(steps + 1, tasks)``: row k the mean undiscounted return per goal after k steps,
        on the episodes that step k + 1 (if any) then adapts on.

    Raises:
        TypeError, ValueError: ``steps`` not an integer ``>= 0``, ``trajectories`` not a positive
            integer, or a bad ``generator``.
        ValueError: ``goals`` of the wrong shape or outside the square; ``discount`` outside [0, 1]
            (only when ``steps >= 1``).
        FloatingPointError: the linear baseline's fit is not finite.

    References:
        Finn, Abbeel & Levine (2017), §5.3.
    """
    _checks.nonneg_int("steps", steps)
    goals = nav.check_goals(goals)
    generator = _checks.generator(generator)
    theta = pg.per_task(pg.detached(params), goals.shape[0])
    curve = []
    for k in range(steps + 1):
        episodes = sample(theta, goals, trajectories, generator)
        curve.append(episodes.average_return())
        if k < steps:
            theta = adapt_on(theta, episodes, lr, discount)
    return torch.stack(curve)
