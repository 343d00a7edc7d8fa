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
from tqdm.auto import tqdm

from l2l import _checks
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


def meta_train(
    net: LSTMOptimizer,
    sample_problem: Callable[[torch.Generator], Problem],
    meta_epochs: int,
    *,
    steps: int = 100,
    unroll: int = 20,
    meta_lr: float = 1e-3,
    clip_grad_norm: float | None = None,
    validation: Sequence[Problem] = (),
    eval_every: int = 10,
    score_last: int = 1,
    generator: torch.Generator | int = 0,
    progress: bool = True,
    lr_schedule: Callable[[int], float] | None = None,
    on_validation: Callable[[LSTMOptimizer, MetaTrainLog], None] | None = None,
    step_weights: str = "uniform",
) -> MetaTrainLog:
    """Meta-train ``net`` by truncated BPTT (Andrychowicz et al. 2016, section 2).

    Each meta-epoch samples a fresh problem, runs ``steps`` optimizer steps cut into pieces of
    ``unroll`` steps, and after each piece takes one Adam step on φ with the gradient of
    Σ_t f(θ_t) over the piece (mean over the batch of functions), the optimizee gradients
    detached (∂∇_t/∂φ = 0). Every ``eval_every`` epochs the optimizer is scored on the fixed
    ``validation`` problems (mean loss over the ``score_last`` final steps) and the best
    weights are kept: ``net`` holds them on return (the paper's early stopping).

    Optional: ``lr_schedule(epoch)`` multiplies ``meta_lr`` at each epoch (1-based), e.g. a
    cosine decay; ``on_validation(net, log)`` is called after every validation (``net`` then
    holds the current weights), e.g. to save the best checkpoint of a long run as it goes.
    ``step_weights`` names the weights w_t of the meta-loss in :data:`STEP_WEIGHTS`: the paper's
    ``"uniform"`` (w_t = 1), ``"linear"`` (w_t = 2t/T), which leans towards the final loss, or
    ``"final"`` (only f(θ_T), which needs ``unroll = steps``: backpropagation through the whole run).

    Raises:
        FloatingPointError: the meta-loss or meta-gradient became NaN or infinite; the message
            names the epoch and meta-iteration.
    """
    meta_epochs = _checks.positive_int("meta_epochs", meta_epochs)
    steps = _checks.positive_int("steps", steps)
    unroll = _checks.positive_int("unroll", unroll)
    _checks.divides("steps", steps, "unroll", unroll)
    meta_lr = _checks.positive_float("meta_lr", meta_lr)
    if clip_grad_norm is not None:
        clip_grad_norm = _checks.positive_float("clip_grad_norm", clip_grad_norm)
    eval_every = _checks.positive_int("eval_every", eval_every)
    score_last = _checks.positive_int("score_last", score_last)
    gen = _checks.generator(generator)
    if step_weights not in STEP_WEIGHTS:
        raise ValueError(f"step_weights must be one of {sorted(STEP_WEIGHTS)}, got {step_weights!r}")
    weight_of_step = STEP_WEIGHTS[step_weights]

    def weight(t: int) -> float:
        return weight_of_step(t, steps)

    for first in range(0, steps, unroll):
        if not any(weight(t) for t in range(first + 1, first + unroll + 1)):
            raise ValueError(f"step_weights={step_weights!r} gives no weight to steps "
                             f"{first + 1}..{first + unroll}, so that unroll would train nothing; "
                             f"use unroll={steps} (= steps)")

    optimizer = torch.optim.Adam(net.parameters(), lr=meta_lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: lr_schedule(e + 1) if lr_schedule else 1.0
    )
    log = MetaTrainLog()
    best_state = copy.deepcopy(net.state_dict())
    start = time.perf_counter()
    bar = tqdm(range(1, meta_epochs + 1), desc="meta-training", disable=not progress)
    for epoch in bar:
        problem = sample_problem(gen)
        theta = problem.initial_params()
        state = net.init_state(theta)
        epoch_loss = 0.0
        for piece in range(steps // unroll):
            meta_loss, theta, state = _unroll(net, problem, theta, state, piece * unroll, unroll, weight)
            optimizer.zero_grad(set_to_none=True)
            meta_loss.backward()
            norm = nn.utils.clip_grad_norm_(net.parameters(), clip_grad_norm or math.inf)
            if not (torch.isfinite(meta_loss) and torch.isfinite(norm)):
                raise FloatingPointError(
                    f"meta-training diverged at meta-epoch {epoch}, unroll {piece + 1} "
                    f"(meta-iteration {(epoch - 1) * (steps // unroll) + piece + 1}): meta-loss "
                    f"{meta_loss.item():.3g}, meta-gradient norm {norm.item():.3g}. Lower meta_lr, "
                    f"set clip_grad_norm, or shrink the optimizer's output_scale."
                )
            optimizer.step()
            theta, state = theta.detach(), _detach_state(state)
            epoch_loss += meta_loss.item()
        log.meta_losses.append(epoch_loss)
        schedule.step()
        if validation and (epoch % eval_every == 0 or epoch == meta_epochs):
            score = validation_score(net, validation, steps, score_last)
            log.val_epochs.append(epoch)
            log.val_scores.append(score)
            if score < log.best_score:
                log.best_score, log.best_epoch = score, epoch
                best_state = copy.deepcopy(net.state_dict())
            bar.set_postfix(val=f"{score:.3g}", best=f"{log.best_score:.3g}")
            if on_validation is not None:
                log.seconds = time.perf_counter() - start
                on_validation(net, log)
    if validation:
        net.load_state_dict(best_state)
    log.seconds = time.perf_counter() - start
    return log
