"""Hand-designed optimizers as elementwise update rules, and their learning-rate tuning.

Each rule has ``init_state(theta)`` and ``step(grad, state) -> (update, state)`` with
θ_{t+1} = θ_t + update, the same interface as :class:`l2l.LSTMOptimizer`, so one
:func:`l2l.evaluate` runs them all on a batch of functions. Other settings are PyTorch's
defaults, as in the paper ("other settings at their defaults"), except NAG's momentum, 0.9:
PyTorch's default of 0 would make it plain SGD. The updates match ``torch.optim`` step for step
(the tests check it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from l2l import _checks
from l2l.learned_optimizer import evaluate_many, window_score
from l2l.tasks.problems import Problem


class SGD:
    """Gradient descent: update = −lr ∇."""

    name = "SGD"

    def __init__(self, lr: float):
        self.lr = _checks.positive_float("lr", lr)

    def init_state(self, theta: torch.Tensor):
        return ()

    def step(self, grad: torch.Tensor, state):
        return -self.lr * grad, state


class NAG:
    """Nesterov's accelerated gradient in PyTorch's form (Sutskever et al. 2013):

    b_t = μ b_{t−1} + ∇_t,   update = −lr (∇_t + μ b_t),   with b_0 = 0.
    """

    name = "NAG"

    def __init__(self, lr: float, momentum: float = 0.9):
        self.lr = _checks.positive_float("lr", lr)
        self.momentum = _checks.fraction("momentum", momentum)

    def init_state(self, theta: torch.Tensor):
        return torch.zeros_like(theta)

    def step(self, grad: torch.Tensor, buf: torch.Tensor):
        buf = self.momentum * buf + grad
        return -self.lr * (grad + self.momentum * buf), buf


class RMSprop:
    """RMSprop (Tieleman and Hinton 2012): v_t = ρ v_{t−1} + (1 − ρ) ∇², update = −lr ∇ / (√v_t + ε)."""

    name = "RMSprop"

    def __init__(self, lr: float, alpha: float = 0.99, eps: float = 1e-8):
        self.lr = _checks.positive_float("lr", lr)
        self.alpha = _checks.fraction("alpha", alpha)
        self.eps = _checks.positive_float("eps", eps)

    def init_state(self, theta: torch.Tensor):
        return torch.zeros_like(theta)

    def step(self, grad: torch.Tensor, v: torch.Tensor):
        v = self.alpha * v + (1 - self.alpha) * grad.square()
        return -self.lr * grad / (v.sqrt() + self.eps), v


def adam_update(grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t, lr, beta1: float = 0.9,
                beta2: float = 0.999, eps: float = 1e-8):
    """One step of Adam (Kingma and Ba 2015, Algorithm 1), functional:

    m_t = β₁ m + (1 − β₁) ∇,  v_t = β₂ v + (1 − β₂) ∇²,
    update = −lr (m_t / (1 − β₁ᵗ)) / (√(v_t / (1 − β₂ᵗ)) + ε).

    Args:
        grad: the gradient ∇.
        m, v: the moments before this step (zeros before the first).
        t: this step's number, counted from 1 (a number, or a 0-d tensor inside a traced graph).
        lr: the step size (a number, or a 0-d tensor for a schedule inside a traced graph).
        beta1, beta2, eps: Adam's other settings, PyTorch's defaults.

    Returns:
        ``(update, m_t, v_t)``, with θ_{t+1} = θ_t + update. :class:`Adam` (the baseline) and
        :func:`l2l.train_maml`'s meta-optimizer both take this step.
    """
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad.square()
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return -lr * m_hat / (v_hat.sqrt() + eps), m, v


class Adam:
    """Adam (Kingma and Ba 2015) with bias correction, as an update rule: :func:`adam_update`."""

    name = "Adam"

    def __init__(self, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.lr = _checks.positive_float("lr", lr)
        self.beta1 = _checks.fraction("betas[0]", betas[0])
        self.beta2 = _checks.fraction("betas[1]", betas[1])
        self.eps = _checks.positive_float("eps", eps)

    def init_state(self, theta: torch.Tensor):
        return torch.zeros_like(theta), torch.zeros_like(theta), 0

    def step(self, grad: torch.Tensor, state):
        m, v, t = state
        update, m, v = adam_update(grad, m, v, t + 1, self.lr, self.beta1, self.beta2, self.eps)
        return update, (m, v, t + 1)


BASELINES = {rule.name: rule for rule in (SGD, RMSprop, Adam, NAG)}


def lr_grid(low: float = 1e-4, high: float = 1.0, per_decade: int = 2) -> list[float]:
    """The learning rates 10^(k / per_decade), to 3 significant digits, that lie in [low, high].

    The grid is anchored at 1, so every grid has the same points (``lr_grid(0.0316, 1.0)`` is
    ``[0.0316, 0.1, 0.316, 1.0]``); a bound within 1 % of a step of a grid point counts as that point,
    so a rounded bound such as 3.16 = 10^0.5 is included.

    Args:
        low, high: the bounds of the grid, positive finite numbers with ``low <= high``.
        per_decade: grid points per factor of 10, a positive integer.

    Returns:
        The learning rates as a list of floats, in increasing order.

    Raises:
        ValueError: ``low > high``, a non-positive or infinite bound, a ``per_decade`` below 1,
            or no grid point between the bounds.
        TypeError: a bound that is not a number, or a ``per_decade`` that is not an integer.
    """
    low, high = _checks.positive_float("low", low), _checks.positive_float("high", high)
    if low > high:
        raise ValueError(f"low={low} must not exceed high={high}")
    per_decade = _checks.positive_int("per_decade", per_decade)
    first = math.ceil(per_decade * math.log10(low) - 0.01)
    last = math.floor(per_decade * math.log10(high) + 0.01)
    if first > last:
        raise ValueError(f"no learning rate 10^(k/{per_decade}) lies between low={low} and high={high}")
    return [float(f"{10 ** (k / per_decade):.3g}") for k in range(first, last + 1)]


@dataclass
class Tuned:
    """A baseline tuned on validation problems: its best learning rate and every score."""

    name: str
    lr: float
    rule: object
    scores: dict[float, float]


def tune_learning_rate(
    make_rule: Callable[[float], object],
    problems: Sequence[Problem],
    steps: int,
    lrs: Sequence[float] | None = None,
    last: int = 1,
) -> Tuned:
    """Pick the learning rate with the lowest final loss on the given (validation) problems.

    Score = mean over functions of f(θ_t) over the ``last`` steps, ``inf`` for a diverged run.
    Pass validation problems, never the test problems.

    Args:
        make_rule: ``make_rule(lr)`` builds the update rule, e.g. the class :class:`Adam`.
        problems: a non-empty sequence of validation problems; their functions are pooled.
        steps: optimizer steps per run, a positive integer.
        lrs: the learning rates to try (``None``: :func:`lr_grid`'s default, 1e-4 to 1, two per
            decade); the first of equal scores wins.
        last: how many final entries of each loss curve the score averages, ``>= 1``.

    Returns:
        A :class:`Tuned`: the best learning rate, ``make_rule(lr)`` built with it, the rule's
        ``name`` (else its class name) and the score of every learning rate.

    Raises:
        ValueError: ``lrs`` or ``problems`` is empty, ``steps`` or ``last`` is below 1, or
            ``make_rule`` refuses a learning rate (the baselines refuse ``lr <= 0``).
        TypeError: ``steps`` or ``last`` is not an integer.
        FloatingPointError: every learning rate diverged (an infinite or NaN score).

    Example:
        >>> validation = [l2l.sample_quadratics(generator=1)]
        >>> tuned = tune_learning_rate(Adam, validation, steps=100)
        >>> tuned.lr, tuned.rule                                  # the best rate and Adam(lr=tuned.lr)
    """
    return _tune({"": make_rule}, problems, steps, lrs, last)[""]


def tune_baselines(
    problems: Sequence[Problem],
    steps: int,
    lrs: Sequence[float] | None = None,
    names: Sequence[str] = ("SGD", "RMSprop", "Adam", "NAG"),
    last: int = 1,
) -> dict[str, Tuned]:
    """Tune each named baseline's learning rate on ``problems`` as :func:`tune_learning_rate` does.

    Every (baseline, learning rate) pair runs side by side in one
    :func:`~l2l.learned_optimizer.evaluate_many` rollout per problem.

    Args:
        problems: a non-empty sequence of validation problems; their functions are pooled.
        steps: optimizer steps per run, a positive integer.
        lrs: the learning rates to try, the same for every baseline (``None``: :func:`lr_grid`'s
            default, 1e-4 to 1, two per decade).
        names: baselines to tune, keys of ``BASELINES``: ``"SGD"``, ``"RMSprop"``, ``"Adam"``, ``"NAG"``.
        last: how many final entries of each loss curve the score averages, ``>= 1``.

    Returns:
        A dict from each name in ``names`` to its :class:`Tuned`.

    Raises:
        ValueError: a name that is not a baseline; ``lrs``, ``problems`` or ``names`` is empty;
            ``steps`` or ``last`` below 1; or a learning rate ``<= 0``.
        TypeError: ``steps`` or ``last`` is not an integer.
        FloatingPointError: every learning rate of some baseline diverged.
    """
    if not names:
        raise ValueError(f"names must hold at least one baseline of {sorted(BASELINES)}")
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {sorted(BASELINES)}")
    return _tune({n: BASELINES[n] for n in names}, problems, steps, lrs, last)


def _tune(makers: dict[str, Callable[[float], object]], problems, steps, lrs, last) -> dict[str, Tuned]:
    """The best learning rate of every rule maker, all (maker, lr) pairs in one rollout per problem."""
    lrs = list(lrs) if lrs is not None else lr_grid()
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate")
    if not problems:
        raise ValueError("tuning a learning rate needs at least one validation problem")
    pairs = [(name, lr) for name in makers for lr in lrs]
    rules = [makers[name](lr) for name, lr in pairs]
    per_problem = [evaluate_many(rules, problem, steps) for problem in problems]
    scores = {pair: window_score(torch.cat([curves[i] for curves in per_problem], dim=1), last)
              for i, pair in enumerate(pairs)}
    tuned = {}
    for name, make_rule in makers.items():
        by_lr = {lr: scores[name, lr] for lr in lrs}
        best = min(by_lr, key=by_lr.get)
        if math.isinf(by_lr[best]):
            raise FloatingPointError(f"{name}: every learning rate in {lrs} diverged; try smaller ones")
        rule = make_rule(best)
        tuned[name] = Tuned(getattr(rule, "name", type(rule).__name__), best, rule, by_lr)
    return tuned
