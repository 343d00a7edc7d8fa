"""A meta-trained update rule as a drop-in ``torch.optim.Optimizer``, and the shipped weights::

    net = l2l.load_pretrained("mnist_lstm")
    opt = l2l.LearnedOptimizer(model.parameters(), net)
    for x, y in data:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

Every parameter tensor keeps its own LSTM hidden state, one row per entry; the network is
coordinatewise (Andrychowicz et al. 2016, section 2.1), so tensors can be stepped one by one.
"""

from __future__ import annotations

import torch

from l2l.learned_optimizer.network import LSTMOptimizer


class LearnedOptimizer(torch.optim.Optimizer):
    """θ ← θ + m(∇θ, h; φ) for every parameter with a gradient, ``m`` a :class:`LSTMOptimizer`.

    Args:
        params: the model's parameters (or parameter groups).
        net: the trained optimizer network; it is only evaluated, never trained, here. It runs
            in its own dtype and on its own device: a float64 or CUDA model's gradients are
            converted for it, and its updates back.

    Example:
        >>> opt = l2l.LearnedOptimizer(model.parameters(), l2l.load_pretrained("mnist_lstm"))
        >>> loss_fn(model(x), y).backward()
        >>> opt.step()
    """

    def __init__(self, params, net: LSTMOptimizer):
        if not isinstance(net, LSTMOptimizer):
            raise TypeError(f"net must be an l2l.LSTMOptimizer, got {type(net).__name__}")
        super().__init__(params, defaults={})
        self.net = net

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss, home = None, next(self.net.parameters())
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                grad = param.grad.to(device=home.device, dtype=home.dtype)  # the network's own
                if "lstm" not in state:
                    state["lstm"] = self.net.init_state(grad)
                update, state["lstm"] = self.net.step(grad, state["lstm"])
                param.add_(update.to(device=param.device, dtype=param.dtype))
        return loss
