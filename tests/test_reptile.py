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
    task_minibatches,
    train_reptile,
)
from l2l.tasks.regression import SineTasks

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
        return torch.stack([quadratic(p, c[0], s[0]) for c, s in zip(centres, scales, strict=True)]).mean()

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
    torch.testing.assert_close(reptile_update(params, adapted, 0.5)["w"], torch.tensor([0.5, 1.0], dtype=DT))


def test_fixed_point_weights_tasks_by_their_inner_progress():
    """With k steps, W_i − φ = (1 − (1 − α s_i)^k)(c_i − φ): Reptile's fixed point is the mean of
    the centres weighted by 1 − (1 − α s_i)^k (k = 1: by s_i, as joint training; large k: equal)."""
    centres, scales = tasks(n=3, k=6, seed=1)
    alpha = 0.4
    params = {"w": torch.zeros(2, dtype=DT)}
    for _ in range(40):
        params = reptile_step(quadratic, params, (centres, scales), inner_lr=alpha, epsilon=1.0)
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
    run = train_reptile(quadratic, start, sample, 20, inner_lr=0.2, epsilon=1.0, generator=3, keep_path=True)
    assert len(run.path) == 21 and torch.equal(run.path[-1]["w"], run.params["w"])
    assert torch.equal(start["w"], torch.zeros(2, dtype=DT))  # the input is not modified
    assert run.seconds >= run.compile_seconds > 0 and not run.compiled
    again = train_reptile(quadratic, start, sample, 20, inner_lr=0.2, epsilon=1.0, generator=3)
    torch.testing.assert_close(again.params["w"], run.params["w"])
    assert again.path == []
    serial = train_reptile(quadratic, start, sample, 20, inner_lr=0.2, epsilon=1.0, generator=3, serial=True)
    torch.testing.assert_close(serial.params["w"], run.params["w"])
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


def test_task_minibatches_pool_support_and_query_without_repeats():
    batch = SineTasks().sample(4, 6, 4, generator=0, dtype=DT)
    x, y = task_minibatches(batch, k=2, size=5, generator=1)
    assert x.shape == (4, 2, 5, 1) and y.shape == (4, 2, 5, 1)
    pool = torch.cat([batch.x_support, batch.x_query], dim=1)
    for task in range(4):
        taken = x[task].flatten()
        assert len(set(taken.tolist())) == 10  # one epoch of the 10 pooled points, each once
        assert set(taken.tolist()) == set(pool[task].flatten().tolist())
    torch.testing.assert_close(y, SineTasks.function(batch.params, x.flatten(1, 2)).view_as(y))
    more, _ = task_minibatches(batch, k=5, size=4, generator=1)  # 20 points: two epochs
    assert more.shape == (4, 5, 4, 1)
    with pytest.raises(ValueError, match="larger than"):
        task_minibatches(batch, k=1, size=11, generator=1)
    with pytest.raises(TypeError, match="TaskBatch"):
        task_minibatches((x, y), k=1, size=2, generator=1)


def test_train_reptile_falls_back_to_eager_when_compilation_fails(monkeypatch):
    def broken_compile(fn, **kwargs):
        def fail(*args):
            raise RuntimeError("no C++ compiler")

        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    centres, scales = tasks(n=2, k=2)
    start = {"w": torch.zeros(2, dtype=DT)}
    eager = train_reptile(quadratic, start, lambda g: (centres, scales), 3, inner_lr=0.2, epsilon=1.0)
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler"):
        fallback = train_reptile(
            quadratic, start, lambda g: (centres, scales), 3, inner_lr=0.2, epsilon=1.0, compile=True
        )
    assert not fallback.compiled
    torch.testing.assert_close(fallback.params["w"], eager.params["w"])


def _sampler(n=3):
    centres, scales = tasks(n=n, k=2)

    def sample(generator):
        pick = torch.randint(n, (2,), generator=generator)
        return centres[pick], scales[pick]

    return sample


def test_train_reptile_is_reptile_step_repeated_with_epsilon_annealed():
    sample, start = _sampler(), {"w": torch.zeros(2, dtype=DT)}
    run = train_reptile(quadratic, start, sample, 7, inner_lr=0.2, epsilon=0.7)
    gen, phi = torch.Generator().manual_seed(0), start  # the default generator: seed 0
    for t in range(7):  # ε_t = 0.7 (1 − t/7) in float64, the parameters' dtype
        phi = reptile_step(quadratic, phi, sample(gen), inner_lr=0.2, epsilon=linear_anneal(0.7, t, 7))
    assert torch.equal(run.params["w"], phi["w"])


def test_train_reptile_batches_tasks_with_vmap_unless_serial(monkeypatch):
    import l2l.reptile as reptile

    used = []
    for name in ("_batched_step", "_serial_step"):
        real = getattr(reptile, name)
        monkeypatch.setattr(reptile, name, lambda *a, _real=real, _name=name: used.append(_name) or _real(*a))
    start = {"w": torch.zeros(2, dtype=DT)}
    train_reptile(quadratic, start, _sampler(), 2, inner_lr=0.2, epsilon=1.0)
    train_reptile(quadratic, start, _sampler(), 1, inner_lr=0.2, epsilon=1.0, serial=True)
    assert used == ["_batched_step", "_batched_step", "_serial_step"]


def test_train_reptile_names_a_bad_setting_and_checks_the_first_batch():
    start = {"w": torch.zeros(2, dtype=DT)}
    for kw, message in ((dict(iterations=0), r"^iterations must be a positive integer"),
                        (dict(inner_lr=0.0), r"^inner_lr must be a positive"),
                        (dict(epsilon=1.5), r"^epsilon must lie in \[0.0, 1.0\], got 1.5")):
        with pytest.raises(ValueError, match=message):
            settings = {"iterations": 2, "inner_lr": 0.2, "epsilon": 1.0, **kw}
            train_reptile(quadratic, start, _sampler(), **settings)
    centres, scales = tasks(n=2, k=2)
    with pytest.raises(TypeError, match="minibatches must be a non-empty tuple"):  # a list would vmap
        train_reptile(quadratic, start, lambda g: [centres, scales], 1, inner_lr=0.2, epsilon=1.0)


def test_train_reptile_times_itself_and_shows_a_bar_only_when_asked(monkeypatch, capsys):
    import time

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    start, began = {"w": torch.zeros(2, dtype=DT)}, time.perf_counter()
    run = train_reptile(quadratic, start, _sampler(), 1, inner_lr=0.2, epsilon=1.0)
    elapsed = time.perf_counter() - began
    assert 0 < run.compile_seconds <= run.seconds <= elapsed and run.compiled is False
    assert "Reptile" not in capsys.readouterr().err
    train_reptile(quadratic, start, _sampler(), 1, inner_lr=0.2, epsilon=1.0, progress=True)
    assert "Reptile" in capsys.readouterr().err


def test_task_minibatches_draw_from_their_own_generator_and_name_bad_sizes():
    batch = SineTasks().sample(2, 6, 4, generator=0, dtype=DT)
    torch.manual_seed(0)
    first, _ = task_minibatches(batch, k=1, size=10, generator=1)  # the whole pool: allowed
    torch.manual_seed(1)  # the global generator plays no part
    again, _ = task_minibatches(batch, k=1, size=10, generator=1)
    assert torch.equal(first, again)
    with pytest.raises(ValueError, match=r"^k must be a positive integer, got 0"):
        task_minibatches(batch, k=0, size=2, generator=1)
    with pytest.raises(ValueError, match=r"^size must be a positive integer, got 0"):
        task_minibatches(batch, k=1, size=0, generator=1)
    with pytest.raises(TypeError, match="got tuple"):
        task_minibatches((batch.x_support, batch.y_support), k=1, size=2, generator=1)


def test_reptile_step_names_minibatches_of_the_wrong_kind():
    start = {"w": torch.zeros(2, dtype=DT)}
    for bad, got in ((torch.zeros(2, 2), "got Tensor"), ((), "got an empty tuple")):
        with pytest.raises(TypeError, match=f"minibatches must be a non-empty tuple .*{got}"):
            reptile_step(quadratic, start, bad, inner_lr=0.1, epsilon=0.5)
