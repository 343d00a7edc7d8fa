"""Meta-training the LSTM optimizer by truncated backpropagation through time (Andrychowicz et
al. 2016, section 2): L(φ) = E_f [ Σ_{t=1..T} w_t f(θ_t) ] (eq. 3), the optimizee gradients
treated as inputs (∂∇_t/∂φ = 0).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from l2l import _checks
from l2l._progress import progress_bar
from l2l.learned_optimizer.evaluation import validation_score
from l2l.learned_optimizer.network import LSTMOptimizer, LSTMState
from l2l.tasks.problems import Problem


@dataclass
class MetaTrainLog:
    """What :func:`meta_train` measured: meta-loss per epoch and validation scores."""

    meta_losses: list[float] = field(default_factory=list)
    val_epochs: list[int] = field(default_factory=list)
    val_scores: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = math.inf
    seconds: float = 0.0

    def then(self, later: MetaTrainLog) -> MetaTrainLog:
        """This run's log followed by ``later``'s, a run that continued from this one's weights:
        its epochs counted on from this run's last, the best of both kept."""
        shift = len(self.meta_losses)
        first_best = self.best_score <= later.best_score
        return MetaTrainLog(
            meta_losses=self.meta_losses + later.meta_losses,
            val_epochs=self.val_epochs + [epoch + shift for epoch in later.val_epochs],
            val_scores=self.val_scores + later.val_scores,
            best_epoch=self.best_epoch if first_best else later.best_epoch + shift,
            best_score=min(self.best_score, later.best_score),
            seconds=self.seconds + later.seconds,
        )


def _detach_state(state: LSTMState) -> LSTMState:
    return tuple((h.detach(), c.detach()) for h, c in state)


def _unroll(net: LSTMOptimizer, problem: Problem, theta, state, first_step: int, length: int, weight):
    """One truncated-BPTT piece: ``length`` steps from a detached θ; returns Σ_t w_t mean f(θ_t)."""
    meta_loss = 0.0
    for t in range(length):
        loss, grad = problem.loss_and_grad(theta, first_step + t)
        if t > 0:  # θ at t = 0 is detached, so f(θ_0) carries no gradient to φ
            meta_loss = meta_loss + weight(first_step + t) * loss.mean()
        update, state = net.step(grad, state)
        theta = theta + update
    meta_loss = meta_loss + weight(first_step + length) * problem.loss(theta, first_step + length).mean()
    return meta_loss, theta, state


#: weights w_t of the meta-loss Σ_t w_t f(θ_t) (eq. 3) for t = 1..T; the paper uses "uniform"
STEP_WEIGHTS: dict[str, Callable[[int, int], float]] = {
    "uniform": lambda t, steps: 1.0,
    "linear": lambda t, steps: 2 * t / steps,  # rises to 2 at t = T; the mean stays ≈ 1
    "final": lambda t, steps: float(t == steps),  # only f(θ_T), what a test of the final value compares
}


@dataclass(frozen=True)
class Truncation:
    """How each meta-epoch's run is cut for truncated BPTT (section 2 of the paper).

    Args:
        steps: optimizer steps T per meta-epoch (the paper: 100).
        unroll: steps per piece; after each piece one outer step, and θ, h are detached
            (the paper: 20). ``unroll = steps`` backpropagates through the whole run.
        step_weights: the weights w_t of the meta-loss, a name in :data:`STEP_WEIGHTS`: the
            paper's ``"uniform"`` (w_t = 1), ``"linear"`` (w_t = 2t/T) or ``"final"`` (only
            f(θ_T), which needs ``unroll = steps``).

    Raises:
        ValueError: a non-positive count, an ``unroll`` that does not divide ``steps``, an unknown
            weighting, or a piece that would get no weight.
    """

    steps: int = 100
    unroll: int = 20
    step_weights: str = "uniform"

    def __post_init__(self):
        steps = _checks.positive_int("steps", self.steps)
        unroll = _checks.positive_int("unroll", self.unroll)
        _checks.divides("steps", steps, "unroll", unroll)
        if self.step_weights not in STEP_WEIGHTS:
            raise ValueError(f"step_weights must be one of {sorted(STEP_WEIGHTS)}, got {self.step_weights!r}")
        for first in range(0, steps, unroll):
            if not any(self.weight(t) for t in range(first + 1, first + unroll + 1)):
                raise ValueError(f"step_weights={self.step_weights!r} gives no weight to steps "
                                 f"{first + 1}..{first + unroll}, so that unroll would train nothing; "
                                 f"use unroll={steps} (= steps)")

    def weight(self, t: int) -> float:
        """w_t, the weight of f(θ_t) in the meta-loss."""
        return STEP_WEIGHTS[self.step_weights](t, self.steps)


@dataclass(frozen=True)
class OuterOptimizer:
    """Adam on the optimizer's parameters φ.

    Args:
        lr: Adam's step size (the paper does not give it; the book uses 1e-3 to 3e-3).
        clip_grad_norm: clip the meta-gradient's norm to this before each step (``None``: no clip).
        schedule: ``schedule(epoch)`` multiplies ``lr`` during meta-epoch ``epoch`` (1-based),
            e.g. :func:`l2l.experiments.train.cosine_schedule`.
    """

    lr: float = 1e-3
    clip_grad_norm: float | None = None
    schedule: Callable[[int], float] | None = None

    def __post_init__(self):
        _checks.positive_float("lr", self.lr)
        if self.clip_grad_norm is not None:
            _checks.positive_float("clip_grad_norm", self.clip_grad_norm)


@dataclass(frozen=True)
class Validation:
    """Early stopping on held-out problems (the paper keeps the best optimizer by validation).

    Args:
        problems: fixed problems to score on; none: no validation, the last weights are kept.
        every: score every ``every`` meta-epochs, and after the last.
        score_last: the score is the mean f(θ_t) over the last ``score_last`` steps of a run.
        callback: ``callback(net, log)`` after every validation (``net`` then holds the current
            weights, ``log`` the run so far, from ``previous`` on), e.g. to save the best checkpoint
            of a long run as it goes.
    """

    problems: Sequence[Problem] = ()
    every: int = 10
    score_last: int = 1
    callback: Callable[[LSTMOptimizer, MetaTrainLog], None] | None = None

    def __post_init__(self):
        _checks.positive_int("every", self.every)
        _checks.positive_int("score_last", self.score_last)


def _outer_step(net: LSTMOptimizer, optimizer, meta_loss, clip, where: str) -> None:
    optimizer.zero_grad(set_to_none=True)
    meta_loss.backward()
    norm = nn.utils.clip_grad_norm_(net.parameters(), clip or math.inf)
    if not (torch.isfinite(meta_loss) and torch.isfinite(norm)):
        raise FloatingPointError(
            f"meta-training diverged at {where}: meta-loss "
            f"{meta_loss.item():.3g}, meta-gradient norm {norm.item():.3g}. Lower the outer lr, "
            f"set clip_grad_norm, or shrink the optimizer's output_scale."
        )
    optimizer.step()


def meta_train(
    net: LSTMOptimizer,
    sample_problem: Callable[[torch.Generator], Problem],
    meta_epochs: int,
    *,
    truncation: Truncation = Truncation(),
    outer: OuterOptimizer = OuterOptimizer(),
    validation: Validation = Validation(),
    generator: torch.Generator | int = 0,
    previous: MetaTrainLog | None = None,
    progress: bool = True,
) -> MetaTrainLog:
    """Meta-train ``net`` by truncated BPTT (Andrychowicz et al. 2016, section 2).

    Each meta-epoch samples a fresh problem, runs ``truncation.steps`` optimizer steps cut into
    pieces of ``truncation.unroll``, and after each piece takes one outer (Adam) step on φ with the
    gradient of Σ_t w_t f(θ_t) over the piece (mean over the batch of functions), the optimizee
    gradients detached (∂∇_t/∂φ = 0). Summing over all steps, not only the last, gives every step
    a gradient signal (the paper, section 2). With ``validation.problems``, the optimizer is
    scored every ``validation.every`` epochs and the best weights are kept: ``net`` holds them on
    return (the paper's early stopping).

    Args:
        net: the optimizer network, trained in place.
        sample_problem: ``sample_problem(generator)`` draws a fresh problem, e.g.
            :func:`l2l.quadratic_family`.
        meta_epochs: how many problems to train on.
        truncation, outer, validation: the three groups of settings (:class:`Truncation`,
            :class:`OuterOptimizer`, :class:`Validation`).
        generator: seed or ``torch.Generator`` passed to ``sample_problem``.
        previous: the log of an earlier call whose result ``net`` holds, to continue that run
            (e.g. a second round in a notebook cell of its own, with a fresh outer Adam): its best
            validation score is the one to beat, so ``net`` keeps its weights unless this run
            scores lower on the same ``validation.problems``.
        progress: show a progress bar.

    Returns:
        A :class:`MetaTrainLog`: meta-loss per epoch, validation scores, the best epoch; with
        ``previous``, ``previous.then(this run's log)``.

    Raises:
        ValueError: ``previous`` was validated but this run has no validation problems.
        TypeError: a settings object of the wrong type, or a ``previous`` that is not a log.
        FloatingPointError: the meta-loss or meta-gradient became NaN or infinite (the message
            names the epoch and meta-iteration), or no validation score was finite (with
            ``previous``: nor was its best).

    Example:
        >>> net = l2l.LSTMOptimizer()
        >>> log = meta_train(net, l2l.quadratic_family(), 100, truncation=Truncation(100, 20),
        ...                  validation=Validation([l2l.sample_quadratics(generator=1)], every=10))
    """
    meta_epochs = _checks.positive_int("meta_epochs", meta_epochs)
    for name, value, kind in (("truncation", truncation, Truncation), ("outer", outer, OuterOptimizer),
                              ("validation", validation, Validation)):
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be an l2l.{kind.__name__}, got {type(value).__name__}")
    if previous is not None and not isinstance(previous, MetaTrainLog):
        raise TypeError(f"previous must be the MetaTrainLog of an earlier run, got {type(previous).__name__}")
    if previous is not None and previous.val_scores and not validation.problems:
        raise ValueError("previous was validated, so this run needs validation.problems to keep the "
                         "better weights (the same problems as the previous run's)")
    gen = _checks.generator(generator)
    pieces = truncation.steps // truncation.unroll
    optimizer = torch.optim.Adam(net.parameters(), lr=outer.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: outer.schedule(e + 1) if outer.schedule else 1.0
    )
    log = MetaTrainLog(best_score=previous.best_score if previous is not None else math.inf)
    best_state = copy.deepcopy(net.state_dict())
    start = time.perf_counter()
    bar = progress_bar(range(1, meta_epochs + 1), show=progress, desc="meta-training")
    for epoch in bar:
        problem = sample_problem(gen)
        theta = problem.initial_params()
        state = net.init_state(theta)
        epoch_loss = 0.0
        for piece in range(pieces):
            meta_loss, theta, state = _unroll(net, problem, theta, state, piece * truncation.unroll,
                                              truncation.unroll, truncation.weight)
            _outer_step(net, optimizer, meta_loss, outer.clip_grad_norm, f"meta-epoch {epoch}, unroll "
                        f"{piece + 1} (meta-iteration {(epoch - 1) * pieces + piece + 1})")
            theta, state = theta.detach(), _detach_state(state)
            epoch_loss += meta_loss.item()
        log.meta_losses.append(epoch_loss)
        schedule.step()
        if validation.problems and (epoch % validation.every == 0 or epoch == meta_epochs):
            score = validation_score(net, validation.problems, truncation.steps, validation.score_last)
            log.val_epochs.append(epoch)
            log.val_scores.append(score)
            if score < log.best_score:
                log.best_score, log.best_epoch = score, epoch
                best_state = copy.deepcopy(net.state_dict())
            bar.set_postfix(val=f"{score:.3g}", best=f"{log.best_score:.3g}")
            if validation.callback is not None:
                log.seconds = time.perf_counter() - start
                validation.callback(net, log if previous is None else previous.then(log))
    if validation.problems and math.isinf(log.best_score):
        raise FloatingPointError(f"every validation score was infinite or NaN ({log.val_scores}): the "
                                 "optimizer diverged on the validation problems at every check")
    if validation.problems:
        net.load_state_dict(best_state)
    log.seconds = time.perf_counter() - start
    return log if previous is None else previous.then(log)
