import pytest
import torch

from l2l.tasks.problems import MLPProblem, Problem, mlp_family

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


@pytest.mark.parametrize("hidden, activation", [((20,), "sigmoid"), ((20, 20), "relu"), ((40,), "tanh")])
def test_stacked_gradients_equal_autograd_copy_by_copy(hidden, activation):
    images, labels = torch.rand(300, 784, dtype=torch.float64), torch.randint(10, (300,))
    problem = MLPProblem(images, labels, hidden=hidden, activation=activation, runs=3, generator=1)
    gen = torch.Generator().manual_seed(2)
    theta = 0.3 * torch.randn(4, 3, problem.dim, dtype=torch.float64, generator=gen)
    value, grad = problem.stacked_loss_and_grad(theta, step=5)
    assert value.shape == (4, 3) and grad.shape == (4, 3, problem.dim)
    for copy in range(4):
        t = theta[copy].clone().requires_grad_()
        loss = problem.loss(t, 5)
        (expected,) = torch.autograd.grad(loss.sum(), t)
        torch.testing.assert_close(value[copy], loss.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad[copy], expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(problem.stacked_loss(theta, 5), value)
    with pytest.raises(ValueError, match="theta"):
        problem.stacked_loss_and_grad(theta[:, :2], step=0)


def test_the_default_stacked_gradient_loops_over_copies():
    from l2l.tasks.problems import sample_quadratics

    problem = sample_quadratics(batch=5, dim=3, generator=0)
    theta = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(1))
    value, grad = problem.stacked_loss_and_grad(theta, 0)
    for copy in range(2):
        v, g = problem.loss_and_grad(theta[copy], 0)
        torch.testing.assert_close(value[copy], v.detach())
        torch.testing.assert_close(grad[copy], g)
    torch.testing.assert_close(problem.stacked_loss(theta, 0), value)


def test_mlp_problems_refuse_raw_pixels_and_labels_out_of_range():
    images, labels = torch.rand(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    with pytest.raises(TypeError, match="images must be floating point .* got torch.uint8"):
        MLPProblem((images * 255).to(torch.uint8), labels, classes=3)
    with pytest.raises(TypeError, match="labels must be integers on the images' device"):
        MLPProblem(images, labels.float(), classes=3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\) for classes=2, got 0..2"):
        MLPProblem(images, labels, classes=2)


def test_mlp_problem_defaults_are_the_papers_and_the_start_is_small():
    images, labels = torch.rand(300, 4), torch.randint(10, (300,))
    problem, seeded = MLPProblem(images, labels), MLPProblem(images, labels, generator=0)
    assert problem.runs == 1 and problem.minibatch == 128 and problem.hidden == (20,)
    assert torch.equal(problem.theta0, seeded.theta0) and problem.seed == seeded.seed
    assert problem.batch_indices(3).shape == (1, 128)
    many = MLPProblem(images, labels, runs=64, init_std=0.01, generator=1)
    assert 0.009 < many.theta0.std().item() < 0.011  # θ_0 ~ N(0, 0.01²)
    again = MLPProblem(images, labels, runs=64, generator=1)
    assert torch.equal(many.batch_indices(5), again.batch_indices(5))
    assert not torch.equal(many.batch_indices(5), many.batch_indices(6))
