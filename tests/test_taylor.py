"""Tests of l2l.taylor: the section-5 expansion on models whose terms are known in closed form."""

import math

import pytest
import torch

from l2l.taylor import (
    METHODS,
    circle_distance,
    circle_loss,
    coefficients,
    expected_meta_gradients,
    fitted_coefficients,
    flat_mse_loss,
    gradient_alignment,
    leading_terms,
    loglog_slope,
    meta_gradients,
    predicted_meta_gradients,
    taylor_check,
)

DT = torch.float64


def linear_mse(phi, x, y):
    """A quadratic loss: least squares of a linear model, mean((x φ − y)²)."""
    return ((x @ phi - y) ** 2).mean()


def closed_form(phi, x, y):
    """ḡ = (2/m) Xᵀ(Xφ − y) and H = (2/m) XᵀX of :func:`linear_mse` for one minibatch."""
    m = x.shape[0]
    return 2 / m * x.T @ (x @ phi - y), 2 / m * x.T @ x


def draws(n=6, k=2, m=4, p=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(n, k, m, p, generator=g, dtype=DT)
    ys = torch.randn(n, k, m, generator=g, dtype=DT)
    phi = torch.randn(p, generator=g, dtype=DT)
    return phi, xs, ys


def test_coefficients_match_the_paper():
    assert coefficients(2) == {"maml": (1, 2), "fomaml": (1, 1), "reptile": (2, 1)}
    assert coefficients(4) == {"maml": (1, 6), "fomaml": (1, 3), "reptile": (4, 6)}
    with pytest.raises(ValueError, match="k must be at least 2"):
        coefficients(1)
    with pytest.raises(TypeError, match="k"):
        coefficients(2.5)


def test_meta_gradients_on_a_quadratic_for_k2():
    phi, xs, ys = draws(n=1)
    x, y = xs[0], ys[0]
    alpha = 0.1
    (g1, h1), (g2, h2) = closed_form(phi, x[0], y[0]), closed_form(phi, x[1], y[1])
    eye = torch.eye(phi.numel(), dtype=DT)
    g2_after = g2 - alpha * h2 @ g1  # exact for a quadratic: L'_2(φ − α ḡ_1)
    got = meta_gradients(linear_mse, phi, x, y, alpha)
    torch.testing.assert_close(got["fomaml"], g2_after)
    torch.testing.assert_close(got["reptile"], g1 + g2_after)
    torch.testing.assert_close(got["maml"], (eye - alpha * h1) @ g2_after)


def test_leading_terms_match_closed_form():
    phi, xs, ys = draws(n=5, k=3)
    avg_grad, avg_inner = 0, 0
    for x, y in zip(xs, ys, strict=True):
        g, h = zip(*(closed_form(phi, x[i], y[i]) for i in range(3)), strict=True)
        avg_grad = avg_grad + sum(g) / 3
        pairs = [h[i] @ g[j] for i in range(3) for j in range(3) if i != j]
        avg_inner = avg_inner + sum(pairs) / len(pairs)
    terms = leading_terms(linear_mse, phi, xs, ys)
    torch.testing.assert_close(terms.avg_grad, avg_grad / 5)
    torch.testing.assert_close(terms.avg_grad_inner, avg_inner / 5)


def test_quadratic_k2_remainder_is_known():
    """For a quadratic, FOMAML and Reptile at k = 2 have no remainder after the ordering average;
    MAML's is α² H̄_1 H̄_2 ḡ_1 averaged over both orderings and the draws."""
    phi, xs, ys = draws(n=4)
    alpha = 0.05
    exact = expected_meta_gradients(linear_mse, phi, xs, ys, alpha)
    predicted = predicted_meta_gradients(leading_terms(linear_mse, phi, xs, ys), 2, alpha)
    torch.testing.assert_close(exact["fomaml"], predicted["fomaml"])
    torch.testing.assert_close(exact["reptile"], predicted["reptile"])
    remainder = 0
    for x, y in zip(xs, ys, strict=True):
        (g1, h1), (g2, h2) = closed_form(phi, x[0], y[0]), closed_form(phi, x[1], y[1])
        remainder = remainder + alpha**2 * (h1 @ h2 @ g1 + h2 @ h1 @ g2) / 2
    torch.testing.assert_close(exact["maml"] - predicted["maml"], remainder / 4)
    terms = leading_terms(linear_mse, phi, xs, ys)
    assert fitted_coefficients(exact["reptile"], terms, alpha) == pytest.approx((2.0, 1.0))


def tanh_loss(phi, x, y):
    """A small non-quadratic model: y ≈ tanh(x φ)·1 with φ a vector of weights."""
    return ((torch.tanh(x @ phi) - y) ** 2).mean()


def test_taylor_check_sees_an_alpha_squared_remainder():
    phi, xs, ys = draws(n=8, k=3)
    check = taylor_check(tanh_loss, phi * 0.3, xs, ys, [1e-4, 1e-3, 3e-3, 1e-2])
    assert check.k == 3 and set(check.slope) == set(METHODS)
    for name in METHODS:
        assert abs(check.slope[name] - 2) < 0.1, (name, check.slope[name])
        assert check.rel_err[name][0] < check.rel_err[name][1] < 0.05
        assert check.remainder[name].shape == (4,)
        c0, c1 = coefficients(3)[name]
        assert check.fitted[name] == pytest.approx((c0, c1), rel=1e-2)


def test_taylor_check_arguments_and_blow_up():
    phi, xs, ys = draws(n=2)
    with pytest.raises(ValueError, match="fit_range"):
        taylor_check(linear_mse, phi, xs, ys, [1e-4, 1e-1])
    with pytest.raises(ValueError, match="2 <= k <= 6 minibatches .* got k = 1"):
        taylor_check(linear_mse, phi, xs[:, :1], ys[:, :1], [1e-3, 1e-2])
    many = xs[:, :1].expand(-1, 7, *xs.shape[2:])
    with pytest.raises(ValueError, match="got k = 7"):  # 5040 orderings per draw: refused
        taylor_check(linear_mse, phi, many, ys[:, :1].expand(-1, 7, *ys.shape[2:]), [1e-3, 1e-2])
    with pytest.raises(ValueError, match=r"ys must start with xs's shape .*, got \("):
        expected_meta_gradients(linear_mse, phi, xs, ys[:1], 1e-3)

    def exploding(phi, x, y):
        return torch.exp(x @ phi).mean()

    with pytest.raises(FloatingPointError, match="alpha = 1000"):
        taylor_check(exploding, phi, xs, ys, [1e-3, 1e3], fit_range=(1e-3, 1e3))


def test_loglog_slope():
    x = torch.logspace(-3, -1, 6)
    assert loglog_slope(x, 3 * x**2) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="two or more"):
        loglog_slope([1.0], [1.0])


def test_circle_loss_is_scaled_squared_distance_and_descent_projects():
    centre, radius, scale = torch.tensor([1.0, -1.0], dtype=DT), 2.0, 3.0
    on_circle = centre + radius * torch.tensor([math.cos(0.7), math.sin(0.7)], dtype=DT)
    assert circle_loss(on_circle, centre, radius, scale) == pytest.approx(0.0, abs=1e-12)
    phi = torch.tensor([4.0, 3.0], dtype=DT)
    distance = circle_distance(phi, centre[None], torch.tensor([radius], dtype=DT))
    assert circle_loss(phi, centre, radius, scale) == pytest.approx(scale * distance.item() ** 2)
    start = phi.clone()
    for _ in range(200):  # step below 1/(2 · scale): converges to the closest point
        phi = phi - 0.1 * torch.func.grad(circle_loss)(phi, centre, radius, scale)
    direction = (start - centre) / torch.linalg.vector_norm(start - centre)
    torch.testing.assert_close(phi, centre + radius * direction)


def test_flat_mse_loss_matches_the_module():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    model = model.double()
    loss, phi = flat_mse_loss(model)
    assert phi.shape == (2 * 3 + 3 + 3 + 1,) and not phi.requires_grad
    x, y = torch.randn(7, 2, dtype=DT), torch.randn(7, 1, dtype=DT)
    with torch.no_grad():
        want = ((model(x) - y) ** 2).mean()
    torch.testing.assert_close(loss(phi, x, y), want)
    moved = loss(phi + 0.1, x, y)  # phi, not the module's own weights, is what counts
    assert not torch.isclose(moved, want)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        flat_mse_loss(lambda x: x)


def test_avg_grad_inner_is_half_the_gradient_of_the_alignment():
    phi, xs, ys = draws(n=5, k=3)
    phi = 0.3 * phi
    terms = leading_terms(tanh_loss, phi, xs, ys)
    slope = torch.func.grad(lambda p: gradient_alignment(tanh_loss, p, xs, ys))(phi)
    torch.testing.assert_close(slope / 2, terms.avg_grad_inner)
