"""MAML: inner adaptation, evaluation of adaptation, and the meta-gradient checked three ways.

The reference implementation in this file (``loop_meta_gradient``) is the per-task
clone-and-adapt loop of common libraries, written with plain autograd: the batched ``vmap``
version must give the same meta-gradient.
"""


import pytest
import torch
from torch import nn

from l2l.maml import (
    adapt,
    adapt_tasks,
    adaptation_losses,
    evaluate_adaptation,
    linear_maml_optimum,
    maml_gradient,
    maml_loss,
    mse,
    parameters_of,
    sharpness,
    summarize_adaptation,
    train_maml,
    tune_step_size,
)
from l2l.tasks.regression import LinearTasks, SineTasks, TaskBatch


def tiny_net(dtype=torch.float64, hidden=5, seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                        nn.Linear(hidden, 1))
    return net.to(dtype)


def sine_batch(n=4, k=6, dtype=torch.float64, seed=0):
    return SineTasks().sample(n, k, k + 1, generator=seed, dtype=dtype)


def loop_meta_gradient(model, params, batch, inner_lr, inner_steps, first_order):
    """Reference: for each task, clone θ, adapt with autograd, sum query losses, backward."""
    theta = {n: p.detach().clone().requires_grad_() for n, p in params.items()}
    total = 0.0
    for i in range(len(batch)):
        fast = dict(theta)
        for _ in range(inner_steps):
            loss = mse(torch.func.functional_call(model, fast, (batch.x_support[i],)),
                       batch.y_support[i])
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=not first_order)
            fast = {n: p - inner_lr * g for (n, p), g in zip(fast.items(), grads, strict=True)}
        total = total + mse(torch.func.functional_call(model, fast, (batch.x_query[i],)),
                            batch.y_query[i])
    total = total / len(batch)
    grads = torch.autograd.grad(total, list(theta.values()))
    return dict(zip(theta, grads, strict=True)), total.detach()


# --- inner adaptation -------------------------------------------------------------------------


def test_adapt_is_sgd():
    net = tiny_net()
    params = parameters_of(net)
    batch = sine_batch()
    x, y = batch.x_support[0], batch.y_support[0]
    adapted = adapt(net, params, x, y, lr=0.05, steps=3)
    manual = {n: p.clone().requires_grad_() for n, p in params.items()}
    for _ in range(3):
        loss = mse(torch.func.functional_call(net, manual, (x,)), y)
        grads = torch.autograd.grad(loss, list(manual.values()))
        manual = {n: (p - 0.05 * g).detach().requires_grad_()
                  for (n, p), g in zip(manual.items(), grads, strict=True)}
    for name in params:
        torch.testing.assert_close(adapted[name], manual[name].detach())
    # functional: the inputs are untouched; zero steps give the initialisation back
    assert all(torch.equal(params[n], p) for n, p in parameters_of(net).items())
    same = adapt(net, params, x, y, lr=0.05, steps=0)
    assert all(torch.equal(same[n], params[n]) for n in params)


def test_adapt_tasks_equals_adapt_per_task():
    net = tiny_net()
    params = parameters_of(net)
    batch = sine_batch(n=5)
    batched = adapt_tasks(net, params, batch.x_support, batch.y_support, lr=0.1, steps=2)
    for i in range(5):
        one = adapt(net, params, batch.x_support[i], batch.y_support[i], lr=0.1, steps=2)
        for name in params:
            assert batched[name].shape == (5, *params[name].shape)
            torch.testing.assert_close(batched[name][i], one[name])


def _one_task_or_all(inner, batch):
    if inner is adapt_tasks:
        return batch.x_support, batch.y_support
    return batch.x_support[0], batch.y_support[0]


@pytest.mark.parametrize("inner", [adapt, adapt_tasks])
def test_the_inner_loop_defaults_to_one_second_order_step(inner):
    net, batch = tiny_net(), sine_batch()
    x, y = _one_task_or_all(inner, batch)
    theta = {n: p.clone().requires_grad_() for n, p in parameters_of(net).items()}

    def jacobian_row_sums(**kw):  # ∂(Σ θ')/∂θ: all ones when the inner gradient is a constant
        adapted = inner(net, theta, x, y, lr=0.1, **kw)
        return torch.autograd.grad(sum(p.sum() for p in adapted.values()), list(theta.values()))

    default, one_step = inner(net, theta, x, y, lr=0.1), inner(net, theta, x, y, lr=0.1, steps=1)
    two_steps = inner(net, theta, x, y, lr=0.1, steps=2)
    assert all(torch.equal(default[n], one_step[n]) for n in theta)
    assert not all(torch.equal(default[n], two_steps[n]) for n in theta)
    n_tasks = len(x) if inner is adapt_tasks else 1
    for first_order, is_identity in ((True, True), (False, False), (None, False)):
        kw = {} if first_order is None else {"first_order": first_order}  # None: the default
        sums = jacobian_row_sums(**kw)
        ones = all(torch.allclose(g, torch.full_like(g, float(n_tasks)), atol=1e-12) for g in sums)
        assert ones == is_identity, (first_order, sums)


@pytest.mark.parametrize("inner", [adapt, adapt_tasks])
def test_the_inner_loop_names_a_bad_step_size_or_count(inner):
    net, batch = tiny_net(), sine_batch()
    x, y = _one_task_or_all(inner, batch)
    with pytest.raises(ValueError, match=r"^lr must be a finite number >= 0, got -0.1"):
        inner(net, parameters_of(net), x, y, lr=-0.1)
    with pytest.raises(ValueError, match=r"^steps must be an integer >= 0, got -1"):
        inner(net, parameters_of(net), x, y, lr=0.1, steps=-1)


def test_adaptation_losses_on_a_line_match_closed_form():
    """For y = w x (no bias) the SGD iterates are known: w_t − w* = (1 − α h)^t (w_0 − w*)."""
    net = nn.Linear(1, 1, bias=False).double()
    params = {"weight": torch.zeros(1, 1, dtype=torch.float64)}
    tasks = LinearTasks(intercept_std=0.0, intercept_mean=0.0, noise_std=0.0)
    batch = tasks.sample(7, k_support=4, k_query=9, generator=0, dtype=torch.float64)
    lr, steps = 0.3, 6
    losses = adaptation_losses(net, params, batch, lr=lr, steps=steps)
    assert losses.shape == (steps + 1, 7)
    slope = batch.params["slope"]
    h = 2 * (batch.x_support**2).mean(dim=(1, 2))
    mq = (batch.x_query**2).mean(dim=(1, 2))
    for t in range(steps + 1):
        w = slope - (1 - lr * h) ** t * slope
        torch.testing.assert_close(losses[t], (w - slope) ** 2 * mq)


def test_divergence_is_counted_not_hidden():
    net = nn.Linear(1, 1).double()
    params = parameters_of(net)
    batch = LinearTasks(x_scales=(0.5, 5.0)).sample(40, 10, generator=0, dtype=torch.float64)
    curve = summarize_adaptation(adaptation_losses(net, params, batch, lr=0.4, steps=40))
    big = int((batch.params["scale"] == 5.0).sum())
    assert curve.diverged[-1] == big and 0 < big < 40
    small = batch.params["scale"] == 0.5
    assert (curve.losses[-1][small] < curve.losses[0][small]).all()  # the others converge
    assert curve.mean[-1] > 1e6 * curve.losses[-1][small].max()  # diverged tasks dominate the mean
    assert curve.at(0)["diverged"] == 0


def test_summary_numbers():
    losses = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]])
    s = summarize_adaptation(losses, lr=0.1)
    assert s.mean.tolist() == [2.5, 0.5] and s.median.tolist() == [2.0, 0.5]
    assert abs(s.ci95[0] - 1.96 * torch.tensor([1.0, 2, 3, 4], dtype=torch.float64).std() / 2) < 1e-12
    assert s.ci95[1] == 0 and s.steps == 1 and s.lr == 0.1


def test_evaluate_adaptation_pairs_tasks_by_seed():
    net = tiny_net(torch.float32, hidden=8)
    params = parameters_of(net)
    a = evaluate_adaptation(net, params, SineTasks(), lr=0.01, steps=2, n_tasks=30, generator=5)
    b = evaluate_adaptation(net, params, SineTasks(), lr=0.01, steps=2, n_tasks=30, generator=5)
    assert a.losses.shape == (3, 30)
    torch.testing.assert_close(a.losses, b.losses)
    grid = torch.linspace(-5, 5, 50)
    c = evaluate_adaptation(net, params, SineTasks(), lr=0.01, steps=1, n_tasks=3, query_x=grid)
    assert c.losses.shape == (2, 3)


def test_tune_step_size_picks_the_best_candidate():
    net = nn.Linear(1, 1)
    params = parameters_of(net)
    tasks = LinearTasks()
    best, scores = tune_step_size(net, params, tasks, [1e-4, 0.1, 0.4], steps=5, n_tasks=50)
    assert set(scores) == {1e-4, 0.1, 0.4} and best == min(scores, key=scores.get)
    assert best != 1e-4


# --- the meta-gradient -------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 2])
def test_meta_gradient_matches_finite_differences(steps):
    net = tiny_net(hidden=4)
    params = parameters_of(net)
    batch = sine_batch(n=3, k=5)
    kw = dict(inner_lr=0.05, inner_steps=steps)
    grads, _ = maml_gradient(net, params, batch, **kw)
    eps = 1e-6
    for name, p in params.items():
        for idx in [tuple(0 for _ in p.shape), tuple(s - 1 for s in p.shape)]:
            plus = {n: q.clone() for n, q in params.items()}
            minus = {n: q.clone() for n, q in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            fd = (maml_loss(net, plus, batch, **kw) - maml_loss(net, minus, batch, **kw)) / (2 * eps)
            assert abs(fd - grads[name][idx]) < 1e-7 * max(1.0, abs(fd)), (name, idx)


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("steps", [1, 3])
def test_batched_meta_gradient_equals_per_task_loop(first_order, steps):
    net = tiny_net(hidden=6)
    params = parameters_of(net)
    batch = sine_batch(n=5, k=10)
    kw = dict(inner_lr=0.01, inner_steps=steps, first_order=first_order)
    grads, loss = maml_gradient(net, params, batch, **kw)
    ref, ref_loss = loop_meta_gradient(net, params, batch, 0.01, steps, first_order)
    assert abs(loss - ref_loss) < 1e-6
    for name in params:
        assert (grads[name] - ref[name]).abs().max() < 1e-6, name


def test_float32_batched_equals_loop_on_the_paper_network():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1))
    params = parameters_of(net)
    batch = SineTasks().sample(25, 10, generator=2)
    grads, _ = maml_gradient(net, params, batch, inner_lr=0.01)
    ref, _ = loop_meta_gradient(net, params, batch, 0.01, 1, False)
    for name in params:
        assert (grads[name] - ref[name]).abs().max() < 1e-5 * (1 + ref[name].abs().max()), name


def test_fomaml_differs_from_maml_by_the_hessian_term():
    """On a quadratic the difference is known: for linear regression y = θ·φ with squared loss,
    the support loss has Hessian H_s = (2/K) Φ_sᵀΦ_s, and after one step θ' = θ − α∇L_s(θ)
    g_MAML = (I − α H_s) ∇L_q(θ') while g_FOMAML = ∇L_q(θ'): their difference is −α H_s g_FOMAML."""
    torch.manual_seed(3)
    dim, k, alpha = 4, 6, 0.1
    net = nn.Linear(dim, 1, bias=False).double()
    params = {"weight": torch.randn(1, dim, dtype=torch.float64)}
    xs, xq = torch.randn(2, k, dim, dtype=torch.float64), torch.randn(2, k, dim, dtype=torch.float64)
    ys, yq = torch.randn(2, k, 1, dtype=torch.float64), torch.randn(2, k, 1, dtype=torch.float64)
    batch = TaskBatch(xs, ys, xq, yq, {})
    maml, _ = maml_gradient(net, params, batch, inner_lr=alpha)
    fomaml, _ = maml_gradient(net, params, batch, inner_lr=alpha, first_order=True)
    theta = params["weight"][0]
    expected_fo, expected_diff = torch.zeros(dim, dtype=torch.float64), torch.zeros(dim, dtype=torch.float64)
    for i in range(2):
        hs = 2 / k * xs[i].T @ xs[i]
        hq = 2 / k * xq[i].T @ xq[i]
        adapted = theta - alpha * (hs @ theta - 2 / k * xs[i].T @ ys[i, :, 0])
        g_fo = hq @ adapted - 2 / k * xq[i].T @ yq[i, :, 0]
        expected_fo += g_fo / 2
        expected_diff += -alpha * hs @ g_fo / 2
    torch.testing.assert_close(fomaml["weight"][0], expected_fo)
    torch.testing.assert_close((maml["weight"] - fomaml["weight"])[0], expected_diff)
    assert expected_diff.norm() > 1e-3  # the Hessian term is not negligible here


def test_zero_inner_lr_is_joint_training():
    net = tiny_net()
    params = parameters_of(net)
    batch = sine_batch()
    grads, loss = maml_gradient(net, params, batch, inner_lr=0.0)
    joint = torch.func.grad(
        lambda p: torch.stack([mse(torch.func.functional_call(net, p, (batch.x_query[i],)),
                                   batch.y_query[i]) for i in range(len(batch))]).mean()
    )(params)
    for name in params:
        torch.testing.assert_close(grads[name], joint[name])


# --- argument checks --------------------------------------------------------------------------


def test_argument_checks():
    net = tiny_net()
    params = parameters_of(net)
    batch = sine_batch()
    x, y = batch.x_support[0], batch.y_support[0]
    with pytest.raises(ValueError, match="lr"):
        adapt(net, params, x, y, lr=-0.1)
    with pytest.raises(TypeError, match="steps"):
        adapt(net, params, x, y, lr=0.1, steps=1.5)
    with pytest.raises(ValueError, match="parameter names"):
        adapt(net, {"weight": params["0.weight"]}, x, y, lr=0.1)
    with pytest.raises(TypeError, match="nn.Module"):
        adapt(lambda v: v, params, x, y, lr=0.1)
    with pytest.raises(TypeError, match="TaskBatch"):
        maml_loss(net, params, (x, y), inner_lr=0.1)
    with pytest.raises(ValueError, match="candidates"):
        tune_step_size(net, params, SineTasks(), [])


# --- meta-training -----------------------------------------------------------------------------


def test_runs_side_by_side_equal_separate_runs():
    """Batched runs of every kind (MAML, FOMAML, joint) give what each run gives on its own."""
    net = tiny_net(torch.float32, hidden=8)
    kw = dict(iterations=6, meta_batch=4, k_support=5, generator=3, compile=False, progress=False)
    together = train_maml(net, SineTasks(), inner_lr=[0.0, 0.02, 0.01], first_order=[False, True, False],
                          **kw)
    assert together.losses.shape == (6, 3) and together.first_order == [False, True, False]
    for r, (lr, fo) in enumerate([(0.0, False), (0.02, True), (0.01, False)]):
        alone = train_maml(net, SineTasks(), inner_lr=lr, first_order=fo, **kw)
        torch.testing.assert_close(together.losses[:, r], alone.losses[:, 0])
        for name, p in alone.params[0].items():
            torch.testing.assert_close(together.params[r][name], p)


def test_one_iteration_is_an_adam_step_on_the_meta_gradient():
    net = tiny_net(torch.float64, hidden=4)
    start = parameters_of(net)
    result = train_maml(net, SineTasks(), iterations=1, meta_batch=3, k_support=5, generator=0,
                        inner_lr=0.05, meta_lr=0.01, compile=False, progress=False)
    batch = SineTasks().sample(3, 5, generator=0, dtype=torch.float64)
    grads, loss = maml_gradient(net, start, batch, inner_lr=0.05)
    assert abs(result.losses[0, 0] - loss) < 1e-12
    for name, p in start.items():  # Adam's first step: θ − lr · g / (|g| + ε)
        expected = p - 0.01 * grads[name] / (grads[name].abs() + 1e-8)
        torch.testing.assert_close(result.params[0][name], expected)


def paper_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1))


@pytest.mark.parametrize("inner_lr, first_order",
                         [([0.01, 0.001], [False, False]), ([0.01, 0.0], [True, False])])
def test_compiled_step_equals_eager_step(inner_lr, first_order):
    """The sine notebook's two configurations exactly (so the notebook then finds the compiled
    kernels in Inductor's on-disk cache): MAML at two step sizes, then FOMAML and the pretrained
    baseline; 25 tasks, K = 10."""
    kw = dict(iterations=4, generator=1, progress=False, inner_lr=inner_lr, first_order=first_order)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the notebook: kernels compiled for one thread
    try:
        eager = train_maml(paper_net(), SineTasks(), compile=False, **kw)
        compiled = train_maml(paper_net(), SineTasks(), compile=True, **kw)
    finally:
        torch.set_num_threads(threads)
    assert compiled.compiled and not eager.compiled
    torch.testing.assert_close(compiled.losses, eager.losses, rtol=1e-5, atol=1e-6)
    for r in range(2):
        for name, p in eager.params[r].items():
            torch.testing.assert_close(compiled.params[r][name], p, rtol=1e-4, atol=1e-6)


def test_a_torch_without_the_private_compiler_entry_points_trains_eagerly(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.fx.experimental.proxy_tensor", None)  # import fails
    monkeypatch.setattr("l2l.maml.fused._COMPILED", {})
    kw = dict(iterations=2, generator=1, progress=False, meta_batch=3, k_support=5)
    with pytest.warns(UserWarning, match="could not compile the MAML step"):
        fallback = train_maml(tiny_net(torch.float64, hidden=4), SineTasks(), compile=True, **kw)
    eager = train_maml(tiny_net(torch.float64, hidden=4), SineTasks(), compile=False, **kw)
    assert not fallback.compiled
    torch.testing.assert_close(fallback.losses, eager.losses)


def test_meta_training_converges_to_the_linear_closed_form():
    """Tasks with different input scales: MAML's and joint training's initialisations differ, and
    meta-training finds each one's closed form."""
    tasks = LinearTasks(x_scales=(0.5, 3.0), slope_means=(2.0, -1.0), slope_std=0.5)
    alpha, iterations = 1 / 6, 1500  # error after 1500 iterations: at most 0.022 over 3 seeds
    optimum = linear_maml_optimum(tasks, inner_lr=alpha, n_draws=100_000)
    assert (optimum["maml"] - optimum["joint"]).abs()[0] > 0.3
    net = nn.Linear(1, 1)
    result = train_maml(net, tasks, iterations=iterations, inner_lr=[alpha, 0.0], meta_batch=100,
                        meta_lr=lambda t: 0.05 * (1 - t / iterations), generator=0,
                        compile=False, progress=False)
    for run, key in enumerate(["maml", "joint"]):
        w = torch.stack([result.params[run]["weight"][0, 0], result.params[run]["bias"][0]])
        assert (w.double() - optimum[key]).abs().max() < 0.05, (key, w, optimum[key])


def test_non_finite_meta_loss_stops_training():
    net = nn.Linear(1, 1)
    tasks = LinearTasks(x_scales=(1e19,))
    failed = r"iteration 0 in run\(s\) \[0, 1\] \(inner_lr \[0.01, 0.0\]"
    with pytest.raises(FloatingPointError, match=failed):
        train_maml(net, tasks, iterations=3, inner_lr=[0.01, 0.0], compile=False, progress=False)


def test_train_argument_checks():
    net = nn.Linear(1, 1)
    with pytest.raises(ValueError, match="one per run"):
        train_maml(net, LinearTasks(), iterations=2, inner_lr=[0.1, 0.2], first_order=[True] * 3)
    with pytest.raises(TypeError, match="first_order"):
        train_maml(net, LinearTasks(), iterations=2, first_order="yes")
    with pytest.raises(ValueError, match="iterations"):
        train_maml(net, LinearTasks(), iterations=0)
    with pytest.raises(ValueError, match="inner_lr"):
        train_maml(net, LinearTasks(), iterations=2, inner_lr=-1.0)


def test_sharpness_is_the_top_hessian_eigenvalue():
    """For a line and the squared loss the support Hessian is (2/K) Φᵀ Φ, known exactly."""
    net = nn.Linear(1, 1).double()
    batch = LinearTasks(x_scales=(0.5, 3.0)).sample(6, 10, generator=0, dtype=torch.float64)
    phi = torch.cat([batch.x_support, torch.ones_like(batch.x_support)], dim=2)
    top = torch.linalg.eigvalsh(2 * phi.transpose(1, 2) @ phi / 10)[:, -1]
    torch.testing.assert_close(sharpness(net, parameters_of(net), batch, iterations=200), top)
    # per task: the same answer whatever each task's parameters (the Hessian is constant)
    per_task = {n: p.expand(6, *p.shape) + 0.1 for n, p in parameters_of(net).items()}
    torch.testing.assert_close(sharpness(net, per_task, batch, iterations=200, per_task=True), top)
    with pytest.raises(ValueError, match="per_task"):
        sharpness(net, parameters_of(net), batch, per_task=True)


def test_the_compile_switch_turns_the_maml_step_eager(monkeypatch):
    monkeypatch.setenv("L2L_COMPILE", "0")
    kw = dict(iterations=2, generator=1, progress=False, meta_batch=3, k_support=5)
    result = train_maml(tiny_net(torch.float64, hidden=4), SineTasks(), compile=True, **kw)
    assert not result.compiled and result.compile_seconds == 0.0


def test_a_callable_meta_lr_is_read_at_every_iteration():
    calls = []

    def warm_up(iteration):
        calls.append(iteration)
        return 0.0 if iteration == 0 else 1e-2

    kw = dict(iterations=3, meta_batch=3, k_support=5, generator=1, compile=False, progress=False)
    net = tiny_net(torch.float64, hidden=4)
    start = parameters_of(net)
    moved = train_maml(net, SineTasks(), meta_lr=warm_up, **kw)
    still = train_maml(net, SineTasks(), meta_lr=lambda iteration: 0.0, **kw)
    assert calls == [0, 1, 2]
    assert all(torch.equal(still.params[0][n], p) for n, p in start.items())
    assert not all(torch.equal(moved.params[0][n], p) for n, p in start.items())
    torch.testing.assert_close(moved.losses[:2], still.losses[:2])  # nothing moved before iteration 1


def test_train_maml_is_adam_on_the_public_maml_loss():
    """The fused step against the chapter's recipe written out: ``maml_loss`` on each iteration's
    tasks, its gradient by autograd, one ``torch.optim.Adam`` step (the compiled step equals the
    eager one: test_compiled_step_equals_eager_step)."""
    torch.set_num_threads(1)
    n, meta_batch, k = 4, 3, 5
    runs = [(0.05, False), (0.05, True), (0.0, False)]  # MAML, FOMAML, joint training
    result = train_maml(tiny_net(), SineTasks(), iterations=n, meta_batch=meta_batch, k_support=k,
                        inner_lr=[a for a, _ in runs], first_order=[f for _, f in runs], meta_lr=0.01,
                        generator=3, compile=False, progress=False)
    tasks = SineTasks().sample(n * meta_batch, k, k, generator=3, dtype=torch.float64)
    for r, (alpha, first_order) in enumerate(runs):
        params = {name: p.clone().requires_grad_() for name, p in parameters_of(tiny_net()).items()}
        adam = torch.optim.Adam(params.values(), lr=0.01)
        for i in range(n):
            batch = tasks[i * meta_batch:(i + 1) * meta_batch]
            if alpha == 0:  # nothing to adapt: the loss on every point of every task
                both = [torch.cat(pair, dim=1) for pair in ((batch.x_support, batch.x_query),
                                                            (batch.y_support, batch.y_query))]
                batch = TaskBatch(batch.x_support, batch.y_support, *both, {})
            loss = maml_loss(tiny_net(), params, batch, inner_lr=alpha, first_order=first_order,
                             inner_steps=1 if alpha else 0)
            assert abs(loss.item() - result.losses[i, r].item()) < 1e-6
            adam.zero_grad()
            loss.backward()
            adam.step()
        for name, p in params.items():
            torch.testing.assert_close(result.params[r][name], p.detach(), rtol=0, atol=1e-6)


def test_train_maml_stops_when_the_last_update_leaves_the_parameters_not_finite():
    def nan_gradient(prediction, y):  # a finite loss whose gradient is 0 · ∞ = NaN
        return ((prediction - y) ** 2).mean() + 0.0 * (prediction - prediction.detach()).abs().sqrt().sum()

    with pytest.raises(FloatingPointError, match="not finite after iteration 0"):
        train_maml(tiny_net(), SineTasks(), iterations=1, inner_lr=0.0, loss_fn=nan_gradient, compile=False,
                   progress=False)


def test_a_meta_learning_rate_schedule_is_checked_at_every_iteration():
    with pytest.raises(ValueError, match=r"meta_lr\(2\) must be a finite number >= 0, got nan"):
        train_maml(tiny_net(), SineTasks(), iterations=3, meta_lr=lambda t: float("nan") if t == 2 else 1e-3,
                   compile=False, progress=False)
