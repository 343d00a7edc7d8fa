"""The leading-order analysis of Nichol, Achiam & Schulman (2018), section 5, checked numerically.

Take k minibatches of one task, with losses L_1, ..., L_k, and run SGD with step α from φ_1 = φ:
φ_{i+1} = φ_i − α g_i with g_i = L'_i(φ_i). With ḡ_i = L'_i(φ) and H̄_i = L''_i(φ), a first-order
expansion of each gradient around φ gives

    g_i = ḡ_i − α H̄_i Σ_{j<i} ḡ_j + O(α²).

The three meta-gradients are (MAML and FOMAML adapt on the first k − 1 minibatches and test on
the k-th; Reptile takes all k steps):

    g_MAML    = ∂/∂φ L_k(φ_k) = (I − α L''_1(φ_1)) ... (I − α L''_{k−1}(φ_{k−1})) g_k,
    g_FOMAML  = g_k,
    g_Reptile = (φ − φ_{k+1}) / α = Σ_i g_i.

For exchangeable minibatches, with AvgGrad = E[ḡ_i] and AvgGradInner = E[H̄_i ḡ_j] (i ≠ j),

    E[g] = c0 · AvgGrad − c1 · α · AvgGradInner + O(α²),

with (c0, c1) = (1, 2(k−1)) for MAML, (1, k−1) for FOMAML and (k, k(k−1)/2) for Reptile
(:func:`coefficients`).

To see the O(α²) remainder through the sampling noise, every quantity here is computed from the
same draws (a task and k minibatches of it) and each draw is averaged over all k! orderings of
its minibatches: then the sample is exactly exchangeable, AvgGrad is the mean of ḡ_i over i and
AvgGradInner the mean of H̄_i ḡ_j over ordered pairs i ≠ j, and what is left between the exact
meta-gradient and the prediction is the remainder alone. Use float64.

A loss here is a function ``loss(phi, x, y)`` of a flat parameter vector ``phi`` of shape
``(p,)`` and one minibatch ``(x, y)`` that returns a scalar.

The module also holds the toy of section 5.2, the slide's picture: tasks whose optimal sets are
circles in the plane (:func:`circle_loss`), where Reptile settles at a point close to every circle
in Euclidean distance while joint training is pulled toward the steepest task.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import functional_call, grad, jvp, vjp, vmap

from l2l import _checks
from l2l._flat import flatten, unflatten
from l2l.inner_sgd import sgd_path

__all__ = [
    "METHODS",
    "LeadingTerms",
    "TaylorCheck",
    "coefficients",
    "meta_gradients",
    "expected_meta_gradients",
    "leading_terms",
    "predicted_meta_gradients",
    "loglog_slope",
    "fitted_coefficients",
    "taylor_check",
    "flat_mse_loss",
    "gradient_alignment",
    "circle_loss",
    "circle_distance",
]

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

METHODS = ("maml", "fomaml", "reptile")


def coefficients(k: int) -> dict[str, tuple[float, float]]:
    """(c0, c1) of E[g] = c0 · AvgGrad − c1 · α · AvgGradInner + O(α²) for each method.

    Nichol et al. (2018), section 5.1: MAML (1, 2(k−1)), FOMAML (1, k−1), Reptile
    (k, k(k−1)/2), for k minibatches (k ≥ 2).
    """
    k = _checks.positive_int("k", k)
    if k < 2:
        raise ValueError(f"k must be at least 2 (MAML needs a minibatch to adapt on), got {k}")
    return {
        "maml": (1.0, 2.0 * (k - 1)),
        "fomaml": (1.0, float(k - 1)),
        "reptile": (float(k), k * (k - 1) / 2),
    }


def flat_mse_loss(model: torch.nn.Module) -> tuple[Loss, torch.Tensor]:
    """The squared error of ``model`` as a function of one flat parameter vector.

    Returns ``(loss, phi)``: ``loss(phi, x, y) = mean((model_phi(x) − y)²)``, where ``phi`` holds
    all of the model's parameters in ``named_parameters`` order, and the model's current
    parameters as such a vector (detached). Flat vectors make Hessian-vector products and norms
    one-liners.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    shapes = {name: p.shape for name, p in model.named_parameters()}

    def loss(phi, x, y):
        return ((functional_call(model, unflatten(phi, shapes), (x,)) - y) ** 2).mean()

    phi = flatten(p.detach() for p in model.parameters())
    return loss, phi


def _sgd(loss: Loss, phi, xs, ys, alpha: float):
    """SGD on the minibatches ``xs[i], ys[i]`` in order; returns the end point and Σ_i g_i."""
    end, total = phi, torch.zeros_like(phi)
    for end, g in sgd_path(loss, phi, zip(xs, ys, strict=True), alpha):  # noqa: B007
        total = total + g
    return end, total


def meta_gradients(loss: Loss, phi, xs, ys, alpha: float) -> dict[str, torch.Tensor]:
    """The exact meta-gradients of MAML, FOMAML and Reptile for one ordering of k minibatches.

    ``xs``, ``ys`` hold the k minibatches along their first dimension. MAML and FOMAML adapt with
    k − 1 SGD steps on the first minibatches and take the gradient on the last one (MAML
    differentiates through the steps, FOMAML does not); Reptile returns (φ − φ_{k+1})/α = Σ_i g_i
    after k steps.
    """

    def adapt(start):
        return _sgd(loss, start, xs[:-1], ys[:-1], alpha)

    adapted, pull_back, inner_sum = vjp(adapt, phi, has_aux=True)
    last = grad(loss)(adapted, xs[-1], ys[-1])
    (maml,) = pull_back(last)
    return {"maml": maml, "fomaml": last, "reptile": inner_sum + last}


def _orderings(k: int, device) -> torch.Tensor:
    """All k! permutations of range(k), shape ``(k!, k)``."""
    return torch.tensor(list(itertools.permutations(range(k))), device=device)


def _check_draws(phi, xs, ys) -> int:
    _checks.tensor_shape("phi", phi, (None,))
    if not isinstance(xs, torch.Tensor) or xs.dim() < 3:
        got = tuple(xs.shape) if isinstance(xs, torch.Tensor) else type(xs).__name__
        raise ValueError(f"xs must be a tensor (draws, k, batch, ...) of k minibatches per draw, got {got}")
    if not isinstance(ys, torch.Tensor) or ys.shape[:3] != xs.shape[:3]:
        got = tuple(ys.shape) if isinstance(ys, torch.Tensor) else type(ys).__name__
        raise ValueError(f"ys must start with xs's shape {tuple(xs.shape[:3])}, got {got}")
    k = xs.shape[1]
    if not 2 <= k <= 6:  # the expansion averages over all k! orderings of the minibatches
        raise ValueError(f"each draw needs 2 <= k <= 6 minibatches (k! orderings are averaged), got k = {k}")
    return k


def expected_meta_gradients(loss: Loss, phi, xs, ys, alpha: float) -> dict[str, torch.Tensor]:
    """E[g] of each method: the mean of :func:`meta_gradients` over draws and all orderings.

    ``xs``, ``ys``: ``(draws, k, batch, ...)``, k minibatches of one task per draw.

    Args:
        loss: ``loss(phi, x, y)`` of one minibatch, ``phi`` a flat vector (:func:`flat_mse_loss`).
        phi: the initialisation φ, shape ``(p,)``.
        xs, ys: ``(draws, k, batch, ...)`` minibatches, ``2 <= k <= 6`` (all k! orderings are
            averaged); use float64.
        alpha: the inner step size α, a finite number ``> 0``.

    Returns:
        ``{"maml": ..., "fomaml": ..., "reptile": ...}``, each a tensor ``(p,)``.

    Raises:
        TypeError: ``alpha`` is not a number, or ``phi`` not a tensor.
        ValueError: ``alpha`` not positive and finite.
        ValueError: ``phi`` is not one-dimensional; ``xs`` is not a tensor of three or more
            dimensions; ``ys`` does not start with the first three sizes of ``xs``; k outside 2..6.

    References:
        Nichol, Achiam & Schulman (2018), section 5.1, equations for g_MAML, g_FOMAML, g_Reptile.
    """
    alpha = _checks.positive_float("alpha", alpha)
    k = _check_draws(phi, xs, ys)
    order = _orderings(k, xs.device)

    def one_draw(x, y):
        per_order = vmap(meta_gradients, in_dims=(None, None, 0, 0, None))(
            loss, phi, x[order], y[order], alpha
        )
        return {name: g.mean(0) for name, g in per_order.items()}

    per_draw = vmap(one_draw)(xs, ys)
    return {name: per_draw[name].mean(0) for name in METHODS}


@dataclass(frozen=True)
class LeadingTerms:
    """AvgGrad = mean of ḡ_i over draws and i; AvgGradInner = mean of H̄_i ḡ_j over draws and
    ordered pairs i ≠ j (both shape ``(p,)``)."""

    avg_grad: torch.Tensor
    avg_grad_inner: torch.Tensor


def leading_terms(loss: Loss, phi, xs, ys) -> LeadingTerms:
    """AvgGrad and AvgGradInner estimated from the draws ``xs``, ``ys`` (``(draws, k, ...)``).

    ḡ_i = L'_i(φ) by autodiff, H̄_i ḡ_j as a Hessian-vector product (forward over reverse mode).

    Args:
        loss: ``loss(phi, x, y)`` of one minibatch, ``phi`` a flat vector (:func:`flat_mse_loss`).
        phi: the point φ of the expansion, shape ``(p,)``.
        xs, ys: ``(draws, k, batch, ...)`` minibatches, ``2 <= k <= 6``; use float64.

    Returns:
        A :class:`LeadingTerms`: AvgGrad and AvgGradInner, each ``(p,)``.

    Raises:
        TypeError: ``phi`` is not a tensor.
        ValueError: ``phi`` is not one-dimensional; ``xs`` is not a tensor of three or more
            dimensions; ``ys`` does not start with the first three sizes of ``xs``; k outside 2..6.

    References:
        Nichol, Achiam & Schulman (2018), section 5.1 (AvgGrad and AvgGradInner).
    """
    k = _check_draws(phi, xs, ys)
    gradient = grad(loss)

    def one_draw(x, y):
        gbar = vmap(gradient, in_dims=(None, 0, 0))(phi, x, y)  # (k, p)

        def hvp(xi, yi, v):
            return jvp(lambda p: gradient(p, xi, yi), (phi,), (v,))[1]

        over_j = vmap(hvp, in_dims=(None, None, 0))
        hg = vmap(over_j, in_dims=(0, 0, None))(x, y, gbar)  # hg[i, j] = H̄_i ḡ_j
        off_diagonal = hg.sum((0, 1)) - hg.diagonal(dim1=0, dim2=1).sum(-1)
        return gbar.mean(0), off_diagonal / (k * (k - 1))

    avg_grad, avg_grad_inner = vmap(one_draw)(xs, ys)
    return LeadingTerms(avg_grad.mean(0), avg_grad_inner.mean(0))


def gradient_alignment(loss: Loss, phi, xs, ys) -> torch.Tensor:
    """Mean inner product ḡ_i · ḡ_j of two different minibatches' gradients of the same task.

    Averaged over draws and ordered pairs i ≠ j. Its gradient in φ is 2 · AvgGradInner (the sum
    H̄_i ḡ_j + H̄_j ḡ_i is ∇(ḡ_i · ḡ_j)), so a step along +AvgGradInner raises it, and that is the
    step a descent on the meta-gradient's −α · AvgGradInner term takes: the term that makes a step
    on one minibatch help on another (Nichol et al. 2018, section 5.1).
    """
    k = _check_draws(phi, xs, ys)

    def one_draw(x, y):
        gbar = vmap(grad(loss), in_dims=(None, 0, 0))(phi, x, y)
        gram = gbar @ gbar.T
        return (gram.sum() - gram.diagonal().sum()) / (k * (k - 1))

    return vmap(one_draw)(xs, ys).mean()


def predicted_meta_gradients(terms: LeadingTerms, k: int, alpha: float) -> dict[str, torch.Tensor]:
    """c0 · AvgGrad − c1 · α · AvgGradInner for each method (the O(α²) remainder dropped)."""
    alpha = _checks.positive_float("alpha", alpha)
    return {
        name: c0 * terms.avg_grad - c1 * alpha * terms.avg_grad_inner
        for name, (c0, c1) in coefficients(k).items()
    }


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (y ∝ x^slope gives ``slope``)."""
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    y = torch.as_tensor(y, dtype=torch.float64).flatten()
    if x.numel() != y.numel() or x.numel() < 2:
        raise ValueError(f"need two or more (x, y) pairs of equal length, got {x.numel()} and {y.numel()}")
    if not (bool((x > 0).all()) and bool((y > 0).all())):
        raise ValueError(f"a log-log slope needs positive x and y, got min x = {x.min().item():.3g}, "
                         f"min y = {y.min().item():.3g}")
    lx, ly = x.log(), y.log()
    lx = lx - lx.mean()
    return float((lx * (ly - ly.mean())).sum() / (lx * lx).sum())


@dataclass(frozen=True)
class TaylorCheck:
    """The numerical check of the expansion at each step size ``alphas`` (shape ``(A,)``).

    For each method: ``remainder[m][a]`` = ‖exact − (c0 · AvgGrad − c1 · α · AvgGradInner)‖;
    ``rel_err[m][a]`` = ‖measured − predicted α-coefficient‖ / ‖predicted‖, where the measured
    coefficient is (exact − c0 · AvgGrad)/(−α) and the predicted one c1 · AvgGradInner;
    ``slope[m]`` = log-log slope of the remainder against α over the step sizes inside
    ``fit_range`` (2 for an O(α²) remainder); ``fitted[m]`` = the coefficients (c0, c1) read off
    the exact meta-gradient at the smallest α (:func:`fitted_coefficients`).
    """

    k: int
    alphas: torch.Tensor
    fit_range: tuple[float, float]
    terms: LeadingTerms
    remainder: dict[str, torch.Tensor]
    rel_err: dict[str, torch.Tensor]
    slope: dict[str, float]
    fitted: dict[str, tuple[float, float]]


def fitted_coefficients(exact: torch.Tensor, terms: LeadingTerms, alpha: float) -> tuple[float, float]:
    """The (c0, c1) that best explain ``exact`` as c0 · AvgGrad − c1 · α · AvgGradInner.

    A least-squares fit over the p coordinates; at small α it recovers the expansion's
    coefficients up to O(α) (the remainder's share).
    """
    alpha = _checks.positive_float("alpha", alpha)
    basis = torch.stack([terms.avg_grad, -alpha * terms.avg_grad_inner], dim=1)
    c0, c1 = torch.linalg.lstsq(basis, exact[:, None]).solution[:, 0].tolist()
    return c0, c1


def _compare(exact, terms: LeadingTerms, k: int, alpha: float):
    """Remainder norm and relative error of the α-coefficient, per method, at one α."""
    predicted = predicted_meta_gradients(terms, k, alpha)
    norm = torch.linalg.vector_norm
    out = {}
    for name, (c0, c1) in coefficients(k).items():
        if not bool(torch.isfinite(exact[name]).all()):
            raise FloatingPointError(
                f"{name}'s meta-gradient is not finite at alpha = {alpha}; use a smaller alpha"
            )
        measured = (exact[name] - c0 * terms.avg_grad) / (-alpha)
        wanted = c1 * terms.avg_grad_inner
        out[name] = (norm(exact[name] - predicted[name]), norm(measured - wanted) / norm(wanted))
    return out


def taylor_check(
    loss: Loss, phi, xs, ys, alphas, fit_range: tuple[float, float] = (1e-3, 1e-2)
) -> TaylorCheck:
    """Compare the exact expected meta-gradients with the leading-order prediction at each α.

    Args:
        loss: ``loss(phi, x, y)`` of one minibatch, ``phi`` a flat vector (:func:`flat_mse_loss`).
        phi: the initialisation at which the meta-gradients are taken.
        xs, ys: ``(draws, k, batch, ...)`` minibatches (use float64).
        alphas: the inner step sizes α to compare at.
        fit_range: the remainder's log-log slope is fitted over the α inside it (both ends
            included); the theory predicts 2 (the remainder is O(α²)).

    Returns:
        A :class:`TaylorCheck`: per method the remainder, the relative error of the O(α) term, the
        fitted slope and the fitted coefficients.

    Raises:
        ValueError: ``fit_range`` holds fewer than two of the α.
        FloatingPointError: an exact meta-gradient is not finite; the message names the α.

    References:
        Nichol, Achiam & Schulman (2018), section 5.1, equations for g_MAML, g_FOMAML, g_Reptile.

    Example:
        >>> loss, phi = flat_mse_loss(net)
        >>> check = taylor_check(loss, phi, xs, ys, alphas=[1e-4, 1e-3, 1e-2])
        >>> check.slope["reptile"]           # ≈ 2: the remainder is O(α²)
    """
    alphas = torch.as_tensor(alphas, dtype=torch.float64).flatten()
    low, high = (float(a) for a in fit_range)
    inside = (alphas >= low * (1 - 1e-9)) & (alphas <= high * (1 + 1e-9))
    if int(inside.sum()) < 2:
        raise ValueError(f"fit_range {fit_range} must hold two or more of the alphas {alphas.tolist()}")
    k = _check_draws(phi, xs, ys)
    terms = leading_terms(loss, phi, xs, ys)
    exacts = [expected_meta_gradients(loss, phi, xs, ys, alpha) for alpha in alphas.tolist()]
    rows = [_compare(exact, terms, k, alpha) for exact, alpha in zip(exacts, alphas.tolist(), strict=True)]
    smallest = int(alphas.argmin())
    fitted = {
        name: fitted_coefficients(exacts[smallest][name], terms, float(alphas[smallest])) for name in METHODS
    }
    remainder = {name: torch.stack([row[name][0] for row in rows]).cpu() for name in METHODS}
    return TaylorCheck(
        k=k,
        alphas=alphas,
        fit_range=(low, high),
        terms=terms,
        remainder=remainder,
        rel_err={name: torch.stack([row[name][1] for row in rows]).cpu() for name in METHODS},
        slope={name: loglog_slope(alphas[inside], r[inside]) for name, r in remainder.items()},
        fitted=fitted,
    )


def circle_loss(phi, centre, radius, scale):
    """A task of the section-5.2 toy: ``scale · (‖φ − c‖ − r)²``, zero on the circle (c, r).

    The loss is the task's scale times the squared Euclidean distance to its optimal set, the
    circle. Gradient descent moves φ along the ray from c, so with a step below 1/(2 · scale) it
    converges to the closest point of the circle, whatever the scale; joint training, which
    minimises Σ scale · distance², is pulled toward the steeper tasks (Nichol et al. 2018, 5.2).
    """
    return scale * (torch.linalg.vector_norm(phi - centre, dim=-1) - radius) ** 2


def circle_distance(phi, centres, radii) -> torch.Tensor:
    """Euclidean distance from each point ``phi`` (``(..., 2)``) to each circle, ``(..., n)``."""
    gap = torch.linalg.vector_norm(phi[..., None, :] - centres, dim=-1)
    return (gap - radii).abs()
