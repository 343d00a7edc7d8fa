"""Optimizees: batches of functions f(θ) that an optimizer (learned or hand-designed) minimises.

A :class:`Problem` holds a batch of functions that share one parameter tensor θ of shape
``(batch, dim)``, one row per function. Optimizers only ever see θ's gradient, so the learned
optimizer treats every entry of θ as one coordinate (Andrychowicz et al. 2016, section 2.1).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from l2l import _checks


class Problem:
    """A batch of optimizee functions with parameters θ of shape ``(batch, dim)``.

    Subclasses implement :meth:`initial_params` and :meth:`loss`; they may override
    :meth:`loss_and_grad` with a closed-form gradient, which is faster than autograd.
    ``step`` lets stochastic problems (minibatches) draw a different function at every step.
    """

    def initial_params(self) -> torch.Tensor:
        """θ_0, shape ``(batch, dim)``."""
        raise NotImplementedError

    def loss(self, theta: torch.Tensor, step: int) -> torch.Tensor:
        """f(θ) of every function in the batch, shape ``(batch,)``, differentiable in θ."""
        raise NotImplementedError

    def loss_and_grad(self, theta: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f(θ), ∇f(θ))``: the loss keeps its graph to θ; the gradient is detached.

        Detaching the gradient is the paper's assumption ∂∇_t/∂φ = 0: the optimizer's
        meta-gradient flows through θ_t but not through second derivatives of f.
        """
        with torch.enable_grad():
            if not theta.requires_grad:
                theta = theta.detach().requires_grad_()
            value = self.loss(theta, step)
            (grad,) = torch.autograd.grad(value.sum(), theta, retain_graph=True)
        return value, grad.detach()


class QuadraticProblem(Problem):
    """f(θ) = ||Wθ − y||² with W ∈ R^{d×d}, y ∈ R^d (Andrychowicz et al. 2016, section 3.1).

    Args:
        W: ``(batch, d, d)`` matrices.
        y: ``(batch, d)`` targets.
        theta0: ``(batch, d)`` starting points.
    """

    def __init__(self, W: torch.Tensor, y: torch.Tensor, theta0: torch.Tensor):
        _checks.tensor_shape("W", W, (None, None, None))
        batch, dim = W.shape[0], W.shape[2]
        _checks.tensor_shape("y", y, (batch, W.shape[1]))
        _checks.tensor_shape("theta0", theta0, (batch, dim))
        self.W, self.y, self.theta0 = W, y, theta0

    def initial_params(self) -> torch.Tensor:
        return self.theta0.clone()

    def _residual(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.bmm(self.W, theta.unsqueeze(-1)).squeeze(-1) - self.y

    def loss(self, theta: torch.Tensor, step: int = 0) -> torch.Tensor:
        return self._residual(theta).pow(2).sum(dim=-1)

    def loss_and_grad(self, theta: torch.Tensor, step: int = 0):
        """Closed form: ∇f(θ) = 2 Wᵀ(Wθ − y)."""
        residual = self._residual(theta)
        grad = 2 * torch.bmm(self.W.transpose(1, 2), residual.detach().unsqueeze(-1)).squeeze(-1)
        return residual.pow(2).sum(dim=-1), grad


def sample_quadratics(
    batch: int = 128,
    dim: int = 10,
    generator: torch.Generator | int = 0,
    device: torch.device | str = "cpu",
) -> QuadraticProblem:
    """A batch of random quadratics: W, y and θ_0 with IID standard Gaussian entries.

    The paper draws W and y IID Gaussian and uses batches of 128 functions in 10 dimensions;
    θ_0 ~ N(0, I) as in public reimplementations.
    """
    batch = _checks.positive_int("batch", batch)
    dim = _checks.positive_int("dim", dim)
    gen = _checks.generator(generator)
    W = torch.randn(batch, dim, dim, generator=gen)
    y = torch.randn(batch, dim, generator=gen)
    theta0 = torch.randn(batch, dim, generator=gen)
    return QuadraticProblem(W.to(device), y.to(device), theta0.to(device))


def quadratic_family(
    batch: int = 128, dim: int = 10, device: torch.device | str = "cpu"
) -> Callable[[torch.Generator], QuadraticProblem]:
    """A sampler ``generator -> QuadraticProblem``, the form :func:`l2l.meta_train` takes."""

    def sample(generator: torch.Generator) -> QuadraticProblem:
        return sample_quadratics(batch, dim, generator, device)

    return sample
