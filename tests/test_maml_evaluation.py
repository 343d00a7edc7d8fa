"""The adaptation statistics against hand-computed answers, and the settings each one honours."""

import math

import pytest
import torch
from torch import nn

from l2l.maml import (
    adaptation_losses,
    evaluate_adaptation,
    parameters_of,
    summarize_adaptation,
    tune_step_size,
)
from l2l.tasks.regression import SineTasks


def _net(dtype=torch.float64):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).to(dtype)


def test_summary_by_hand():
    losses = torch.tensor([[1.0, 2.0, 3.0, 6.0],       # step 0: mean 3, threshold 10 × 3 = 30
                           [0.5, 30.0, 31.0, math.inf]])  # step 1: 30 is not above it, 31 and inf are
    curve = summarize_adaptation(losses, lr=0.1, divergence_factor=10.0)
    std0 = torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64).std().item()
    assert curve.at(0) == {"mean": 3.0, "ci95": pytest.approx(1.96 * std0 / 2), "median": 2.0, "diverged": 0}
    assert curve.at(1)["mean"] == math.inf and curve.at(1)["ci95"] == math.inf
    assert curve.at(1)["median"] == 30.0 and curve.at(1)["diverged"] == 2
    assert curve.steps == 1 and curve.lr == 0.1 and curve.losses.dtype == torch.float64


def test_the_divergence_threshold_uses_the_finite_losses_before_adaptation():
    losses = torch.tensor([[1.0, 3.0, math.inf], [25.0, 15.0, 1.0]])  # finite mean at step 0: 2
    assert summarize_adaptation(losses, divergence_factor=10.0).at(1)["diverged"] == 1  # 25 > 20, 15 is not


def test_one_task_has_no_spread():
    curve = summarize_adaptation(torch.tensor([[2.0], [1.0]]))
    assert curve.at(0)["ci95"] == 0.0 and curve.at(1)["mean"] == 1.0


def test_a_blown_up_task_reads_inf_not_nan_or_zero():
    net = _net()
    batch = SineTasks().sample(3, 5, 5, generator=0, dtype=torch.float64)
    losses = adaptation_losses(net, parameters_of(net), batch, lr=1e200, steps=3)
    assert torch.isfinite(losses[0]).all() and (losses[-1] == math.inf).all()
    # a loss that overflows to +inf (not NaN) stays inf, not the largest float
    overflow = adaptation_losses(net, parameters_of(net), batch, lr=0.0, steps=2,
                                 loss_fn=lambda prediction, y: ((prediction - y) ** 2).mean() * 1e308 * 1e10)
    assert (overflow == math.inf).all()


def test_evaluate_adaptation_defaults_and_settings():
    net = _net()
    params = parameters_of(net)
    curve = evaluate_adaptation(net, params, SineTasks(), lr=0.01)
    assert curve.losses.shape == (11, 600) and curve.lr == 0.01
    explicit = evaluate_adaptation(net, params, SineTasks(), lr=0.01, steps=10, n_tasks=600, k_support=10,
                                   k_query=100, generator=0)
    assert torch.equal(curve.losses, explicit.losses)
    # the tasks are drawn in the parameters' dtype, on a fixed query grid when one is given
    grid = torch.linspace(-5, 5, 7, dtype=torch.float64)
    batch = SineTasks().sample(20, 10, generator=3, dtype=torch.float64, query_x=grid)
    on_grid = evaluate_adaptation(net, params, SineTasks(), lr=0.01, steps=2, n_tasks=20, generator=3,
                                  query_x=grid)
    torch.testing.assert_close(on_grid.losses, adaptation_losses(net, params, batch, lr=0.01, steps=2))
    absolute = evaluate_adaptation(net, params, SineTasks(), lr=0.01, steps=2, n_tasks=20, generator=3,
                                   query_x=grid, loss_fn=lambda p, t: (p - t).abs().mean())
    assert not torch.allclose(absolute.losses, on_grid.losses)
    assert evaluate_adaptation(net, params, SineTasks(), lr=0.01, steps=1, n_tasks=5,
                               divergence_factor=1e-9).at(1)["diverged"] == 5


def test_tune_step_size_defaults_are_its_documented_ones():
    net = _net()
    params = parameters_of(net)
    best, scores = tune_step_size(net, params, SineTasks(), [0.001, 0.01])
    again = tune_step_size(net, params, SineTasks(), [0.001, 0.01], steps=10, n_tasks=100, k_support=10,
                           k_query=100, generator=1)
    assert (best, scores) == again and set(scores) == {0.001, 0.01}
    other = tune_step_size(net, params, SineTasks(), [0.001, 0.01], generator=2)[1]
    assert other != scores  # the generator picks the tasks
    with pytest.raises(ValueError, match="candidates must hold at least one step size"):
        tune_step_size(net, params, SineTasks(), [])
