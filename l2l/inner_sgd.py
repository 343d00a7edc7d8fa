"""The inner loop that MAML, Reptile and the Taylor check share: plain SGD on functional parameters.

For minibatches b_1, ..., b_k taken in order, from θ_0 = ``params``,

    θ_i = θ_{i-1} − α g_i,    g_i = ∇_θ loss(θ_{i-1}; b_i)

(Finn et al. 2017, Algorithm 1, line 6, with the same support set at every step; Nichol et al.
2018, Algorithm 2, W = SGD(L_τ, φ, k)). Parameters are a tensor or a dict of tensors (as for
``torch.func.functional_call``), nothing is modified in place, and every step is differentiable
with ``torch.func`` or autograd, second derivatives included. ``first_order=True`` treats each
g_i as a constant (first-order MAML): gradients then flow only along the identity part of each
step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch.func import grad

Params = torch.Tensor | dict[str, torch.Tensor]


def _step(params: Params, g: Params, lr) -> Params:
    if isinstance(params, dict):
        return {name: p - lr * g[name] for name, p in params.items()}
    return params - lr * g


def sgd_path(loss: Callable[..., torch.Tensor], params: Params, minibatches: Iterable[tuple], lr, *,
             first_order: bool = False) -> Iterator[tuple[Params, Params]]:
    """Yield ``(θ_i, g_i)`` after each step i = 1..k: the point reached and the gradient that led
    there. ``loss(params, *b_i)`` returns a scalar; ``lr`` may be a tensor (one α per batched run)."""
    gradient = grad(loss)
    for batch in minibatches:
        g = gradient(params, *batch)
        if first_order:
            g = {n: gi.detach() for n, gi in g.items()} if isinstance(g, dict) else g.detach()
        params = _step(params, g, lr)
        yield params, g


def sgd(loss: Callable[..., torch.Tensor], params: Params, minibatches: Iterable[tuple], lr, *,
        first_order: bool = False) -> Params:
    """θ_k: the parameters after one SGD step on each minibatch in order (with none,
    ``params``' values, in a new dict when ``params`` is one, so that changing the result never
    changes the input).

    Example:
        >>> loss = lambda w, x, y: ((x * w - y) ** 2).mean()
        >>> sgd(loss, torch.tensor(0.0), [(torch.ones(1), torch.ones(1))] * 2, lr=0.25)
        tensor(0.7500)
    """
    end = params
    for end, _ in sgd_path(loss, params, minibatches, lr, first_order=first_order):  # noqa: B007
        pass
    return dict(end) if isinstance(end, dict) else end
