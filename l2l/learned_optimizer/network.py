"""The coordinatewise LSTM optimizer m(∇_t, h_t; φ) of Andrychowicz et al. (2016, section 2.1)
and its gradient preprocessing (appendix A).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from l2l import _checks
from l2l.learned_optimizer.lstm_cell import lstm_cell

LSTMState = tuple[tuple[torch.Tensor, torch.Tensor], ...]


def _check_p(p) -> float:
    """The preprocessing constant, in (0, 80]: beyond, e^p overflows float32 (at 88) and e^−p
    underflows, so a zero gradient would give 0 · ∞ = NaN or log 0."""
    p = _checks.positive_float("p", p)
    if p > 80:
        raise ValueError(f"p must lie in (0, 80] (e^p must stay finite in float32), got {p}")
    return p


def preprocess_gradients(grad: torch.Tensor, p: float = 10.0) -> torch.Tensor:
    """Log-and-sign gradient preprocessing (Andrychowicz et al. 2016, appendix A).

    .. math::
        \\nabla \\mapsto \\begin{cases}
        \\left(\\frac{\\log |\\nabla|}{p}, \\operatorname{sgn}(\\nabla)\\right) & |\\nabla| \\ge e^{-p} \\\\
        \\left(-1, e^{p} \\nabla\\right) & \\text{otherwise}
        \\end{cases}

    Both output channels stay in a range of order one although gradients span many orders
    of magnitude. Returns a tensor of shape ``grad.shape + (2,)``.

    Args:
        grad: gradients of any shape, each entry preprocessed on its own.
        p: the preprocessing constant, in ``(0, 80]`` so that e^p stays finite in float32 (paper: 10).

    Returns:
        A tensor of shape ``grad.shape + (2,)``: the log channel, then the sign channel.

    Raises:
        ValueError: ``p`` is not a finite number in ``(0, 80]``.
        TypeError: ``p`` is not a number.

    References:
        Andrychowicz et al. (2016), Learning to learn by gradient descent by gradient descent,
        appendix A.
    """
    p = _check_p(p)
    magnitude = grad.abs()
    large = magnitude >= math.exp(-p)
    log_part = torch.where(large, magnitude.clamp_min(math.exp(-p)).log() / p, -torch.ones_like(grad))
    sign_part = torch.where(large, grad.sign(), grad * math.exp(p))
    return torch.stack((log_part, sign_part), dim=-1)


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

    Example:
        >>> net = l2l.LSTMOptimizer()           # the paper's: 2 layers of 20, preprocessing p = 10
        >>> grad = torch.randn(1000)              # any number of coordinates, one network
        >>> update, state = net.step(grad, net.init_state(grad))
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
        self.p = _check_p(p)
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
