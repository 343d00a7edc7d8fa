"""Task distributions: shapes, ranges, reproducibility, fixed inputs and argument checks."""

import math

import pytest
import torch

from l2l.tasks.regression import LinearTasks, SineTasks, TaskBatch


def test_sine_batch_shapes_and_ranges():
    batch = SineTasks().sample(2000, k_support=10, k_query=7, generator=0)
    assert isinstance(batch, TaskBatch)
    assert batch.x_support.shape == (2000, 10, 1) and batch.y_support.shape == (2000, 10, 1)
    assert batch.x_query.shape == (2000, 7, 1) and batch.y_query.shape == (2000, 7, 1)
    assert len(batch) == 2000 and batch.k_support == 10 and batch.k_query == 7
    assert batch.x_support.dtype == torch.float32
    amp, phase = batch.params["amplitude"], batch.params["phase"]
    assert 0.1 <= amp.min() and amp.max() <= 5.0 and amp.max() > 4.9
    assert 0.0 <= phase.min() and phase.max() <= math.pi and phase.max() > 3.1
    assert batch.x_query.abs().max() <= 5.0
    want = amp[:, None, None] * torch.sin(batch.x_query - phase[:, None, None])
    torch.testing.assert_close(batch.y_query, want)


def test_sine_configurable_phase_and_fixed_grid():
    tasks = SineTasks(phase=(0.0, 2 * math.pi))
    grid = torch.linspace(-5, 5, 50)
    batch = tasks.sample(500, k_support=10, generator=1, query_x=grid)
    assert batch.params["phase"].max() > math.pi
    assert batch.x_query.shape == (500, 50, 1)
    torch.testing.assert_close(batch.x_query[7, :, 0], grid)
    assert batch.k_query == 50 and batch.k_support == 10


def test_seed_and_generator_reproduce():
    a = SineTasks().sample(5, 10, generator=3)
    b = SineTasks().sample(5, 10, generator=torch.Generator().manual_seed(3))
    c = SineTasks().sample(5, 10, generator=4)
    torch.testing.assert_close(a.y_query, b.y_query)
    assert not torch.equal(a.y_query, c.y_query)


def test_indexing_and_to():
    batch = SineTasks().sample(6, 4, generator=0)
    one = batch[2]
    assert len(one) == 1 and one.x_support.shape == (1, 4, 1)
    torch.testing.assert_close(one.params["phase"], batch.params["phase"][2:3])
    assert len(batch[-1]) == 1 and len(batch[1:4]) == 3
    as64 = batch.to(dtype=torch.float64)
    assert as64.y_query.dtype == torch.float64 and as64.params["amplitude"].dtype == torch.float64


def test_function_on_grid_broadcasts():
    batch = SineTasks().sample(3, 4, generator=0)
    grid = torch.linspace(-5, 5, 11)[:, None]
    assert SineTasks.function(batch.params, grid).shape == (3, 11, 1)


def test_linear_tasks_scales_slopes_and_noise():
    tasks = LinearTasks(x_scales=(0.5, 2.0), slope_means=(2.0, -1.0), slope_std=0.1, noise_std=0.0)
    batch = tasks.sample(4000, k_support=5, k_query=6, generator=0)
    scale, slope = batch.params["scale"], batch.params["slope"]
    assert set(scale.unique().tolist()) == {0.5, 2.0}
    assert (slope[scale == 0.5].mean() - 2.0).abs() < 0.02
    assert (slope[scale == 2.0].mean() + 1.0).abs() < 0.02
    assert (batch.x_support.abs().squeeze(-1) <= scale[:, None]).all()
    torch.testing.assert_close(batch.y_query, LinearTasks.function(batch.params, batch.x_query))
    moments = LinearTasks.moments(batch.params)
    torch.testing.assert_close(moments[:, 0, 0], scale**2 / 3)
    # the population moment matches the empirical one of many inputs
    big = tasks.sample(1, k_support=200_000, generator=1)
    s = big.params["scale"][0]
    assert abs((big.x_support**2).mean() - s**2 / 3) < 0.01 * s**2


def test_linear_noise_level():
    batch = LinearTasks(noise_std=0.3).sample(200, k_support=100, generator=0)
    resid = batch.y_support - LinearTasks.function(batch.params, batch.x_support)
    assert abs(resid.std() - 0.3) < 0.01


def test_argument_checks():
    with pytest.raises(ValueError, match="n_tasks"):
        SineTasks().sample(0, 10)
    with pytest.raises(TypeError, match="k_support"):
        SineTasks().sample(3, 2.5)
    with pytest.raises(ValueError, match="amplitude"):
        SineTasks(amplitude=(5.0, 0.1))
    with pytest.raises(TypeError, match="phase"):
        SineTasks(phase=3.0)
    with pytest.raises(ValueError, match="slope_means"):
        LinearTasks(x_scales=(1.0, 2.0, 3.0), slope_means=(0.0, 1.0))
    with pytest.raises(ValueError, match="query_x"):
        SineTasks().sample(3, 4, query_x=torch.zeros(5, 2))


def test_a_task_index_out_of_range_raises_instead_of_giving_an_empty_batch():
    batch = SineTasks().sample(5, 3, generator=0)
    assert len(batch[4]) == 1 and torch.equal(batch[-1].x_support, batch[4].x_support)
    for index in (5, -6):
        with pytest.raises(IndexError, match=f"task index {index} is out of range for a batch of 5 tasks"):
            batch[index]


@pytest.mark.parametrize("kw, error, message", [
    (dict(x_scales=(1.0, -2.0), slope_means=(0.0,)), ValueError, r"x_scales\[1\] must be a positive"),
    (dict(slope_means=(float("nan"),)), ValueError, r"slope_means\[0\] must be a finite number"),
    (dict(noise_std=-0.1), ValueError, "noise_std must be a finite number >= 0, got -0.1"),
    (dict(intercept_mean=float("inf")), ValueError, "intercept_mean must be a finite number"),
])
def test_linear_tasks_name_the_bad_setting_and_its_index(kw, error, message):
    with pytest.raises(error, match=message):
        LinearTasks(**kw)
    assert LinearTasks(noise_std=0.0).noise_std == 0.0  # no noise is allowed


@pytest.mark.parametrize("tasks", [SineTasks(), LinearTasks(x_scales=(1.0, 3.0), slope_means=(-1.0, 1.0))])
def test_a_seed_gives_the_same_tasks_whatever_the_global_generator_did(tasks):
    torch.manual_seed(0)
    first = tasks.sample(6, 4, 3, generator=11)
    torch.manual_seed(1)
    again = tasks.sample(6, 4, 3, generator=11)
    assert torch.equal(first.x_support, again.x_support) and torch.equal(first.y_query, again.y_query)
    assert all(torch.equal(first.params[k], again.params[k]) for k in first.params)
    wide = tasks.sample(6, 4, 3, generator=11, dtype=torch.float64)
    assert wide.x_support.dtype == wide.y_support.dtype == torch.float64
