import math

import pytest
import torch

from l2l.learned_optimizer import (
    LSTMOptimizer,
    MetaTrainLog,
    OuterOptimizer,
    Truncation,
    Validation,
    evaluate,
    evaluate_many,
    meta_train,
    preprocess_gradients,
    validation_score,
    window_score,
)
from l2l.tasks.problems import Problem, quadratic_family, sample_quadratics


def test_preprocessing_large_branch_is_log_and_sign():
    g = torch.tensor([3.0, -0.5, 1.0])
    out = preprocess_gradients(g, p=10.0)
    assert out.shape == (3, 2)
    torch.testing.assert_close(out[:, 0], g.abs().log() / 10)
    torch.testing.assert_close(out[:, 1], torch.tensor([1.0, -1.0, 1.0]))


def test_preprocessing_small_branch_is_minus_one_and_scaled_gradient():
    g = torch.tensor([1e-6, -2e-5, 0.0])
    out = preprocess_gradients(g, p=10.0)
    torch.testing.assert_close(out[:, 0], torch.full((3,), -1.0))
    torch.testing.assert_close(out[:, 1], g * math.exp(10.0))


def test_preprocessing_refuses_a_p_whose_exponential_overflows():
    assert torch.isfinite(preprocess_gradients(torch.zeros(3), p=80.0)).all()
    for make in (lambda: preprocess_gradients(torch.zeros(3), p=95.0), lambda: LSTMOptimizer(p=95.0)):
        with pytest.raises(ValueError, match=r"p must lie in \(0, 80\] .*got 95.0"):
            make()


def test_preprocessing_threshold_is_e_to_minus_p_and_continuous_in_first_channel():
    p = 4.0
    at = torch.tensor([math.exp(-p)], dtype=torch.float64)
    below = at * (1 - 1e-9)
    assert preprocess_gradients(at, p)[0, 1] == 1.0  # sign branch, inclusive
    assert preprocess_gradients(below, p)[0, 1] == pytest.approx(1.0, rel=1e-6)  # e^p·g ≈ 1
    torch.testing.assert_close(preprocess_gradients(at, p)[0, 0], torch.tensor(-1.0, dtype=at.dtype))
    assert preprocess_gradients(below, p)[0, 0] == -1.0


def test_preprocessing_rejects_non_positive_p():
    with pytest.raises(ValueError, match="p must be a positive"):
        preprocess_gradients(torch.ones(2), p=0.0)


def test_one_update_per_coordinate_for_any_shape():
    net = LSTMOptimizer()
    grad = torch.randn(4, 7)
    update, state = net.step(grad, net.init_state(grad))
    assert update.shape == (4, 7)
    assert len(state) == 2 and state[0][0].shape == (28, 20)


def test_updates_do_not_depend_on_coordinate_order():
    torch.manual_seed(0)
    net = LSTMOptimizer()
    grads = [torch.randn(50) for _ in range(3)]
    perm = torch.randperm(50)
    state, state_p = net.init_state(grads[0]), net.init_state(grads[0])
    for g in grads:  # several steps, so the hidden state per coordinate matters too
        update, state = net.step(g, state)
        update_p, state_p = net.step(g[perm], state_p)
        torch.testing.assert_close(update_p, update[perm])


def test_output_scale_multiplies_the_update():
    torch.manual_seed(0)
    net = LSTMOptimizer(output_scale=1.0)
    scaled = LSTMOptimizer(output_scale=0.1)
    scaled.load_state_dict(net.state_dict())
    g = torch.randn(9)
    expected = 0.1 * net.step(g, net.init_state(g))[0]
    torch.testing.assert_close(scaled.step(g, scaled.init_state(g))[0], expected)


def test_step_rejects_state_of_another_size():
    net = LSTMOptimizer()
    with pytest.raises(ValueError, match="init_state"):
        net.step(torch.ones(5), net.init_state(torch.ones(4)))


def test_evaluate_returns_loss_at_every_step():
    problem = sample_quadratics(batch=3, dim=4, generator=0)
    losses = evaluate(LSTMOptimizer(), problem, steps=6)
    assert losses.shape == (7, 3)
    torch.testing.assert_close(losses[0], problem.loss(problem.initial_params()))


def _meta_loss(net, problem):
    return evaluate(net, problem, 20)[1:].sum(0).mean().item()


def test_meta_training_lowers_the_meta_loss_on_a_tiny_problem():
    torch.manual_seed(0)
    net = LSTMOptimizer(hidden_size=8)
    held_out = sample_quadratics(batch=16, dim=3, generator=123)
    before = _meta_loss(net, held_out)
    meta_train(net, quadratic_family(batch=16, dim=3), 15, truncation=Truncation(20, 5),
               outer=OuterOptimizer(lr=1e-2), progress=False)
    assert _meta_loss(net, held_out) < 0.8 * before


def test_meta_training_keeps_the_best_validation_weights():
    torch.manual_seed(0)
    net = LSTMOptimizer(hidden_size=8)
    val = [sample_quadratics(batch=8, dim=3, generator=5)]
    log = meta_train(
        net, quadratic_family(batch=8, dim=3), 6, truncation=Truncation(10, 5),
        outer=OuterOptimizer(lr=1e-2), validation=Validation(val, every=2), progress=False,
    )
    assert log.val_epochs == [2, 4, 6]
    assert log.best_score == min(log.val_scores)
    assert validation_score(net, val, 10) == pytest.approx(log.best_score)


def test_validation_pools_the_functions_of_every_problem_as_tuning_does():
    from l2l.baselines import SGD

    small = sample_quadratics(batch=2, dim=3, generator=5)
    large = sample_quadratics(batch=6, dim=3, generator=6)
    rule = SGD(0.05)
    pooled = torch.cat([evaluate(rule, small, 4), evaluate(rule, large, 4)], dim=1)[-2:].mean().item()
    assert validation_score(rule, [small, large], 4, last=2) == pytest.approx(pooled, rel=1e-6)
    assert validation_score(rule, [small], 4) == evaluate(rule, small, 4)[-1].mean().item()
    assert validation_score(SGD(1e3), [small], 30) == math.inf  # diverged: f overflows
    with pytest.raises(ValueError, match="at least one problem"):
        validation_score(rule, [], 4)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Truncation(steps=100, unroll=30), "unroll=30 must divide steps=100"),
        (lambda: Truncation(steps=0), "steps must be a positive"),
        (lambda: OuterOptimizer(lr=0.0), "lr must be a positive"),
        (lambda: OuterOptimizer(lr=-1e-3), "lr must be a positive"),
        (lambda: OuterOptimizer(clip_grad_norm=-1.0), "clip_grad_norm must be a positive"),
        (lambda: Validation(every=0), "^every must be a positive"),
        (lambda: Validation(score_last=0), "score_last must be a positive"),
    ],
)
def test_settings_reject_bad_values(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_meta_training_names_a_setting_of_the_wrong_kind():
    with pytest.raises(TypeError, match="truncation must be an l2l.Truncation, got dict"):
        meta_train(LSTMOptimizer(), quadratic_family(batch=2, dim=2), 1, truncation={"steps": 4})


class _ExplodesAfter(Problem):
    """f(θ) = Σθ² until step `bad`, then NaN: a stand-in for an optimizee that blows up."""

    def __init__(self, bad: int):
        self.bad = bad

    def initial_params(self):
        return torch.ones(1, 3)

    def loss(self, theta, step):
        value = theta.pow(2).sum(-1)
        return value * math.nan if step >= self.bad else value


def test_nan_during_meta_training_names_the_iteration():
    with pytest.raises(FloatingPointError, match=r"meta-epoch 1, unroll 3 \(meta-iteration 3\)"):
        meta_train(LSTMOptimizer(), lambda g: _ExplodesAfter(bad=12), 1, truncation=Truncation(20, 5),
                   progress=False)


def test_quadratic_closed_form_gradient_matches_autograd():
    problem = sample_quadratics(batch=4, dim=5, generator=1)
    theta = torch.randn(4, 5)
    loss, grad = problem.loss_and_grad(theta)
    loss_ag, grad_ag = Problem.loss_and_grad(problem, theta, 0)
    torch.testing.assert_close(loss, loss_ag)
    torch.testing.assert_close(grad, grad_ag)


def test_quadratic_loss_is_zero_at_the_solution():
    problem = sample_quadratics(batch=2, dim=3, generator=2)
    solution = torch.linalg.solve(problem.W, problem.y)
    assert problem.loss(solution).abs().max() < 1e-8


def test_quadratics_are_reproducible_from_a_seed_and_shape_checked():
    a, b = sample_quadratics(batch=2, dim=3, generator=7), sample_quadratics(batch=2, dim=3, generator=7)
    assert torch.equal(a.W, b.W) and torch.equal(a.theta0, b.theta0)
    with pytest.raises(ValueError, match=r"y must have shape \(2, 3\)"):
        type(a)(a.W, torch.zeros(2, 4), a.theta0)
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        sample_quadratics(batch=0)


def test_w_scale_multiplies_w_and_leaves_the_rest_of_the_draw():
    plain = sample_quadratics(batch=2, dim=3, generator=7)
    doubled = sample_quadratics(batch=2, dim=3, generator=7, w_scale=2.0)
    assert torch.equal(doubled.W, 2 * plain.W)
    assert torch.equal(doubled.y, plain.y) and torch.equal(doubled.theta0, plain.theta0)
    with pytest.raises(ValueError, match="w_scale must be a positive finite number, got -1"):
        sample_quadratics(w_scale=-1.0)


def test_step_weights_scale_each_steps_term_of_the_meta_loss():
    from l2l.learned_optimizer import STEP_WEIGHTS
    from l2l.learned_optimizer.meta_train import _unroll

    torch.manual_seed(0)
    net, problem = LSTMOptimizer(hidden_size=4), sample_quadratics(batch=3, dim=2, generator=0)
    theta = problem.initial_params()
    uniform, _, _ = _unroll(net, problem, theta, net.init_state(theta), 0, 4, lambda t: 1.0)
    only_last, theta_4, _ = _unroll(net, problem, theta, net.init_state(theta), 0, 4, lambda t: float(t == 4))
    torch.testing.assert_close(only_last, problem.loss(theta_4).mean())
    assert uniform > only_last
    assert STEP_WEIGHTS["linear"](50, 100) == 1.0 and STEP_WEIGHTS["uniform"](7, 100) == 1.0


def test_final_step_weights_need_the_whole_run_in_one_unroll():
    from l2l.learned_optimizer import STEP_WEIGHTS

    assert [STEP_WEIGHTS["final"](t, 4) for t in range(1, 5)] == [0.0, 0.0, 0.0, 1.0]
    family = quadratic_family(batch=2, dim=2)
    with pytest.raises(ValueError, match=r"no weight to steps 1..2, .*use unroll=4"):
        Truncation(4, 2, step_weights="final")
    net = LSTMOptimizer(hidden_size=4)
    before = [p.detach().clone() for p in net.parameters()]
    log = meta_train(net, family, 1, truncation=Truncation(4, 4, "final"), progress=False)
    assert len(log.meta_losses) == 1 and any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_unknown_step_weights_are_refused_with_the_allowed_names():
    with pytest.raises(ValueError, match="step_weights must be one of"):
        Truncation(2, 2, step_weights="cubic")


def test_evaluate_many_equals_evaluate_rule_by_rule_and_returns_final_params():
    from l2l.baselines import SGD, Adam

    problem = sample_quadratics(batch=6, dim=4, generator=3)
    rules = [SGD(0.01), Adam(0.1), LSTMOptimizer(hidden_size=4, num_layers=1)]
    curves, params = evaluate_many(rules, problem, 7, final_params=True)
    for rule, curve, theta in zip(rules, curves, params):
        expected = evaluate(rule, problem, 7)
        torch.testing.assert_close(curve, expected)
        torch.testing.assert_close(problem.loss(theta), expected[-1])
    assert len(evaluate_many(rules, problem, 2)) == 3  # without final_params: the curves alone
    with pytest.raises(ValueError, match="at least one update rule"):
        evaluate_many([], problem, 3)


def test_window_score_averages_the_last_steps_and_scores_divergence_as_inf():
    losses = torch.tensor([[4.0, 4.0], [2.0, 3.0], [1.0, 2.0]])
    assert window_score(losses) == 1.5
    assert window_score(losses, last=2) == 2.0
    assert window_score(torch.tensor([[1.0], [float("nan")]])) == math.inf


def test_logs_of_two_rounds_join_with_epochs_counted_on():
    first = MetaTrainLog([3.0, 2.0], [2], [0.5], best_epoch=2, best_score=0.5, seconds=1.0)
    second = MetaTrainLog([1.5, 1.0, 0.9], [1, 3], [0.6, 0.4], best_epoch=3, best_score=0.4, seconds=2.0)
    joined = first.then(second)
    assert joined.meta_losses == [3.0, 2.0, 1.5, 1.0, 0.9]
    assert joined.val_epochs == [2, 3, 5] and joined.val_scores == [0.5, 0.6, 0.4]
    assert (joined.best_epoch, joined.best_score, joined.seconds) == (5, 0.4, 3.0)
    worse = MetaTrainLog([1.0], [1], [0.7], best_epoch=1, best_score=0.7)
    assert (first.then(worse).best_epoch, first.then(worse).best_score) == (2, 0.5)
