import pytest
import torch

from l2l.problems import MLPProblem, Problem, mlp_family

torch.manual_seed(0)
X = torch.rand(300, 12, dtype=torch.float64)
Y = torch.randint(0, 10, (300,))


def _problem(**kwargs):
    settings = dict(hidden=(6, 5), activation="sigmoid", runs=3, minibatch=16, init_std=0.5, generator=1)
    return MLPProblem(X, Y, **{**settings, **kwargs})


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("hidden", [(7,), (6, 5)])
def test_closed_form_gradient_matches_autograd(activation, hidden):
    problem = _problem(activation=activation, hidden=hidden)
    theta = problem.initial_params()
    value, grad = problem.loss_and_grad(theta, step=4)
    value_ag, grad_ag = Problem.loss_and_grad(problem, theta, 4)
    torch.testing.assert_close(value, value_ag)
    torch.testing.assert_close(grad, grad_ag)


def test_loss_backpropagates_the_closed_form_gradient():
    problem = _problem()
    theta = problem.initial_params().requires_grad_()
    value, grad = problem.loss_and_grad(theta, 0)
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    (theta_grad,) = torch.autograd.grad((value * weights).sum(), theta)
    torch.testing.assert_close(theta_grad, weights[:, None] * grad)


def test_parameter_count_and_layout_of_the_paper_mlp():
    problem = MLPProblem(torch.rand(10, 784), torch.zeros(10, dtype=torch.int64), runs=2)
    assert problem.dim == 784 * 20 + 20 + 20 * 10 + 10 == 15910
    assert problem.initial_params().shape == (2, 15910)
    (W1, b1), (W2, b2) = problem._layers(problem.initial_params())
    assert W1.shape == (2, 20, 784) and b1.shape == (2, 20) and W2.shape == (2, 10, 20)


def test_minibatches_depend_on_the_step_not_on_the_call_order():
    problem = _problem()
    first = problem.batch_indices(7)
    assert not torch.equal(first, problem.batch_indices(8))
    assert torch.equal(first, problem.batch_indices(7))
    assert first.shape == (3, 16) and int(first.max()) < 300


def test_runs_are_independent_rows():
    problem = _problem()
    theta = problem.initial_params()
    moved = theta.clone()
    moved[1] += 1.0
    before, after = problem.loss(theta, 2), problem.loss(moved, 2)
    assert before[1] != after[1]
    torch.testing.assert_close(before[[0, 2]], after[[0, 2]])


def test_family_draws_new_problems_from_the_generator():
    sample = mlp_family(X, Y, hidden=(4,), runs=2)
    gen = torch.Generator().manual_seed(0)
    a, b = sample(gen), sample(gen)
    assert not torch.equal(a.initial_params(), b.initial_params())
    assert torch.equal(a.initial_params(), sample(torch.Generator().manual_seed(0)).initial_params())


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="activation must be one of"):
        _problem(activation="gelu")
    with pytest.raises(ValueError, match="labels must have shape"):
        MLPProblem(X, Y[:5])
    with pytest.raises(ValueError, match="theta must have shape"):
        _problem().loss(torch.zeros(2, 3, dtype=torch.float64))
