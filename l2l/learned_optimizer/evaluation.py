"""Running update rules, learned or hand-designed, on a batch of functions, and scoring them.

An update rule is an object with ``init_state(theta) -> state`` and
``step(grad, state) -> (update, state)``, acting elementwise, so that a whole batch of functions
is optimized at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from l2l import _checks
from l2l.tasks.problems import Problem


def evaluate(rule, problem: Problem, steps: int) -> torch.Tensor:
    """Run an update rule on a batch of functions; return f(θ_t) for t = 0..steps.

    Args:
        rule: an update rule (``init_state`` and ``step``), learned or from :mod:`l2l.baselines`.
        problem: the batch of functions to minimise.
        steps: number of optimizer steps.

    Returns:
        Tensor of shape ``(steps + 1, batch)``. Diverged runs show up as ``inf``/``nan`` entries,
        which callers such as :func:`l2l.baselines.tune_learning_rate` score as failures.

    Example:
        >>> problem = l2l.sample_quadratics(batch=128, dim=10, generator=0)
        >>> losses = evaluate(l2l.baselines.Adam(lr=0.1), problem, steps=100)   # (101, 128)
    """
    steps = _checks.positive_int("steps", steps)
    theta = problem.initial_params()
    losses = []
    with torch.no_grad():
        state = rule.init_state(theta)
        for t in range(steps):
            loss, grad = problem.loss_and_grad(theta, t)
            losses.append(loss.detach())
            update, state = rule.step(grad, state)
            theta = theta + update
        losses.append(problem.loss(theta, steps).detach())
    return torch.stack(losses)


def evaluate_many(rules: Sequence, problem: Problem, steps: int, final_params: bool = False):
    """:func:`evaluate` for several update rules side by side on the same batch of functions.

    Each rule runs on its own copy of θ_0 and sees the same f_t at every step (the same
    minibatches), so the result equals ``[evaluate(rule, problem, steps) for rule in rules]`` up
    to rounding; the gradients of all copies come from one
    :meth:`~l2l.tasks.problems.Problem.stacked_loss_and_grad` call per step, which for an MLP shares
    each minibatch and multiplies larger matrices.

    Args:
        rules: a non-empty sequence of update rules (``init_state`` and ``step``).
        problem: the batch of functions to minimise, shared by all rules.
        steps: number of optimizer steps, a positive integer.
        final_params: also return each rule's final parameters.

    Returns:
        A list of one tensor ``(steps + 1, batch)`` per rule, in order; with ``final_params``, the
        pair ``(curves, thetas)`` with each rule's θ_T ``(batch, dim)`` in a second list.

    Raises:
        ValueError: ``rules`` is empty, or ``steps < 1``.
        TypeError: ``steps`` is not an integer.
    """
    steps = _checks.positive_int("steps", steps)
    if not rules:
        raise ValueError("evaluate_many needs at least one update rule")
    start = problem.initial_params()
    theta = start.unsqueeze(0).repeat(len(rules), *([1] * start.dim()))
    losses = []
    with torch.no_grad():
        states = [rule.init_state(copy) for rule, copy in zip(rules, theta)]
        for t in range(steps):
            loss, grad = problem.stacked_loss_and_grad(theta, t)
            losses.append(loss)
            moves = []
            for i, rule in enumerate(rules):
                update, states[i] = rule.step(grad[i], states[i])
                moves.append(update)
            theta = theta + torch.stack(moves)
        losses.append(problem.stacked_loss(theta, steps))
    curves = list(torch.stack(losses).unbind(1))
    return (curves, list(theta.unbind(0))) if final_params else curves


def window_score(losses: torch.Tensor, last: int = 1) -> float:
    """Mean over functions of f(θ_t) over the ``last`` steps of ``losses`` ``(steps + 1, batch)``;
    ``inf`` when a run diverged (an infinite or NaN loss)."""
    score = losses[-_checks.positive_int("last", last):].mean().item()
    return score if math.isfinite(score) else math.inf


def validation_score(rule, problems: Sequence[Problem], steps: int, last: int = 1) -> float:
    """The score of ``rule`` on held-out ``problems``: :func:`window_score` of their functions
    together (mean f(θ_t) over the ``last`` steps; ``inf`` when a run diverged). It is the score by
    which :func:`l2l.baselines.tune_learning_rate` ranks learning rates, so a learned optimizer's
    validation and a baseline's tuning compare like with like.

    Args:
        rule: an update rule (``init_state`` and ``step``), learned or from :mod:`l2l.baselines`.
        problems: a non-empty sequence of held-out problems, each run by :func:`evaluate`; their
            functions are pooled, so a problem weighs by its batch size.
        steps: number of optimizer steps per problem, a positive integer.
        last: how many final entries of each ``(steps + 1, batch)`` loss curve to average, ``>= 1``.

    Returns:
        The score as a float, ``inf`` if it is not finite.

    Raises:
        ValueError: ``problems`` is empty, or ``steps`` or ``last`` is below 1.
        TypeError: ``steps`` or ``last`` is not an integer.
    """
    if not problems:
        raise ValueError("validation_score needs at least one problem")
    return window_score(torch.cat([evaluate(rule, problem, steps) for problem in problems], dim=1), last)
