"""MAML for RL: the inner policy-gradient step, the meta-gradient through it against finite
differences (float64, tiny policy), training and evaluation on the navigation task."""

import math

import pytest
import torch

from l2l import maml_rl
from l2l import policy_gradient as pg
from l2l._flat import flatten, unflatten
from l2l.tasks import navigation as nav


@pytest.fixture(autouse=True)
def one_thread():
    """Thousands of small kernels: a second thread only waits on the first (and on a busy core
    it waits for a whole scheduler slice each time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_batch(lr=0.5, seed=0):
    """A 2-6-2 policy in float64 and one sampled meta-batch of 3 tasks × 4 episodes. The biases
    are random: with zero biases every episode's first state (the origin) sits exactly on a
    ReLU kink, where autograd's one-sided derivative and a central difference disagree."""
    gen = torch.Generator().manual_seed(seed)
    params = {n: p.double() for n, p in pg.init_policy(2, 2, (6,), generator=gen).items()}
    for name in ("b0", "b1"):
        params[name] = 0.3 * torch.randn(params[name].shape, generator=gen, dtype=torch.float64)
    goals = nav.sample_goals(3, gen).double()
    batch = maml_rl.sample_meta_batch(params, goals, trajectories=4, lr=lr, discount=0.99, generator=gen)
    return params, batch


def test_inner_step_is_one_gradient_step_per_task():
    params, batch = tiny_batch()
    adapted = maml_rl.inner_step(pg.per_task(params, 3), batch.pre, batch.pre_adv, 0.5, create_graph=False)
    for i in range(3):
        leaves = {n: p.clone().requires_grad_() for n, p in params.items()}
        one = lambda x, i=i: x[i:i + 1]                       # noqa: E731
        logp = pg.log_prob(pg.per_task(leaves, 1), one(batch.pre.observations), one(batch.pre.actions))
        loss = pg.reinforce_loss(logp, one(batch.pre_adv), one(batch.pre.mask)).sum()
        grads = torch.autograd.grad(loss, list(leaves.values()))
        for (name, p), g in zip(params.items(), grads):
            assert torch.allclose(adapted[name][i], p - 0.5 * g, atol=1e-12)


def test_adapted_policy_of_the_batch_is_the_inner_step_at_theta_old():
    params, batch = tiny_batch()
    adapted = maml_rl.inner_step(pg.per_task(params, 3), batch.pre, batch.pre_adv, 0.5, create_graph=False)
    assert all(torch.equal(adapted[n], batch.adapted_old[n]) for n in params)
    surrogate, kl = maml_rl.meta_objective(params, batch, 0.5)
    assert surrogate.item() == pytest.approx(-pg.masked_mean(batch.post_adv, batch.post.mask).mean().item())
    assert abs(kl.item()) < 1e-12


def test_meta_gradient_through_the_inner_step_matches_finite_differences():
    params, batch = tiny_batch()
    theta = {n: p.clone().requires_grad_() for n, p in params.items()}
    surrogate, _ = maml_rl.meta_objective(theta, batch, 0.5)
    grad = flatten(torch.autograd.grad(surrogate, list(theta.values())))
    first = {n: p.clone().requires_grad_() for n, p in params.items()}
    fo_grad = flatten(torch.autograd.grad(maml_rl.meta_objective(first, batch, 0.5, first_order=True)[0],
                                          list(first.values())))
    v = torch.randn(grad.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    eps = 1e-5
    x = flatten(params.values())

    shapes = {n: p.shape for n, p in params.items()}

    def value(vec):
        return maml_rl.meta_objective(unflatten(vec, shapes), batch, 0.5)[0].item()
    numeric = (value(x + eps * v) - value(x - eps * v)) / (2 * eps)
    assert (grad @ v).item() == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    # the second-order term is not negligible here: first-order MAML's gradient differs
    assert abs((fo_grad @ v).item() - numeric) > 1e3 * abs((grad @ v).item() - numeric)


def test_first_tasks_of_a_batch_are_a_consistent_sub_batch():
    params, batch = tiny_batch()
    part = batch.first(2)
    assert part.pre.goals.shape == (2, 2) and part.post_logp_old.shape == (2, 4, 100)
    whole, sub = maml_rl.meta_objective(params, batch, 0.5), maml_rl.meta_objective(params, part, 0.5)
    per_task = -pg.masked_mean(batch.post_adv, batch.post.mask)
    assert sub[0].item() == pytest.approx(per_task[:2].mean().item())
    assert whole[0].item() == pytest.approx(per_task.mean().item())


def test_zero_inner_step_is_joint_training():
    params, batch = tiny_batch(lr=0.0)
    assert all(torch.equal(batch.adapted_old[n], pg.per_task(params, 3)[n]) for n in params)


def test_training_runs_and_records_every_iteration():
    result = maml_rl.train_maml_rl(2, meta_batch=2, trajectories=2, generator=0)
    assert len(result.pre_returns) == len(result.post_returns) == len(result.kls) == 2
    assert all(0 <= kl <= 0.01 for kl in result.kls) and result.seconds > 0
    again = maml_rl.train_maml_rl(2, meta_batch=2, trajectories=2, generator=0)
    assert all(torch.equal(result.params[n], again.params[n]) for n in result.params)


def test_adaptation_returns_shape_and_that_steps_change_the_policy():
    params = pg.init_policy(generator=torch.Generator().manual_seed(0))
    goals = nav.sample_goals(4, torch.Generator().manual_seed(1))
    curve = maml_rl.adaptation_returns(params, goals, steps=2, trajectories=3, lr=0.1, generator=0)
    assert curve.shape == (3, 4) and (curve < 0).all()
    frozen = maml_rl.adaptation_returns(params, goals, steps=2, trajectories=3, lr=0.0, generator=0)
    assert torch.equal(curve[0], frozen[0]) and not torch.equal(curve[1:], frozen[1:])


def test_adapt_on_is_the_inner_step_on_the_episodes_advantages():
    params, batch = tiny_batch()
    adapted = maml_rl.adapt_on(pg.per_task(params, 3), batch.pre, 0.5)
    assert all(torch.equal(adapted[n], batch.adapted_old[n]) for n in params)
    assert not any(p.requires_grad for p in adapted.values())


def test_mean_path_follows_the_mean_action_from_the_origin():
    params = {n: torch.zeros_like(p) for n, p in pg.init_policy(2, 2, (3,)).items()}
    params["b1"] = torch.tensor([2.0, 0.5])                    # mean action (2, 0.5): moves (0.1, 0.05)
    path = maml_rl.mean_path(pg.per_task(params, 1), torch.tensor([[0.5, 0.25]]))
    assert path.shape == (1, 101, 2) and path[0, 0].tolist() == [0, 0]
    assert path[0, 3].tolist() == pytest.approx([0.3, 0.15])
    assert path[0, -1].tolist() == pytest.approx([0.5, 0.25], abs=1e-5)   # reached at step 5, stays


def test_mean_ci95():
    from l2l.maml import mean_ci95

    mean, half = mean_ci95(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    assert mean.item() == 2.5 and half.item() == pytest.approx(1.96 * 1.2909944 / 2)
    mean, half = mean_ci95(torch.tensor([[3.0], [5.0]]))  # one value per row: no spread
    assert mean.tolist() == [3.0, 5.0] and half.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("kwargs, message", [
    ({"iterations": 0}, "iterations must be a positive integer"),
    ({"iterations": 1, "meta_batch": 0}, "meta_batch must be a positive integer"),
    ({"iterations": 1, "trajectories": 2.0}, "trajectories must be a positive integer"),
    ({"iterations": 1, "inner_lr": -0.1}, "inner_lr must be a finite number >= 0"),
])
def test_bad_training_settings_are_refused(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        maml_rl.train_maml_rl(**kwargs)


def test_bad_evaluation_settings_are_refused():
    params = pg.init_policy()
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        maml_rl.adaptation_returns(params, torch.zeros(1, 2), steps=-1)
    with pytest.raises(ValueError, match="outside the square"):
        maml_rl.adaptation_returns(params, torch.tensor([[0.0, 0.7]]))


def _short(**kw):
    return maml_rl.train_maml_rl(1, meta_batch=2, trajectories=2, generator=0, **kw)


def test_training_starts_from_given_parameters_and_honours_its_settings():
    import time

    start = pg.init_policy(generator=torch.Generator().manual_seed(5))
    began = time.perf_counter()
    tiny = _short(params=start, max_kl=1e-10)  # a trust region this small barely moves
    elapsed = time.perf_counter() - began
    assert all((tiny.params[n] - start[n]).abs().max() < 1e-3 for n in start)
    assert 0 < tiny.seconds <= elapsed and tiny.kls[0] <= 1e-10
    assert all(isinstance(r, float) and math.isfinite(r) for r in tiny.pre_returns + tiny.post_returns)
    default = _short()
    moved = _short(max_kl=1e-2)
    assert all(torch.equal(default.params[n], moved.params[n]) for n in start)  # max_kl=0.01 by default
    first = _short(first_order=True)
    assert not all(torch.equal(first.params[n], default.params[n]) for n in start)  # FOMAML differs
    fewer = _short(curvature_tasks=1)  # the KL's curvature on one task instead of both
    assert not all(torch.equal(fewer.params[n], default.params[n]) for n in start)


def test_adaptation_returns_take_steps_and_discount_as_given():
    params = pg.init_policy(generator=torch.Generator().manual_seed(0))
    goals = nav.sample_goals(2, torch.Generator().manual_seed(1))
    default = maml_rl.adaptation_returns(params, goals, trajectories=2)
    assert default.shape == (4, 2)  # steps=3 by default: 0, 1, 2, 3
    short_sighted = maml_rl.adaptation_returns(params, goals, trajectories=2, discount=0.5)
    assert torch.equal(default[0], short_sighted[0]) and not torch.equal(default[1:], short_sighted[1:])
