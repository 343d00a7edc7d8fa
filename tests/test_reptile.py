"""Tests of l2l.reptile on quadratic tasks, where every update is known in closed form."""

import pytest
import torch
from torch.func import grad

from l2l.reptile import (
    inner_sgd,
    linear_anneal,
    reptile_step,
    reptile_step_serial,
    reptile_update,
    train_reptile,
)

DT = torch.float64


def quadratic(params, centre, scale):
    """A task L(φ) = ½ s ‖φ − c‖², minimised at its centre c with curvature s."""
    return 0.5 * scale * ((params["w"] - centre) ** 2).sum()


def tasks(n=5, k=3, dim=2, seed=0):
    """(centres, scales) of n tasks, repeated over k identical minibatches: (n, k, dim), (n, k)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n, 1, dim, generator=g, dtype=DT).expand(n, k, dim)
    scales = (0.5 + torch.rand(n, 1, generator=g, dtype=DT)).expand(n, k)
    return centres, scales


def test_k1_epsilon1_is_sgd_on_the_expected_loss():
    centres, scales = tasks(k=1)
    params = {"w": torch.tensor([0.3, -0.2], dtype=DT)}

    def expected_loss(p):
        return torch.stack(
            [quadratic(p, c[0], s[0]) for c, s in zip(centres, scales, strict=True)]
        ).mean()

    sgd = params["w"] - 0.1 * grad(expected_loss)(params)["w"]
    got = reptile_step(quadratic, params, (centres, scales), inner_lr=0.1, epsilon=1.0)
    torch.testing.assert_close(got["w"], sgd)


def test_inner_sgd_matches_closed_form():
    centres, scales = tasks(n=1, k=4)
    w0 = torch.tensor([1.0, 2.0], dtype=DT)
    out = inner_sgd(quadratic, {"w": w0}, (centres[0], scales[0]), 0.2)
    shrink = (1 - 0.2 * scales[0, 0]) ** 4  # each step multiplies φ − c by (1 − α s)
    torch.testing.assert_close(out["w"], centres[0, 0] + shrink * (w0 - centres[0, 0]))


def test_batched_equals_serial():
    centres, scales = tasks(n=4, k=3)
    params = {"w": torch.tensor([0.5, 0.5], dtype=DT)}
    batch = (centres, scales)
    a = reptile_step(quadratic, params, batch, inner_lr=0.3, epsilon=0.7)
    b = reptile_step_serial(quadratic, params, batch, inner_lr=0.3, epsilon=0.7)
    torch.testing.assert_close(a["w"], b["w"])


def test_reptile_update_moves_toward_the_mean_adapted_weights():
    params = {"w": torch.zeros(2, dtype=DT)}
    adapted = {"w": torch.tensor([[2.0, 0.0], [0.0, 4.0]], dtype=DT)}
    torch.testing.assert_close(
        reptile_update(params, adapted, 0.5)["w"], torch.tensor([0.5, 1.0], dtype=DT)
    )


def test_fixed_point_weights_tasks_by_their_inner_progress():
    """With k steps, W_i − φ = (1 − (1 − α s_i)^k)(c_i − φ): Reptile's fixed point is the mean of
    the centres weighted by 1 − (1 − α s_i)^k (k = 1: by s_i, as joint training; large k: equal)."""
    centres, scales = tasks(n=3, k=6, seed=1)
    alpha = 0.4
    params = {"w": torch.zeros(2, dtype=DT)}
    for _ in range(200):
        params = reptile_step(quadratic, params, (centres, scales), inner_lr=alpha, epsilon=0.5)
    weights = 1 - (1 - alpha * scales[:, 0]) ** 6
    expected = (weights[:, None] * centres[:, 0]).sum(0) / weights.sum()
    torch.testing.assert_close(params["w"], expected)


def test_linear_anneal():
    assert linear_anneal(0.1, 0, 10) == pytest.approx(0.1)
    assert linear_anneal(0.1, 5, 10) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="iteration must lie in"):
        linear_anneal(0.1, 10, 10)


def test_train_reptile_path_and_arguments():
    centres, scales = tasks(n=3, k=2)

    def sample(generator):
        pick = torch.randint(3, (2,), generator=generator)
        return centres[pick], scales[pick]

    start = {"w": torch.zeros(2, dtype=DT)}
    params, path = train_reptile(
        quadratic, start, sample, 20, inner_lr=0.2, epsilon=1.0, generator=3, keep_path=True
    )
    assert len(path) == 21 and torch.equal(path[-1]["w"], params["w"])
    assert torch.equal(start["w"], torch.zeros(2, dtype=DT))  # the input is not modified
    again, none = train_reptile(
        quadratic, start, sample, 20, inner_lr=0.2, epsilon=1.0, generator=3
    )
    torch.testing.assert_close(again["w"], params["w"])
    assert none == []
    serial, _ = train_reptile(
        quadratic, start, sample, 20, inner_lr=0.2, epsilon=1.0, generator=3, serial=True
    )
    torch.testing.assert_close(serial["w"], params["w"])
    with pytest.raises(ValueError, match="epsilon"):
        reptile_step(quadratic, start, (centres, scales), inner_lr=0.1, epsilon=2.0)
    with pytest.raises(ValueError, match="inner_lr"):
        reptile_step(quadratic, start, (centres, scales), inner_lr=-0.1, epsilon=0.5)
    with pytest.raises(ValueError, match=r"\(n_tasks, k\)"):
        reptile_step(quadratic, start, (centres, scales[:2]), inner_lr=0.1, epsilon=0.5)


def test_train_reptile_names_the_iteration_where_it_diverges():
    centres, scales = tasks(n=2, k=5)
    with pytest.raises(FloatingPointError, match="iteration"):
        train_reptile(
            quadratic,
            {"w": torch.ones(2, dtype=DT)},
            lambda g: (centres * 1e300, scales * 1e10),
            5,
            inner_lr=1.0,
            epsilon=1.0,
        )
