"""meta_train's settings each change what it does: a test fails when one is ignored."""

import copy

import pytest
import torch

from l2l.learned_optimizer import (
    LSTMOptimizer,
    OuterOptimizer,
    Truncation,
    Validation,
    meta_train,
    validation_score,
)
from l2l.tasks.problems import QuadraticProblem, quadratic_family, sample_quadratics


class OffsetQuadratic(QuadraticProblem):
    """A quadratic whose values carry a constant ``offset`` (its gradients do not): a validation
    problem whose later scores a test can make worse without changing the optimizer's path."""

    offset = 0.0

    def loss(self, theta, step=0):
        return super().loss(theta, step) + self.offset

    def loss_and_grad(self, theta, step=0):
        value, grad = super().loss_and_grad(theta, step)
        return value + self.offset, grad


def _validation():
    q = sample_quadratics(batch=4, dim=3, generator=5)
    return OffsetQuadratic(q.W, q.y, q.theta0)


def _net():
    torch.manual_seed(0)
    return LSTMOptimizer(hidden_size=4)


KW = dict(truncation=Truncation(4, 2), outer=OuterOptimizer(lr=1e-2), progress=False)


def test_the_best_validation_weights_are_restored_even_when_later_ones_are_worse():
    val, states = _validation(), {}

    def spoil_later_scores(net, log):
        states[log.val_epochs[-1]] = copy.deepcopy(net.state_dict())
        val.offset = 1e3  # every later score is 1000 higher: the first validation stays the best

    net = _net()
    log = meta_train(net, quadratic_family(batch=4, dim=3), 6,
                     validation=Validation([val], every=2, callback=spoil_later_scores), **KW)
    assert log.best_epoch == 2 and log.val_epochs == [2, 4, 6]
    assert not all(torch.equal(states[2][k], states[6][k]) for k in states[2])  # training went on
    for key, value in net.state_dict().items():
        assert torch.equal(value, states[2][key])


def test_scores_average_the_last_score_last_steps():
    val, seen = [sample_quadratics(batch=4, dim=3, generator=5)], []

    def rescore(net, log):
        seen.append((log.val_scores[-1], validation_score(net, val, 4, last=3),
                     validation_score(net, val, 4, last=1)))

    meta_train(_net(), quadratic_family(batch=4, dim=3), 2,
               validation=Validation(val, every=1, score_last=3, callback=rescore), **KW)
    for logged, last3, last1 in seen:
        assert logged == last3 and logged != last1


def _moved(step_weights="uniform", **outer):
    net = _net()
    before = copy.deepcopy(net.state_dict())
    meta_train(net, quadratic_family(batch=4, dim=3), 1, truncation=Truncation(2, 2, step_weights),
               outer=OuterOptimizer(lr=1e-2, **outer), progress=False)
    return torch.cat([(net.state_dict()[k] - before[k]).flatten() for k in before])


def test_the_schedule_multiplies_the_meta_learning_rate():
    full, half = _moved(), _moved(schedule=lambda epoch: 0.5)
    # one Adam step: the update is lr · m̂ / (√v̂ + ε), so it halves with the learning rate
    torch.testing.assert_close(half, 0.5 * full, rtol=1e-4, atol=1e-9)
    assert full.abs().max() > 1e-3
    assert _moved(schedule=lambda epoch: 0.0).abs().max() == 0


def test_the_schedule_counts_epochs_from_one():
    def first_epoch_only(epoch):
        return 1.0 if epoch == 1 else 0.0

    net, once = _net(), _net()
    start = copy.deepcopy(net.state_dict())
    meta_train(net, quadratic_family(batch=4, dim=3), 3, truncation=Truncation(4, 2),
               outer=OuterOptimizer(lr=1e-2, schedule=first_epoch_only), progress=False)
    meta_train(once, quadratic_family(batch=4, dim=3), 1, **KW)
    assert not all(torch.equal(start[k], v) for k, v in net.state_dict().items())
    for key, value in net.state_dict().items():
        assert torch.equal(value, once.state_dict()[key])


def test_clipping_bounds_the_meta_gradient():
    free, clipped = _moved(), _moved(clip_grad_norm=1e-12)
    # a gradient clipped to norm 1e-12 is far below Adam's ε = 1e-8: the first step all but vanishes
    assert clipped.abs().max() < 1e-3 * free.abs().max()
    assert _moved(clip_grad_norm=1e6).equal(free)  # a bound above the norm changes nothing


@pytest.mark.parametrize("weights", ["uniform", "linear"])
def test_different_step_weights_train_differently(weights):
    other = "linear" if weights == "uniform" else "uniform"
    assert not _moved(step_weights=weights).equal(_moved(step_weights=other))


class StepRecorder(QuadraticProblem):
    """A quadratic that records the step index of every evaluation (minibatch problems draw their
    batch from it, so an off-by-one there would train on the wrong minibatches)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.grad_steps, self.loss_steps = [], []

    def loss_and_grad(self, theta, step=0):
        self.grad_steps.append(step)
        return super().loss_and_grad(theta, step)

    def loss(self, theta, step=0):
        self.loss_steps.append(step)
        return super().loss(theta, step)


def _fixed(cls=QuadraticProblem):
    q = sample_quadratics(batch=4, dim=3, generator=7)
    return cls(q.W, q.y, q.theta0)


def test_the_epoch_meta_loss_is_the_sum_of_f_over_steps_one_to_t():
    from l2l.learned_optimizer import evaluate

    problem, net = _fixed(), _net()
    expected = evaluate(net, problem, 4)[1:].mean(1).sum().item()  # Σ_{t=1..T} mean f(θ_t), before training
    log = meta_train(net, lambda g: problem, 1, truncation=Truncation(4, 4), progress=False)
    assert log.meta_losses == [pytest.approx(expected, rel=1e-6)]


def test_each_step_sees_its_own_index():
    problem = _fixed(StepRecorder)
    meta_train(_net(), lambda g: problem, 1, truncation=Truncation(6, 3), progress=False)
    assert problem.grad_steps == [0, 1, 2, 3, 4, 5] and problem.loss_steps == [3, 6]


def test_a_tie_keeps_the_first_best_and_the_wall_time_is_measured():
    import time

    val = [sample_quadratics(batch=4, dim=3, generator=5)]
    start = time.perf_counter()
    log = meta_train(_net(), quadratic_family(batch=4, dim=3), 3, truncation=Truncation(4, 2),
                     outer=OuterOptimizer(schedule=lambda epoch: 0.0), validation=Validation(val, every=1),
                     progress=False)
    elapsed = time.perf_counter() - start
    assert log.val_scores[0] == log.val_scores[1] == log.val_scores[2]  # nothing moved
    assert log.best_epoch == 1 and 0 < log.seconds <= elapsed


def test_a_run_whose_every_validation_diverged_stops_with_an_error():
    val = _validation()
    val.offset = float("inf")  # every score is infinite: none is a best to keep
    message = r"every validation score was infinite or NaN \(\[inf, inf\]\)"
    with pytest.raises(FloatingPointError, match=message):
        meta_train(_net(), quadratic_family(batch=4, dim=3), 2, validation=Validation([val], every=1), **KW)


def test_a_continued_run_whose_validations_diverged_keeps_the_previous_weights():
    from l2l.learned_optimizer import MetaTrainLog

    val, net = _validation(), _net()
    start = copy.deepcopy(net.state_dict())
    val.offset = float("inf")
    previous = MetaTrainLog(val_epochs=[0], val_scores=[1.0], best_epoch=0, best_score=1.0)
    log = meta_train(net, quadratic_family(batch=4, dim=3), 2, validation=Validation([val], every=1),
                     previous=previous, **KW)
    assert log.best_epoch == 0 and log.val_epochs == [0, 1, 2]
    assert all(torch.equal(start[k], v) for k, v in net.state_dict().items())


def test_the_outer_step_size_is_the_one_given():
    small, large = _moved(), _moved_with_lr(2e-2)
    torch.testing.assert_close(large, 2 * small, rtol=1e-4, atol=1e-9)  # Adam's first step ∝ lr


def _moved_with_lr(lr):
    net = _net()
    before = copy.deepcopy(net.state_dict())
    meta_train(net, quadratic_family(batch=4, dim=3), 1, truncation=Truncation(2, 2),
               outer=OuterOptimizer(lr=lr), progress=False)
    return torch.cat([(net.state_dict()[k] - before[k]).flatten() for k in before])


def test_the_default_generator_is_seed_zero():
    a, b = _net(), _net()
    meta_train(a, quadratic_family(batch=4, dim=3), 1, **KW)
    meta_train(b, quadratic_family(batch=4, dim=3), 1, generator=0, **KW)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_errors_name_the_setting():
    with pytest.raises(ValueError, match="meta_epochs"):
        meta_train(_net(), quadratic_family(batch=2, dim=2), 0)
    for name, value in (("outer", {"lr": 1.0}), ("validation", [])):
        with pytest.raises(TypeError, match=f"{name} must be an l2l"):
            meta_train(_net(), quadratic_family(batch=2, dim=2), 1, **{name: value})
    with pytest.raises(ValueError, match="unroll must be a positive"):
        Truncation(4, 0)


def test_joined_logs_keep_the_first_run_on_a_tie():
    from l2l.learned_optimizer import MetaTrainLog

    first = MetaTrainLog([1.0, 2.0], [2], [0.5], best_epoch=2, best_score=0.5)
    later = MetaTrainLog([3.0], [1], [0.5], best_epoch=1, best_score=0.5)
    assert first.then(later).best_epoch == 2


def _two_rounds(second_offset):
    """A first round of 2 epochs, then a second of 2 that continues it (``previous``), its scores
    shifted by ``second_offset``; returns the net, the log, and the weights after each round."""
    val, family = _validation(), quadratic_family(batch=4, dim=3)
    net = _net()
    first = meta_train(net, family, 2, validation=Validation([val], every=1), **KW)
    after_first = copy.deepcopy(net.state_dict())
    val.offset = second_offset
    seen = {}
    log = meta_train(net, family, 2, generator=1, previous=first, **KW,
                     validation=Validation([val], every=1,
                                           callback=lambda n, lg: seen.setdefault(lg.val_epochs[-1],
                                                                                  copy.deepcopy(n.state_dict()))))
    return net, first, log, after_first, seen


def test_a_continued_run_keeps_the_previous_weights_unless_it_validates_lower():
    net, first, log, after_first, _ = _two_rounds(second_offset=1e3)  # the second round scores worse
    assert all(torch.equal(after_first[k], v) for k, v in net.state_dict().items())
    assert log.best_epoch == first.best_epoch and log.best_score == first.best_score
    assert log.val_epochs == [1, 2, 3, 4] and len(log.meta_losses) == 4

    net, first, log, _, seen = _two_rounds(second_offset=-1e3)  # the second round scores lower
    assert log.best_score < first.best_score and log.best_epoch in (3, 4)
    best = seen[log.best_epoch]  # the callback sees the epochs counted on from the first round
    assert all(torch.equal(best[k], v) for k, v in net.state_dict().items())


def test_a_continued_run_needs_a_log_and_validation():
    val = [sample_quadratics(batch=4, dim=3, generator=5)]
    first = meta_train(_net(), quadratic_family(batch=4, dim=3), 1, validation=Validation(val), **KW)
    with pytest.raises(TypeError, match="previous must be the MetaTrainLog"):
        meta_train(_net(), quadratic_family(batch=4, dim=3), 1, previous={"best_score": 1.0}, **KW)
    with pytest.raises(ValueError, match="needs validation.problems"):
        meta_train(_net(), quadratic_family(batch=4, dim=3), 1, previous=first, **KW)
