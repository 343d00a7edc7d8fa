"""MAML and first-order MAML (Finn, Abbeel & Levine, 2017), batched over tasks with ``torch.func``.

Algorithm 1 of the paper: for a batch of tasks T_i, adapt the shared initialisation θ on each
task's support set with a few SGD steps of size α,

    θ'_i = θ − α ∇_θ L_{T_i}^{support}(θ)        (one step; k steps repeat it),

and move θ to lower the loss of the adapted parameters on fresh (query) points of the same tasks,

    θ ← θ − β ∇_θ Σ_i L_{T_i}^{query}(θ'_i).

The meta-gradient goes through the inner step, so it holds second derivatives; first-order MAML
(FOMAML) treats the inner gradient as a constant and drops them.

Everything here works for any ``nn.Module``: parameters are dicts of tensors (name → tensor, as
for ``torch.func.functional_call``), gradients come from ``torch.func.grad``, and the tasks of a
batch are adapted at once with ``torch.func.vmap`` — there is no Python loop over tasks.
:func:`train_maml` compiles the whole meta-iteration (meta-gradient and Adam update) into one
graph of fused kernels (``make_fx`` and PyTorch's Inductor) and can train several models (e.g.
different α, MAML and FOMAML, joint training) in the same step, on the same task batches.

Building blocks (also used by the Reptile chapter):

* :func:`adapt` / :func:`adapt_tasks` — the functional inner loop, for one task or a batch.
* :func:`adaptation_losses` / :func:`evaluate_adaptation` — query loss after 0..N SGD steps from
  a given initialisation on new tasks, with the mean, a 95% interval, the median and the count of
  diverged tasks (:class:`AdaptationCurve`).
* :func:`maml_loss` / :func:`maml_gradient` — the meta-objective of a task batch and its gradient.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, grad_and_value, vmap
from tqdm.auto import tqdm

from l2l import _checks
from l2l.runtime import compile_allowed
from l2l.tasks import LinearTasks, TaskBatch

__all__ = [
    "mse",
    "parameters_of",
    "task_loss",
    "adapt",
    "adapt_tasks",
    "adaptation_losses",
    "sharpness",
    "AdaptationCurve",
    "summarize_adaptation",
    "evaluate_adaptation",
    "tune_step_size",
    "maml_loss",
    "maml_gradient",
    "MAMLResult",
    "train_maml",
    "linear_maml_optimum",
]

Params = dict[str, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all points of one task (the loss of the MAML paper's regression)."""
    return ((prediction - target) ** 2).mean()


def parameters_of(model: nn.Module) -> Params:
    """The module's parameters as a dict of detached tensors (a starting point for the functions
    here; the module itself is never modified)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _check_params(model: nn.Module, params) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(params, dict) or not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise TypeError(
            "params must be a dict of tensors (name -> tensor), e.g. l2l.maml.parameters_of(model)"
        )
    expected = {name for name, _ in model.named_parameters()}
    if set(params) != expected:
        raise ValueError(
            f"params must have exactly the model's parameter names {sorted(expected)}, got {sorted(params)}"
        )


def task_loss(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
              loss_fn: LossFn = mse) -> torch.Tensor:
    """``loss_fn(model(x; params), y)``: the loss of one task's points under ``params``."""
    return loss_fn(functional_call(model, params, (x,)), y)


def _sgd_step(model, params, x, y, lr, loss_fn, first_order) -> Params:
    """One SGD step on one task (``lr`` may be a tensor, e.g. one α per batched run)."""
    g = grad(task_loss, argnums=1)(model, params, x, y, loss_fn)
    if first_order:
        g = {name: gi.detach() for name, gi in g.items()}
    return {name: p - lr * g[name] for name, p in params.items()}


def _inner(model, params, x, y, lr, steps, loss_fn, first_order) -> Params:
    """``steps`` SGD steps on one task: the adapted parameters."""
    for _ in range(steps):
        params = _sgd_step(model, params, x, y, lr, loss_fn, first_order)
    return params


def adapt(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, *, lr: float,
          steps: int = 1, loss_fn: LossFn = mse, first_order: bool = False) -> Params:
    """The inner loop for one task: ``steps`` SGD steps of size ``lr`` on the points ``(x, y)``.

    Functional: returns new parameters and leaves ``params`` alone. Differentiable with
    ``torch.func.grad`` (or autograd) through every step, second derivatives included; with
    ``first_order=True`` each inner gradient is treated as a constant (FOMAML).

    Arguments:
        model: any ``nn.Module``; only its structure is used (``functional_call``).
        params: initial parameters, a dict name → tensor with the model's parameter names.
        x, y: the task's support inputs and targets, e.g. of shape ``(K, 1)``.
        lr: the inner step size α (``>= 0``); steps: number of SGD steps (``>= 0``).
        loss_fn: ``loss_fn(prediction, target)`` → scalar; mean squared error by default.
    """
    _check_params(model, params)
    lr = _checks.nonneg_float("lr", lr)
    steps = _checks.nonneg_int("steps", steps)
    return _inner(model, params, x, y, lr, steps, loss_fn, first_order)


def adapt_tasks(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, *, lr: float,
                steps: int = 1, loss_fn: LossFn = mse, first_order: bool = False) -> Params:
    """:func:`adapt` for a batch of tasks at once (``vmap``): ``x``, ``y`` of shape
    ``(n_tasks, K, ...)``; returns parameters with the tasks in front, ``(n_tasks, *shape)``."""
    _check_params(model, params)
    lr = _checks.nonneg_float("lr", lr)
    steps = _checks.nonneg_int("steps", steps)

    return vmap(lambda x_i, y_i: _inner(model, params, x_i, y_i, lr, steps, loss_fn, first_order))(x, y)


def adaptation_losses(model: nn.Module, params: Params, batch: TaskBatch, *, lr: float,
                      steps: int = 10, loss_fn: LossFn = mse) -> torch.Tensor:
    """Query loss of every task after 0, 1, ..., ``steps`` SGD steps of size ``lr`` on its support.

    Starts from ``params`` (any initialisation: MAML's, Reptile's, a pretrained network's) and
    adapts all tasks of ``batch`` at once. Returns a tensor of shape ``(steps + 1, n_tasks)``;
    a task whose loss stops being finite (it diverged) reads ``inf``.
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch must be a TaskBatch, got {type(batch).__name__}")
    _check_params(model, params)
    lr = _checks.nonneg_float("lr", lr)
    steps = _checks.nonneg_int("steps", steps)
    params = {name: p.detach() for name, p in params.items()}

    def curve(xs, ys, xq, yq):
        p, out = params, []
        for step in range(steps + 1):
            out.append(task_loss(model, p, xq, yq, loss_fn))
            if step < steps:
                p = _sgd_step(model, p, xs, ys, lr, loss_fn, True)
        return torch.stack(out)

    with torch.no_grad():
        losses = vmap(curve)(batch.x_support, batch.y_support, batch.x_query, batch.y_query).T
    return torch.nan_to_num(losses, nan=math.inf)


def sharpness(model: nn.Module, params: Params, batch: TaskBatch, *, iterations: int = 100,
              per_task: bool = False, loss_fn: LossFn = mse,
              generator: torch.Generator | int = 0) -> torch.Tensor:
    """The largest eigenvalue (in magnitude) of each task's support-loss Hessian at ``params``.

    Gradient descent with step ``α`` on a quadratic diverges along any direction whose curvature
    ``λ`` has ``α λ > 2``; ``α ×`` :func:`sharpness` tells which tasks an initialisation can adapt
    to stably. Power iteration with Hessian-vector products (forward-over-reverse, ``torch.func``),
    all tasks at once. With ``per_task=True`` each task has its own parameters, with the tasks in
    front (as :func:`adapt_tasks` returns them), e.g. to follow the curvature along adaptation.
    Returns a tensor of shape ``(n_tasks,)``.
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch must be a TaskBatch, got {type(batch).__name__}")
    _check_params(model, params)
    iterations = _checks.positive_int("iterations", iterations)
    params = {name: p.detach() for name, p in params.items()}
    if per_task:
        for name, p in params.items():
            if p.dim() == 0 or p.shape[0] != len(batch):
                raise ValueError(f"with per_task=True, params[{name!r}] must start with the "
                                 f"{len(batch)} tasks, got shape {tuple(p.shape)}")
    gen = _checks.generator(generator)
    shapes = {name: p.shape[1:] if per_task else p.shape for name, p in params.items()}
    start = {name: torch.randn((len(batch), *shape), generator=gen, dtype=params[name].dtype)
             .to(params[name].device) for name, shape in shapes.items()}

    def norm(v):
        return torch.sqrt(sum((t**2).sum() for t in v.values()))

    def top(theta, xs, ys, v):
        gradient = grad(lambda p: task_loss(model, p, xs, ys, loss_fn))
        v = {n: t / norm(v) for n, t in v.items()}
        value = torch.zeros(())
        for _ in range(iterations):
            hv = torch.func.jvp(gradient, (theta,), (v,))[1]
            value = sum((hv[n] * v[n]).sum() for n in v)  # Rayleigh quotient
            v = {n: t / norm(hv) for n, t in hv.items()}
        return value

    with torch.no_grad():
        return vmap(top, in_dims=(0 if per_task else None, 0, 0, 0))(
            params, batch.x_support, batch.y_support, start
        ).abs()


@dataclass(frozen=True)
class AdaptationCurve:
    """Query losses after 0..N adaptation steps on new tasks, and their summary per step.

    Attributes:
        losses: ``(steps + 1, n_tasks)`` query loss of each task after each number of steps.
        mean, ci95, median: per step; ``mean ± ci95`` is the normal 95% interval of the mean
            (1.96 standard errors). A few diverged tasks dominate the mean (``inf`` once a
            loss overflows, and then ``ci95`` is ``inf`` too); the median stays informative.
        diverged: per step, how many tasks diverged: loss not finite, or above
            ``divergence_factor`` × the mean loss before adaptation (a scale no task reaches
            while it converges; relative to the mean, so that a task whose own starting loss is
            tiny is not counted for a harmless rise).
        lr: the step size used.
    """

    losses: torch.Tensor
    mean: torch.Tensor
    ci95: torch.Tensor
    median: torch.Tensor
    diverged: torch.Tensor
    lr: float

    @property
    def steps(self) -> int:
        return self.losses.shape[0] - 1

    def at(self, step: int) -> dict[str, float]:
        """The summary after ``step`` steps as plain numbers (for tables and records)."""
        return {
            "mean": float(self.mean[step]),
            "ci95": float(self.ci95[step]),
            "median": float(self.median[step]),
            "diverged": int(self.diverged[step]),
        }


def summarize_adaptation(losses: torch.Tensor, lr: float = math.nan,
                         divergence_factor: float = 10.0) -> AdaptationCurve:
    """Mean, 95% interval, median and count of diverged tasks per step, from a
    ``(steps + 1, n_tasks)`` tensor of losses (as :func:`adaptation_losses` returns)."""
    _checks.tensor_shape("losses", losses, (None, None))
    losses = losses.detach().to(torch.float64).cpu()
    n = losses.shape[1]
    finite = torch.isfinite(losses).all(dim=1)
    mean = torch.where(finite, losses.mean(dim=1), torch.tensor(math.inf, dtype=losses.dtype))
    std = losses.std(dim=1) if n > 1 else torch.zeros(losses.shape[0], dtype=losses.dtype)
    ci95 = torch.where(finite, 1.96 * std / math.sqrt(n), torch.tensor(math.inf, dtype=losses.dtype))
    median = losses.median(dim=1).values
    threshold = divergence_factor * losses[0][torch.isfinite(losses[0])].mean()
    diverged = (~torch.isfinite(losses) | (losses > threshold)).sum(dim=1)
    return AdaptationCurve(losses, mean, ci95, median, diverged, float(lr))


def evaluate_adaptation(model: nn.Module, params: Params, tasks, *, lr: float, steps: int = 10,
                        n_tasks: int = 600, k_support: int = 10, k_query: int = 100,
                        generator: torch.Generator | int = 0, device="cpu",
                        query_x: torch.Tensor | None = None, loss_fn: LossFn = mse,
                        divergence_factor: float = 10.0) -> AdaptationCurve:
    """Adapt from ``params`` on ``n_tasks`` new tasks and summarise the query loss per step.

    Draws the tasks from ``tasks`` (e.g. :class:`~l2l.tasks.SineTasks`) with ``k_support`` support
    points and ``k_query`` fresh query points each (or the fixed inputs ``query_x``, e.g. a grid)
    in the dtype of ``params``,
    runs ``steps`` SGD steps of size ``lr`` (:func:`adaptation_losses`) and returns an
    :class:`AdaptationCurve`. The same ``generator`` seed gives the same tasks to every
    initialisation, so curves of different methods are paired.
    """
    _check_params(model, params)
    dtype = next(iter(params.values())).dtype
    batch = tasks.sample(n_tasks, k_support, k_query, generator=generator, device=device,
                         dtype=dtype, query_x=query_x)
    losses = adaptation_losses(model, params, batch, lr=lr, steps=steps, loss_fn=loss_fn)
    return summarize_adaptation(losses, lr, divergence_factor)


def tune_step_size(model: nn.Module, params: Params, tasks, candidates: Sequence[float], *,
                   steps: int = 10, n_tasks: int = 100, k_support: int = 10, k_query: int = 100,
                   generator: torch.Generator | int = 1, device="cpu",
                   loss_fn: LossFn = mse) -> tuple[float, dict[float, float]]:
    """The fine-tuning step size, among ``candidates``, with the lowest mean query loss after
    ``steps`` steps on held-out tasks (use a seed other than the test tasks').

    Returns ``(best, scores)`` with ``scores[lr]`` the mean loss for each candidate.
    """
    if not candidates:
        raise ValueError("candidates must hold at least one step size")
    _check_params(model, params)
    dtype = next(iter(params.values())).dtype
    batch = tasks.sample(n_tasks, k_support, k_query, generator=generator, device=device, dtype=dtype)
    scores = {}
    for lr in candidates:
        final = adaptation_losses(model, params, batch, lr=lr, steps=steps, loss_fn=loss_fn)[-1]
        scores[float(lr)] = float(final.mean())
    best = min(scores, key=lambda lr: scores[lr] if math.isfinite(scores[lr]) else math.inf)
    return best, scores


def maml_loss(model: nn.Module, params: Params, batch: TaskBatch, *, inner_lr: float,
              inner_steps: int = 1, first_order: bool = False, loss_fn: LossFn = mse) -> torch.Tensor:
    """The meta-objective of Algorithm 1: the mean over the batch's tasks of the query loss after
    ``inner_steps`` SGD steps of size ``inner_lr`` on each task's support set.

    Differentiate it with ``torch.func.grad`` (see :func:`maml_gradient`) or with autograd
    (``params`` requiring grad). ``first_order=True`` gives FOMAML's gradient.
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch must be a TaskBatch, got {type(batch).__name__}")
    _check_params(model, params)
    inner_lr = _checks.nonneg_float("inner_lr", inner_lr)
    inner_steps = _checks.nonneg_int("inner_steps", inner_steps)

    def one(xs, ys, xq, yq):
        fast = _inner(model, params, xs, ys, inner_lr, inner_steps, loss_fn, first_order)
        return task_loss(model, fast, xq, yq, loss_fn)

    return vmap(one)(batch.x_support, batch.y_support, batch.x_query, batch.y_query).mean()


def maml_gradient(model: nn.Module, params: Params, batch: TaskBatch, *, inner_lr: float,
                  inner_steps: int = 1, first_order: bool = False,
                  loss_fn: LossFn = mse) -> tuple[Params, torch.Tensor]:
    """``(meta-gradient, meta-loss)`` of :func:`maml_loss` at ``params`` (``torch.func.grad``)."""
    params = {name: p.detach() for name, p in params.items()}
    return grad_and_value(
        lambda p: maml_loss(model, p, batch, inner_lr=inner_lr, inner_steps=inner_steps,
                            first_order=first_order, loss_fn=loss_fn)
    )(params)


@dataclass
class MAMLResult:
    """What :func:`train_maml` returns: one trained initialisation per run.

    Attributes:
        params: one dict of parameters per run, in the order of the runs.
        losses: ``(iterations, n_runs)`` meta-loss (mean query loss after adaptation) of every
            iteration's task batch, before that iteration's update.
        inner_lr, first_order: the settings of each run.
        seconds: wall time of the training loop (compilation included in ``compile_seconds``).
        iterations_per_second: meta-iterations per second after compilation.
        compiled: whether the step ran compiled (see ``compile``).
    """

    params: list[Params]
    losses: torch.Tensor
    inner_lr: list[float]
    first_order: list[bool]
    seconds: float
    compile_seconds: float
    iterations_per_second: float
    compiled: bool


def _broadcast(name, value, n, convert):
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) == 1:
        values = values * n
    if len(values) != n:
        raise ValueError(f"{name} must hold one value or one per run ({n}), got {len(values)}")
    return [convert(name, v) for v in values]


def _as_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False (or a list of them), got {value!r}")
    return value


def _groups(alphas, fos, inner_steps):
    """Runs that share one computation: second-order MAML, FOMAML, and joint training (α = 0 or
    no inner step, where there is nothing to adapt). Returns ``{kind: [run indices]}``."""
    out = {"second": [], "first": [], "joint": []}
    for r, (alpha, fo) in enumerate(zip(alphas, fos, strict=True)):
        kind = "joint" if alpha == 0 or inner_steps == 0 else "first" if fo else "second"
        out[kind].append(r)
    return {kind: runs for kind, runs in out.items() if runs}


def _make_step(model, names, shapes, loss_fn, inner_steps, groups):
    """One meta-iteration of all runs at once, to be traced and compiled.

    The parameters of every run are the rows of one flat buffer ``P`` (runs × parameters), with
    Adam's moments ``M`` and ``V`` alongside, so the compiled step has few inputs and one fused
    update. Runs of one kind (``groups``: kind, first row, number of rows) are
    batched with ``vmap`` over runs around the ``vmap`` over tasks, and each kind computes only
    what it needs: joint training has no inner loop, FOMAML no second derivatives.
    Returns the meta-loss of every run (rows of ``P``).
    """
    sizes = [math.prod(shape) for shape in shapes]

    def unflatten(row):
        return {n: piece.view(shape) for n, piece, shape in
                zip(names, torch.split(row, sizes), shapes, strict=True)}

    def run_loss(row, alpha, xs, ys, xq, yq, kind):
        params = unflatten(row)
        if kind == "joint":  # nothing to adapt: fit every point of every task
            x, y = torch.cat([xs, xq], dim=1), torch.cat([ys, yq], dim=1)
            return vmap(lambda x_i, y_i: task_loss(model, params, x_i, y_i, loss_fn))(x, y).mean()

        def one(xs_i, ys_i, xq_i, yq_i):
            fast = _inner(model, params, xs_i, ys_i, alpha, inner_steps, loss_fn, kind == "first")
            return task_loss(model, fast, xq_i, yq_i, loss_fn)

        return vmap(one)(xs, ys, xq, yq).mean()

    def total(P, alphas, xs, ys, xq, yq):
        losses = torch.cat([
            vmap(run_loss, in_dims=(0, 0, None, None, None, None, None))(
                P[first:first + n], alphas[first:first + n], xs, ys, xq, yq, kind
            )
            for kind, first, n in groups
        ])
        return losses.sum(), losses

    gradient = grad_and_value(total, has_aux=True)

    def step(P, M, V, t, lr, alphas, xs, ys, xq, yq, beta1=0.9, beta2=0.999, eps=1e-8):
        g, (_, losses) = gradient(P, alphas, xs, ys, xq, yq)
        t.add_(1)
        M.mul_(beta1).add_(g, alpha=1 - beta1)
        V.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        P.sub_(lr * (M / (1 - beta1**t)) / ((V / (1 - beta2**t)).sqrt() + eps))
        return losses

    return step


_COMPILED: dict = {}


def _compiled_step(key, step, example):
    """``step`` compiled for the shapes of ``example``: traced to one flat graph of ATen operations
    with ``make_fx`` (which sees through ``grad`` and ``vmap`` quickly) and compiled by Inductor,
    so a call runs generated kernels with no Python tracing and no guards. Cached by ``key`` for
    the session. Falls back to ``step`` itself, with a warning, if compilation fails (no C++
    compiler, an unsupported platform, ...)."""
    if key in _COMPILED:
        return _COMPILED[key]
    try:  # private entry points of torch: a release without them trains eagerly
        from torch._inductor import compile as inductor_compile
        from torch.fx.experimental.proxy_tensor import make_fx

        def positional(*args):
            return step(*args)

        graph = make_fx(positional, tracing_mode="fake")(*example)
        compiled = inductor_compile(graph, [a.clone() for a in example])
    except Exception as error:  # noqa: BLE001 — any failure: train in eager mode instead
        warnings.warn(f"could not compile the MAML step ({type(error).__name__}: {error}); "
                      "training in eager mode", stacklevel=3)
        return step

    _COMPILED[key] = compiled
    return compiled


def train_maml(model: nn.Module, tasks, *, iterations: int, inner_lr: float | Sequence[float] = 0.01,
               first_order: bool | Sequence[bool] = False, inner_steps: int = 1,
               meta_batch: int = 25, k_support: int = 10, k_query: int | None = None,
               meta_lr: float | Callable[[int], float] = 1e-3, params: Params | None = None,
               generator: torch.Generator | int = 0, device="cpu", loss_fn: LossFn = mse,
               compile: bool = True, chunk: int = 1000, progress: bool = True) -> MAMLResult:
    """Meta-train initialisations with MAML's Algorithm 1 (Adam on the meta-gradient).

    Every iteration draws ``meta_batch`` tasks from ``tasks`` with ``k_support`` support and
    ``k_query`` query points, adapts each with ``inner_steps`` SGD steps of size ``inner_lr``
    (all tasks at once, ``vmap``), and takes one Adam step (``meta_lr``, default betas) on the
    mean query loss. ``first_order=True`` trains FOMAML.

    Several runs at once: give ``inner_lr`` and/or ``first_order`` as lists (one entry per run)
    and the runs train side by side in one batched step on the same task batches, from the same
    initialisation — e.g. ``inner_lr=[0.01, 0.001, 0.01, 0.0], first_order=[False, False, True,
    False]`` trains MAML with two step sizes, FOMAML, and joint training. A run with α = 0 (or
    ``inner_steps=0``) has nothing to adapt: it is the "pretrained" baseline of the paper, one
    network fitted to the support and query points of all tasks at once, with the same budget.

    Arguments:
        model: any ``nn.Module``; its parameters are the starting point unless ``params`` is given
            (the module itself is not modified).
        tasks: a task distribution with ``sample(n, k_support, k_query, generator, device)``.
        iterations: number of meta-iterations.
        meta_lr: Adam's step size, or a function of the iteration (e.g. a linear decay).
        generator: seed or ``torch.Generator`` for the task batches (drawn ``chunk`` iterations at
            a time).
        compile: trace the whole meta-iteration (meta-gradient and Adam update) into one graph
            and compile it with Inductor (about 15-30 s on a 2-core CPU, cached on disk); falls
            back to eager mode, with a warning, if compilation fails; ``L2L_COMPILE=0`` in the
            environment turns it off. With one CPU thread
            (``torch.set_num_threads(1)``) the small kernels run fastest and do not stall when
            another process holds the second core.
        progress: show a progress bar.

    Raises ``FloatingPointError`` naming the iteration if a meta-loss stops being finite.
    """
    iterations = _checks.positive_int("iterations", iterations)
    inner_steps = _checks.nonneg_int("inner_steps", inner_steps)
    meta_batch = _checks.positive_int("meta_batch", meta_batch)
    chunk = min(_checks.positive_int("chunk", chunk), iterations)
    n_runs = max(len(v) if isinstance(v, (list, tuple)) else 1 for v in (inner_lr, first_order))
    alphas = _broadcast("inner_lr", inner_lr, n_runs, _checks.nonneg_float)
    fos = _broadcast("first_order", first_order, n_runs, _as_bool)
    if callable(meta_lr):
        lr_at = meta_lr
    else:
        constant = _checks.positive_float("meta_lr", meta_lr)

        def lr_at(_iteration):
            return constant

    start = parameters_of(model) if params is None else {n: p.detach() for n, p in params.items()}
    _check_params(model, start)
    gen = _checks.generator(generator)

    names = list(start)
    shapes = [tuple(start[n].shape) for n in names]
    by_kind = _groups(alphas, fos, inner_steps)
    order = [r for runs in by_kind.values() for r in runs]  # the run held in each row of P
    groups, row = [], 0
    for kind, runs in by_kind.items():
        groups.append((kind, row, len(runs)))
        row += len(runs)
    flat = torch.cat([start[n].reshape(-1) for n in names]).to(device)
    P = flat.unsqueeze(0).repeat(n_runs, 1)
    M, V = torch.zeros_like(P), torch.zeros_like(P)
    dtype = P.dtype
    t = torch.zeros((), device=device, dtype=dtype)
    lr = torch.zeros((), device=device, dtype=dtype)
    alpha_t = torch.tensor([alphas[r] for r in order], device=device, dtype=dtype)

    eager = _make_step(model, names, shapes, loss_fn, inner_steps, groups)
    losses = torch.empty(iterations, n_runs, dtype=dtype)
    step, compiled, compile_seconds = eager, False, 0.0
    bar = tqdm(total=iterations, desc="MAML", disable=not progress, mininterval=1.0)
    began = time.perf_counter()
    for first in range(0, iterations, chunk):
        n = min(chunk, iterations - first)
        batch = tasks.sample(n * meta_batch, k_support, k_query, generator=gen, device=device,
                             dtype=dtype)
        data = [getattr(batch, f).reshape(n, meta_batch, *getattr(batch, f).shape[1:]).unbind(0)
                for f in ("x_support", "y_support", "x_query", "y_query")]
        if first == 0 and compile and compile_allowed():
            tick = time.perf_counter()
            # buffers (if any) are baked into the graph as constants: then the key is the module
            key = (type(model), repr(model), (id(model),) if list(model.buffers()) else (),
                   loss_fn, inner_steps, tuple(groups), P.shape,
                   tuple(data[0][0].shape), tuple(data[2][0].shape), dtype, str(P.device))
            example = (P, M, V, t, lr, alpha_t, data[0][0], data[1][0], data[2][0], data[3][0])
            step = _compiled_step(key, eager, example)
            compiled, compile_seconds = step is not eager, time.perf_counter() - tick
        out = []
        for i in range(n):
            lr.fill_(lr_at(first + i))
            out.append(step(P, M, V, t, lr, alpha_t, data[0][i], data[1][i], data[2][i], data[3][i]))
        losses[first:first + n, order] = torch.stack(out).detach().cpu()
        bad = ~torch.isfinite(losses[first:first + n]).all(dim=1)
        if bad.any():
            at = first + int(bad.nonzero()[0])
            raise FloatingPointError(
                f"MAML meta-loss is not finite at iteration {at} (runs with inner_lr {alphas}); "
                "lower inner_lr or meta_lr, or clip the targets"
            )
        bar.update(n)
    bar.close()
    seconds = time.perf_counter() - began
    rate = iterations / max(seconds - compile_seconds, 1e-9)
    trained = [None] * n_runs
    offsets = [0, *itertools.accumulate(math.prod(shape) for shape in shapes)]
    for j, r in enumerate(order):
        trained[r] = {n: P[j, offsets[i]:offsets[i + 1]].reshape(shapes[i]).clone()
                      for i, n in enumerate(names)}
    return MAMLResult(trained, losses, alphas, fos, seconds, compile_seconds, rate, compiled)


def linear_maml_optimum(tasks: LinearTasks, *, inner_lr: float, inner_steps: int = 1,
                        k_support: int = 10, n_draws: int = 200_000,
                        generator: torch.Generator | int = 0) -> dict[str, torch.Tensor]:
    """The initialisations MAML and joint training converge to on linear regression, in closed form.

    For the model ``y = w[0] x + w[1]`` and the squared loss, a task with optimum ``w*`` and input
    second moment ``Σ`` (:meth:`~l2l.tasks.LinearTasks.moments`) has the query loss
    ``(w − w*)ᵀ Σ (w − w*) + σ²`` on average over query points. ``k`` SGD steps of size ``α`` on a
    support set whose loss has Hessian ``Ĥ = (2/K) Σ_j φ_j φ_jᵀ`` (``φ = (x, 1)``) map
    ``w − w*`` to ``(I − αĤ)^k (w − w*)`` plus zero-mean label noise, so MAML minimises
    ``E[(w − w*)ᵀ A (w − w*)]`` with ``A = (I − αĤ)^k Σ (I − αĤ)^k``:

        w_MAML = E[A]⁻¹ E[A w*],     w_joint = E[Σ]⁻¹ E[Σ w*],

    expectations over tasks and support draws. They are estimated here from ``n_draws`` sampled
    tasks in float64. Returns ``{"maml": w_MAML, "joint": w_joint}``, each a tensor
    ``(slope, intercept)``.
    """
    if not isinstance(tasks, LinearTasks):
        raise TypeError(f"tasks must be a LinearTasks, got {type(tasks).__name__}")
    inner_lr = _checks.nonneg_float("inner_lr", inner_lr)
    inner_steps = _checks.nonneg_int("inner_steps", inner_steps)
    batch = tasks.sample(n_draws, k_support, 1, generator=generator, dtype=torch.float64)
    phi = torch.cat([batch.x_support, torch.ones_like(batch.x_support)], dim=2)  # (n, K, 2)
    hessian = 2 * phi.transpose(1, 2) @ phi / phi.shape[1]
    shrink = torch.linalg.matrix_power(torch.eye(2, dtype=torch.float64) - inner_lr * hessian,
                                       inner_steps)
    sigma = LinearTasks.moments(batch.params)
    a = shrink @ sigma @ shrink
    w_star = torch.stack([batch.params["slope"], batch.params["intercept"]], dim=1)[..., None]
    maml = torch.linalg.solve(a.mean(0), (a @ w_star).mean(0))[:, 0]
    joint = torch.linalg.solve(sigma.mean(0), (sigma @ w_star).mean(0))[:, 0]
    return {"maml": maml, "joint": joint}
