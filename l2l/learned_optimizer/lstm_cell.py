"""An LSTM cell with fused, hand-written forward and backward kernels: the same values and
gradients as ``torch.nn.LSTMCell``, fewer temporaries for the thousands of coordinates that share
it in a coordinatewise optimizer.
"""

from __future__ import annotations

import torch
from torch import nn

from l2l._compile import Lazy


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


#: the LSTM's pointwise work, fused by ``torch.compile`` into one loop over its inputs (no
#: temporaries) on first use, for any size (``dynamic=True``). It moves tens of megabytes per
#: step on the MNIST optimizee; ``benchmarks/meta_epoch.py`` measures the gain.
_fused_gates = Lazy(_gates, dynamic=True)
_fused_gates_backward = Lazy(_gates_backward, dynamic=True)


class _LSTMCellFunction(torch.autograd.Function):
    """One ``nn.LSTMCell`` step (gates i, f, g, o) with a hand-written backward pass.

    x (N, I), h and c (N, H), weight (4H, I + H) = [W_ih, W_hh], bias (4H,). Per step: one
    matrix product forward, two backward (three when x needs a gradient, as in every layer above
    the first), and one fused pointwise kernel each way. Autograd's
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
    """``cell(x, state)`` computed by ``_LSTMCellFunction``: the same values and gradients up to
    rounding (tanh is computed as 2σ(2x) − 1 inside the fused kernel)."""
    weight = torch.cat((cell.weight_ih, cell.weight_hh), dim=1)
    return _LSTMCellFunction.apply(x, *state, weight, cell.bias_ih + cell.bias_hh)
