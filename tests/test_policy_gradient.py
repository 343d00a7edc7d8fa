"""Policy-gradient pieces: the Gaussian policy, returns, the linear baseline, the REINFORCE
estimator against a closed form, conjugate gradient and the TRPO step's trust region."""

import math

import pytest
import torch

from l2l import policy_gradient as pg


def tiny_policy(dtype=torch.float64, seed=0):
    params = pg.init_policy(2, 2, (5,), generator=torch.Generator().manual_seed(seed))
    return {n: p.to(dtype) for n, p in params.items()}


def test_init_policy_shapes_and_glorot_bounds():
    params = pg.init_policy(generator=torch.Generator().manual_seed(0))
    assert {n: tuple(p.shape) for n, p in params.items()} == {
        "W0": (2, 100), "b0": (100,), "W1": (100, 100), "b1": (100,), "W2": (100, 2), "b2": (2,),
        "log_std": (2,)}
    assert params["W1"].abs().max() <= math.sqrt(6 / 200) and params["b1"].abs().max() == 0


def test_log_prob_matches_torch_distributions():
    params = pg.per_task(tiny_policy(), 3)
    obs, actions = torch.randn(3, 4, 6, 2, dtype=torch.float64), torch.randn(3, 4, 6, 2, dtype=torch.float64)
    params = {**params, "log_std": torch.tensor([[0.1, -0.3]] * 3, dtype=torch.float64)}
    mean = pg.policy_mean(params, obs.reshape(3, 24, 2)).reshape(3, 4, 6, 2)
    normal = torch.distributions.Normal(mean, torch.exp(params["log_std"]).reshape(3, 1, 1, 2))
    assert torch.allclose(pg.log_prob(params, obs, actions), normal.log_prob(actions).sum(-1))


def test_per_task_parameters_give_per_task_means():
    a, b = tiny_policy(seed=0), tiny_policy(seed=1)
    both = {n: torch.stack([a[n], b[n]]) for n in a}
    obs = torch.randn(2, 7, 2, dtype=torch.float64)
    mean = pg.policy_mean(both, obs)
    assert torch.allclose(mean[1], pg.policy_mean(pg.per_task(b, 1), obs[1:])[0])


def test_gaussian_kl_matches_torch_and_is_zero_against_itself():
    old, new = pg.per_task(tiny_policy(seed=0), 2), pg.per_task(tiny_policy(seed=1), 2)
    new = {**new, "log_std": torch.tensor([[0.2, -0.1]] * 2, dtype=torch.float64)}
    obs = torch.randn(2, 5, 2, dtype=torch.float64)
    kl = pg.gaussian_kl(old, new, obs)

    def dist(p):
        return torch.distributions.Normal(pg.policy_mean(p, obs), torch.exp(p["log_std"]).unsqueeze(1))
    assert torch.allclose(kl, torch.distributions.kl_divergence(dist(old), dist(new)).sum(-1))
    assert pg.gaussian_kl(old, old, obs).abs().max() < 1e-12


def test_discounted_returns_by_hand():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    assert pg.discounted_returns(rewards, 0.5).tolist() == [[1 + 1 + 0.75, 2 + 1.5, 3.0]]
    with pytest.raises(ValueError, match="discount must lie in"):
        pg.discounted_returns(rewards, 1.5)


def test_baseline_features_by_hand():
    obs = torch.tensor([[[1.0, -2.0], [20.0, 0.5], [0.0, 0.0]]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    phi = pg.baseline_features(obs, mask)
    assert phi[0, 0].tolist() == pytest.approx([1, -2, 1, 4, 0, 0, 0, 1])
    assert phi[0, 1].tolist() == pytest.approx([10, 0.5, 100, 0.25, 0.01, 1e-4, 1e-6, 1])  # s clipped to 10
    assert phi[0, 2].abs().max() == 0


def test_linear_baseline_fits_returns_that_are_linear_in_its_features():
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn(2, 3, 10, 2, generator=gen, dtype=torch.float64)
    mask = torch.ones(2, 3, 10, dtype=torch.float64)
    mask[0, 0, 6:] = 0
    w = torch.randn(8, generator=gen, dtype=torch.float64)
    returns = (pg.baseline_features(obs, mask) @ w) * mask
    assert torch.allclose(pg.linear_baseline(obs, returns, mask, ridge=1e-10), returns, atol=1e-6)


def test_advantages_are_normalised_per_task_over_valid_steps():
    gen = torch.Generator().manual_seed(1)
    rewards = torch.randn(2, 4, 10, generator=gen, dtype=torch.float64)
    obs = torch.randn(2, 4, 10, 2, generator=gen, dtype=torch.float64)
    mask = torch.ones_like(rewards)
    mask[1, :, 7:] = 0
    adv = pg.advantages(rewards * mask, obs, mask)
    assert pg.masked_mean(adv, mask).abs().max() < 1e-9
    assert torch.allclose(pg.masked_mean(adv ** 2, mask), torch.ones(2, dtype=torch.float64), atol=1e-6)
    assert adv[1, :, 7:].abs().max() == 0


def test_reinforce_estimate_matches_the_closed_form_gradient_of_a_one_step_problem():
    """a ~ N(μ, σ²), reward −(a − g)²: E[r] = −(μ − g)² − σ², so ∂E/∂μ = −2(μ − g), ∂E/∂log σ = −2σ²."""
    mu, log_std, goal = torch.tensor(0.3, requires_grad=True), torch.tensor(-0.5, requires_grad=True), 1.0
    gen = torch.Generator().manual_seed(0)
    a = (mu + torch.exp(log_std) * torch.randn(400_000, generator=gen)).detach()
    logp = torch.distributions.Normal(mu, torch.exp(log_std)).log_prob(a)
    reward = -(a - goal) ** 2
    loss = pg.reinforce_loss(logp.unsqueeze(0), reward.unsqueeze(0), torch.ones(1, a.numel()))
    d_mu, d_log_std = torch.autograd.grad(-loss.sum(), [mu, log_std])
    assert d_mu.item() == pytest.approx(-2 * (0.3 - goal), abs=0.02)
    assert d_log_std.item() == pytest.approx(-2 * math.exp(-1.0), abs=0.02)


def test_conjugate_gradient_solves_a_spd_system():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    a = q @ q.T + 6 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, generator=gen, dtype=torch.float64)
    x = pg.conjugate_gradient(lambda v: a @ v, b, iterations=6)
    assert torch.allclose(a @ x, b, atol=1e-8)


def quadratic_problem():
    """Surrogate −(mean action on 50 states); KL to the current Gaussian policy."""
    old = tiny_policy()
    obs = torch.randn(1, 50, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def objective(p):
        p = pg.per_task(p, 1)
        return -pg.policy_mean(p, obs).mean(), pg.gaussian_kl(pg.per_task(old, 1), p, obs).mean()
    return old, objective


@pytest.mark.parametrize("max_kl", [1e-3, 1e-2])
def test_trpo_step_improves_the_surrogate_within_its_kl_bound(max_kl):
    old, objective = quadratic_problem()
    step = pg.trpo_step(old, objective, max_kl=max_kl)
    loss, kl = objective(step.params)
    assert step.backtracks >= 0 and loss.item() < objective(old)[0].item()
    assert kl.item() <= max_kl and kl.item() == pytest.approx(step.kl)
    # on a smooth problem the quadratic model is accurate: the full step lands on the region's edge
    assert step.backtracks == 0 and kl.item() > 0.99 * max_kl


def test_trpo_damping_shortens_the_step():
    old, objective = quadratic_problem()
    plain, damped = pg.trpo_step(old, objective, damping=1e-5), pg.trpo_step(old, objective, damping=10.0)
    assert damped.kl < 0.5 * plain.kl


def test_trpo_step_refuses_a_non_positive_bound():
    old, objective = quadratic_problem()
    with pytest.raises(ValueError, match="max_kl must be positive"):
        pg.trpo_step(old, objective, max_kl=0.0)


def _rejected_as_unchanged(step, old, loss):
    assert step.backtracks == -1 and step.kl == 0.0
    assert step.loss_before == step.loss_after == pytest.approx(loss)
    assert all(torch.equal(step.params[n], old[n]) and not step.params[n].requires_grad for n in old)


def test_trpo_rejects_a_step_no_candidate_of_which_keeps_inside_the_region():
    old, objective = quadratic_problem()

    def far(p):  # the same surrogate, but every candidate measures a KL past the bound
        loss, kl = objective(p)
        return loss, kl + 1.0

    step = pg.trpo_step(old, far, curvature=lambda p: objective(p)[1], max_kl=1e-2)
    _rejected_as_unchanged(step, old, objective(old)[0].item())


def test_trpo_rejects_when_the_curvature_is_not_positive():
    old, objective = quadratic_problem()
    step = pg.trpo_step(old, objective, curvature=lambda p: -objective(p)[1], max_kl=1e-2, damping=0.0)
    _rejected_as_unchanged(step, old, objective(old)[0].item())


def test_trpo_takes_its_curvature_from_the_function_given():
    old, objective = quadratic_problem()
    plain = pg.trpo_step(old, objective, max_kl=1e-2)
    flatter = pg.trpo_step(old, objective, curvature=lambda p: 0.25 * objective(p)[1], max_kl=1e-2)
    # a curvature 4 × lower makes the full step twice as long: past the region, so it backtracks
    assert plain.backtracks == 0 and flatter.backtracks > 0
