import math

import pytest
import torch

from l2l.baselines import NAG, SGD, Adam, RMSprop, lr_grid, tune_baselines, tune_learning_rate
from l2l.learned_optimizer import evaluate
from l2l.tasks.problems import sample_quadratics


def test_nag_matches_a_hand_computed_update_on_a_1d_quadratic():
    # f(θ) = θ², ∇ = 2θ, θ0 = 1, lr = 0.1, μ = 0.9, PyTorch's Nesterov form.
    rule = NAG(lr=0.1, momentum=0.9)
    theta = torch.tensor([1.0])
    buf = rule.init_state(theta)
    update, buf = rule.step(2 * theta, buf)  # b1 = 2, update = -0.1 (2 + 0.9·2) = -0.38
    assert update.item() == pytest.approx(-0.38)
    theta = theta + update  # 0.62
    update, buf = rule.step(2 * theta, buf)  # b2 = 0.9·2 + 1.24 = 3.04; -0.1 (1.24 + 2.736)
    assert buf.item() == pytest.approx(3.04)
    assert update.item() == pytest.approx(-0.3976)


@pytest.mark.parametrize(
    "rule, reference",
    [
        (SGD(0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
        (NAG(0.05), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
        (RMSprop(0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
        (Adam(0.1), lambda p: torch.optim.Adam(p, lr=0.1)),
        # settings far from the defaults, so that each one (and the sign of ε) shows in the update
        (NAG(0.05, momentum=0.5), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, nesterov=True)),
        (RMSprop(0.01, alpha=0.5, eps=0.5), lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.5, eps=0.5)),
        (Adam(0.1, betas=(0.5, 0.7), eps=0.5),
         lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.5, 0.7), eps=0.5)),
    ],
    ids=["SGD", "NAG", "RMSprop", "Adam", "NAG-0.5", "RMSprop-eps", "Adam-eps"],
)
def test_rules_match_torch_optim_step_for_step(rule, reference):
    problem = sample_quadratics(batch=3, dim=4, generator=0)
    theta = problem.initial_params()
    param = torch.nn.Parameter(theta.clone())
    opt = reference([param])
    state = rule.init_state(theta)
    for _ in range(5):
        _, grad = problem.loss_and_grad(theta)
        update, state = rule.step(grad, state)
        theta = theta + update
        opt.zero_grad()
        problem.loss(param).sum().backward()
        opt.step()
        torch.testing.assert_close(theta, param.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [SGD, NAG, RMSprop, Adam])
def test_rules_reject_non_positive_learning_rates(cls):
    with pytest.raises(ValueError, match="lr must be a positive finite number, got 0"):
        cls(0.0)
    with pytest.raises(ValueError, match="lr must be a positive finite number, got -0.1"):
        cls(-0.1)


def test_lr_grid_is_log_spaced():
    assert lr_grid(1e-3, 1.0, 1) == [1e-3, 1e-2, 1e-1, 1.0]
    assert lr_grid(0.01, 0.1, 2) == [0.01, 0.0316, 0.1]
    with pytest.raises(ValueError, match="must not exceed"):
        lr_grid(1.0, 0.1)


def test_tuning_picks_the_lowest_final_loss_and_scores_divergence_as_inf():
    val = [sample_quadratics(batch=16, dim=5, generator=3)]
    tuned = tune_learning_rate(SGD, val, steps=20, lrs=[1e-4, 1e-2, 10.0])
    assert math.isinf(tuned.scores[10.0])  # SGD with lr 10 diverges on these quadratics
    finite = {lr: s for lr, s in tuned.scores.items() if math.isfinite(s)}
    assert tuned.lr == min(finite, key=finite.get)
    assert evaluate(tuned.rule, val[0], 20)[-1].mean().item() == pytest.approx(tuned.scores[tuned.lr])


def test_tuning_every_baseline_and_rejecting_unknown_names():
    val = [sample_quadratics(batch=4, dim=3, generator=4)]
    tuned = tune_baselines(val, steps=5, lrs=[1e-2, 1e-1])
    assert set(tuned) == {"SGD", "RMSprop", "Adam", "NAG"}
    assert all(t.lr in (1e-2, 1e-1) for t in tuned.values())
    with pytest.raises(ValueError, match="unknown baselines"):
        tune_baselines(val, steps=5, names=["Adagrad"])
    with pytest.raises(ValueError, match="at least one baseline"):
        tune_baselines(val, steps=5, names=())


def test_tuning_raises_when_every_learning_rate_diverges():
    val = [sample_quadratics(batch=4, dim=3, generator=4)]
    with pytest.raises(FloatingPointError, match="every learning rate"):
        tune_learning_rate(SGD, val, steps=30, lrs=[50.0, 100.0])


def test_batched_tuning_scores_each_rate_as_its_own_run_would():
    problems = [sample_quadratics(batch=8, dim=5, generator=1),
                sample_quadratics(batch=4, dim=5, generator=2)]
    lrs = [0.001, 0.01, 0.1, 1.0]
    tuned = tune_baselines(problems, steps=15, lrs=lrs, last=3)
    for name, cls in [("SGD", SGD), ("Adam", Adam), ("NAG", NAG), ("RMSprop", RMSprop)]:
        for lr in lrs:
            runs = torch.cat([evaluate(cls(lr), p, 15)[-3:] for p in problems], dim=1)
            expected = runs.mean().item()
            expected = expected if math.isfinite(expected) else math.inf
            assert tuned[name].scores[lr] == pytest.approx(expected, rel=1e-6)
        assert tuned[name].lr == min(tuned[name].scores, key=tuned[name].scores.get)


def test_adam_update_is_algorithm_1_by_hand_and_takes_tensor_step_counts():
    from l2l.baselines import adam_update

    g, m, v = torch.tensor([0.5, -2.0]), torch.tensor([0.1, 0.2]), torch.tensor([0.3, 0.4])
    t, lr, b1, b2, eps = 3, 0.01, 0.8, 0.9, 1e-3
    m_t, v_t = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g**2
    expected = -lr * (m_t / (1 - b1**t)) / ((v_t / (1 - b2**t)).sqrt() + eps)
    update, m_new, v_new = adam_update(g, m, v, t, lr, b1, b2, eps)
    torch.testing.assert_close(update, expected)
    torch.testing.assert_close((m_new, v_new), (m_t, v_t))
    traced = adam_update(g, m, v, torch.tensor(3.0), torch.tensor(lr), b1, b2, eps)  # as in train_maml
    torch.testing.assert_close(traced[0], expected)


def test_the_default_grid_is_two_rates_per_decade_from_1e4_to_1_and_tuning_uses_it():
    assert lr_grid() == [1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 0.1, 0.316, 1.0]
    assert lr_grid(0.1, 0.1) == [0.1]  # one rate is a grid
    # anchored at 1 and never past the bounds: a rounded bound is a grid point, others are not
    assert lr_grid(0.0316, 1.0) == [0.0316, 0.1, 0.316, 1.0]
    assert lr_grid(1e-3, 3.16, per_decade=4)[-1] == 3.16 and lr_grid(1e-3, 3.0, per_decade=4)[-1] == 1.78
    assert lr_grid(1e-4, 0.8)[-1] == 0.316 and lr_grid(0.02, 0.2)[0] == 0.0316
    with pytest.raises(ValueError, match="no learning rate 10"):
        lr_grid(0.02, 0.03)
    tuned = tune_learning_rate(SGD, [sample_quadratics(batch=2, dim=2, generator=1)], steps=3)
    assert list(tuned.scores) == lr_grid()


@pytest.mark.parametrize("kw, message", [
    (dict(low=0.0), "low must be a positive"), (dict(high=-1.0), "high must be a positive"),
    (dict(per_decade=0), "per_decade must be a positive integer"),
])
def test_lr_grid_errors_name_the_setting(kw, message):
    with pytest.raises(ValueError, match=message):
        lr_grid(**kw)


def test_tuning_errors_say_what_is_missing_and_results_carry_the_rules_name():
    val = [sample_quadratics(batch=2, dim=2, generator=1)]
    with pytest.raises(ValueError, match="lrs must hold at least one learning rate"):
        tune_learning_rate(SGD, val, steps=2, lrs=[])
    with pytest.raises(ValueError, match="needs at least one validation problem"):
        tune_learning_rate(SGD, [], steps=2, lrs=[0.1])
    assert tune_learning_rate(Adam, val, steps=2, lrs=[0.1]).name == "Adam"

    class Plain:  # a reader's own rule, without a ``name``: the result is named by its class
        def __init__(self, lr):
            self.lr = lr

        def init_state(self, theta):
            return ()

        def step(self, grad, state):
            return -self.lr * grad, state

    assert tune_learning_rate(Plain, val, steps=2, lrs=[0.1]).name == "Plain"


def test_tune_baselines_scores_the_final_loss_by_default():
    val = [sample_quadratics(batch=4, dim=3, generator=4)]
    default = tune_baselines(val, steps=6, names=["SGD"], lrs=[0.01, 0.1])
    last_one = tune_baselines(val, steps=6, names=["SGD"], lrs=[0.01, 0.1], last=1)
    last_two = tune_baselines(val, steps=6, names=["SGD"], lrs=[0.01, 0.1], last=2)
    assert default["SGD"].scores == last_one["SGD"].scores != last_two["SGD"].scores


@pytest.mark.parametrize("make, message", [
    (lambda: Adam(0.1, betas=(1.0, 0.999)), r"betas\[0\] must lie in \[0, 1\), got 1.0"),
    (lambda: Adam(0.1, betas=(0.9, 1.0)), r"betas\[1\] must lie in \[0, 1\), got 1.0"),
    (lambda: RMSprop(0.1, alpha=1.0), r"alpha must lie in \[0, 1\), got 1.0"),
    (lambda: NAG(0.1, momentum=-0.1), r"momentum must lie in \[0, 1\), got -0.1"),
])
def test_decay_rates_must_lie_below_one(make, message):  # at 1, Adam's 1 − βᵗ is 0: NaN updates
    with pytest.raises(ValueError, match=message):
        make()
