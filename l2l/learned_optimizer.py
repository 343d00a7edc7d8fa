"""The coordinatewise LSTM optimizer of Andrychowicz et al. (2016), and its meta-training.

The optimizer network m with parameters φ proposes an update for every coordinate of θ:

    θ_{t+1} = θ_t + g_t,    [g_t, h_{t+1}] = m(∇_t, h_t, φ),    ∇_t = ∇_θ f(θ_t)      (eq. 1, 3)

and is trained on the meta-loss  L(φ) = E_f [ Σ_{t=1..T} w_t f(θ_t) ]  with w_t = 1 (eq. 3)
by truncated backpropagation through time, treating the optimizee's gradients as inputs
(∂∇_t/∂φ = 0).

Every optimizer here, learned or hand-designed (see :mod:`l2l.baselines`), is an *update rule*:
an object with ``init_state(theta) -> state`` and ``step(grad, state) -> (update, state)``,
acting elementwise so that a whole batch of functions is optimized at once.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from l2l import _checks
from l2l.problems import Problem
from l2l.runtime import compile_allowed

LSTMState = tuple[tuple[torch.Tensor, torch.Tensor], ...]


def preprocess_gradients(grad: torch.Tensor, p: float = 10.0) -> torch.Tensor:
    """Log-and-sign gradient preprocessing (Andrychowicz et al. 2016, appendix A).

    .. math::
        \\nabla \\mapsto \\begin{cases}
        \\left(\\frac{\\log |\\nabla|}{p}, \\operatorname{sgn}(\\nabla)\\right) & |\\nabla| \\ge e^{-p} \\\\
        \\left(-1, e^{p} \\nabla\\right) & \\text{otherwise}
        \\end{cases}

    Both output channels stay in a range of order one although gradients span many orders
    of magnitude. Returns a tensor of shape ``grad.shape + (2,)``.
    """
    p = _checks.positive_float("p", p)
    magnitude = grad.abs()
    large = magnitude >= math.exp(-p)
    log_part = torch.where(large, magnitude.clamp_min(math.exp(-p)).log() / p, -torch.ones_like(grad))
    sign_part = torch.where(large, grad.sign(), grad * math.exp(p))
    return torch.stack((log_part, sign_part), dim=-1)


def _gates(z: torch.Tensor, bias: torch.Tensor, c: torch.Tensor):
    """Pointwise part of an LSTM step, a row per coordinate.

    z = [x, h] Wᵀ without the bias, shape (N, 4H); c of shape (N, H). With z ← z + b:
    i, f, o = σ(z_i, z_f, z_o), g = tanh(z_g), c' = f c + i g, h' = o tanh(c'). tanh is computed
    as 2σ(2x) − 1 (the same function; on CPUs σ is several times faster). Returns h', c', the
    gates (N, 4, H) and tanh(c'), which the backward pass reuses.
    """
    z = (z + bias).view(c.shape[0], 4, -1)
    i, f, o = torch.sigmoid(z[:, 0]), torch.sigmoid(z[:, 1]), torch.sigmoid(z[:, 3])
    g = 2 * torch.sigmoid(2 * z[:, 2]) - 1
    c_new = f * c + i * g
    tanh_c = 2 * torch.sigmoid(2 * c_new) - 1
    return o * tanh_c, c_new, torch.stack((i, f, g, o), dim=1), tanh_c


def _gates_backward(grad_h, grad_c, gates, c, tanh_c):
    """Derivatives through :func:`_gates`: ∂/∂z (N, 4H), ∂/∂c (N, H) and ∂/∂b (4H,).

    dc = ∂h'·o·(1 − tanh²c') + ∂c';  ∂z = (dc·g·σ'_i, dc·c·σ'_f, dc·i·(1 − g²), ∂h'·tanh c'·σ'_o)
    with σ' = σ(1 − σ); ∂c = dc·f.
    """
    i, f, g, o = gates.unbind(1)
    dc = grad_h * o * (1 - tanh_c * tanh_c) + grad_c
    dz = torch.stack((dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
                      grad_h * tanh_c * o * (1 - o)), dim=1).view(c.shape[0], -1)  # fmt: skip
    return dz, dc * f, dz.sum(dim=0)


class _Fused:
    """``fn`` compiled by ``torch.compile`` into one loop over its inputs (no temporaries).

    The LSTM's pointwise work moves tens of megabytes per step on the MNIST optimizee; fused,
    it ran 2-2.5 times (forward) and 4-5 times (backward) faster than the same eager code on
    15,910 × 20 states on the project's 2-core CPU. Compiled on first use
    for any size (``dynamic=True``; a few seconds, then cached on disk by PyTorch). If
    compilation fails (no C++ compiler, an unsupported platform, ...), ``fn`` runs as it is,
    after a warning; ``L2L_COMPILE=0`` in the environment skips compilation.
    """

    def __init__(self, fn):
        self.fn = fn
        self.compiled = torch.compile(fn, dynamic=True) if compile_allowed() else None

    def __call__(self, *args):
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except Exception as error:  # noqa: BLE001 — any compiler failure: run eagerly
                warnings.warn(f"could not compile {self.fn.__name__} ({type(error).__name__}: "
                              f"{error}); running it without compilation", stacklevel=2)  # fmt: skip
                self.compiled = None
        return self.fn(*args)


_fused_gates = _Fused(_gates)
_fused_gates_backward = _Fused(_gates_backward)


class _LSTMCellFunction(torch.autograd.Function):
    """One ``nn.LSTMCell`` step (gates i, f, g, o) with a hand-written backward pass.

    x (N, I), h and c (N, H), weight (4H, I + H) = [W_ih, W_hh], bias (4H,). Per step: one
    matrix product forward, two backward, and one fused pointwise kernel each way. Autograd's
    version of the cell builds a dozen nodes and as many temporaries per step; on the MNIST
    optimizee (16k coordinates × 100 steps) that memory traffic, not the arithmetic, dominated
    a meta-epoch.
    """

    @staticmethod
    def forward(ctx, x, h, c, weight, bias):
        xh = torch.cat((x, h), dim=1)
        h_new, c_new, gates, tanh_c = _fused_gates(xh @ weight.t(), bias, c)
        ctx.save_for_backward(xh, gates, c, tanh_c, weight)
        return h_new, c_new

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        xh, gates, c, tanh_c, weight = ctx.saved_tensors
        dz, dc, dbias = _fused_gates_backward(grad_h, grad_c, gates, c, tanh_c)
        inputs = xh.shape[1] - c.shape[1]
        dx = dz @ weight[:, :inputs] if ctx.needs_input_grad[0] else None
        return dx, dz @ weight[:, inputs:], dc, dz.t() @ xh, dbias


def lstm_cell(cell: nn.LSTMCell, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
    """``cell(x, state)`` computed by ``_LSTMCellFunction`` (same values and gradients)."""
    weight = torch.cat((cell.weight_ih, cell.weight_hh), dim=1)
    return _LSTMCellFunction.apply(x, *state, weight, cell.bias_ih + cell.bias_hh)


class LSTMOptimizer(nn.Module):
    """Coordinatewise LSTM optimizer: the same small network applied to every coordinate.

    A stack of ``num_layers`` LSTM cells with ``hidden_size`` units and a linear output, shared
    by all coordinates, each coordinate carrying its own hidden state (section 2.1). Its update
    is ``output_scale * Linear(h)``.

    Args:
        hidden_size: units per LSTM layer (paper: 20).
        num_layers: stacked LSTM layers (paper: 2).
        preprocess: feed :func:`preprocess_gradients` (two inputs) instead of the raw gradient.
        p: the preprocessing constant (paper: 10).
        output_scale: multiplies the network's output, matching the update to the problem's scale
            (the paper uses 0.1 on MNIST).
    """

    def __init__(
        self,
        hidden_size: int = 20,
        num_layers: int = 2,
        preprocess: bool = True,
        p: float = 10.0,
        output_scale: float = 1.0,
    ):
        super().__init__()
        self.hidden_size = _checks.positive_int("hidden_size", hidden_size)
        self.num_layers = _checks.positive_int("num_layers", num_layers)
        self.preprocess = bool(preprocess)
        self.p = _checks.positive_float("p", p)
        self.output_scale = _checks.positive_float("output_scale", output_scale)
        sizes = [2 if self.preprocess else 1] + [self.hidden_size] * self.num_layers
        self.cells = nn.ModuleList(nn.LSTMCell(i, o) for i, o in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(self.hidden_size, 1)

    def config(self) -> dict:
        """The constructor's arguments, to save beside a state dict."""
        return {
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "preprocess": self.preprocess,
            "p": self.p,
            "output_scale": self.output_scale,
        }

    def init_state(self, theta: torch.Tensor) -> LSTMState:
        """Zero hidden and cell states, one row per coordinate of ``theta``."""
        zeros = theta.new_zeros(theta.numel(), self.hidden_size)
        return tuple((zeros, zeros) for _ in self.cells)

    def step(self, grad: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """One update for every coordinate: ``(g_t, h_{t+1}) = m(∇_t, h_t, φ)``."""
        flat = grad.reshape(-1)
        if state[0][0].shape[0] != flat.numel():
            raise ValueError(
                f"state holds {state[0][0].shape[0]} coordinates but the gradient has "
                f"{flat.numel()}; call init_state(theta) for this problem"
            )
        x = preprocess_gradients(flat, self.p) if self.preprocess else flat.unsqueeze(-1)
        new_state = []
        for cell, (h, c) in zip(self.cells, state):
            h, c = lstm_cell(cell, x, (h, c))
            new_state.append((h, c))
            x = h
        update = self.output_scale * self.head(x).squeeze(-1)
        return update.reshape(grad.shape), tuple(new_state)

    def forward(self, grad: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        return self.step(grad, state)


def evaluate(rule, problem: Problem, steps: int) -> torch.Tensor:
    """Run an update rule on a batch of functions; return f(θ_t) for t = 0..steps.

    Args:
        rule: an update rule (``init_state`` and ``step``), learned or from :mod:`l2l.baselines`.
        problem: the batch of functions to minimise.
        steps: number of optimizer steps.

    Returns:
        Tensor of shape ``(steps + 1, batch)``. Diverged runs show up as ``inf``/``nan`` entries,
        which callers such as :func:`l2l.baselines.tune_learning_rate` score as failures.
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
    :meth:`~l2l.problems.Problem.stacked_loss_and_grad` call per step, which for an MLP shares
    each minibatch and multiplies larger matrices.

    Returns:
        One tensor ``(steps + 1, batch)`` per rule, in order; with ``final_params``, also each
        rule's θ_T ``(batch, dim)``.
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
    """Mean over functions of f(θ_t) averaged over the ``last`` steps; ``inf`` when it diverged."""
    scores = [evaluate(rule, problem, steps)[-last:].mean() for problem in problems]
    score = torch.stack(scores).mean().item()
    return score if math.isfinite(score) else math.inf


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
