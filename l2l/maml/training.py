"""Meta-training with MAML's Algorithm 1: Adam on the meta-gradient, several runs side by side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from l2l import _checks, _compile
from l2l._flat import flatten, unflatten
from l2l._progress import progress_bar
from l2l.maml.core import LossFn, Params, _check_params, mse, parameters_of
from l2l.maml.fused import _compiled_step, _make_step


@dataclass
class MAMLResult:
    """What :func:`train_maml` returns: one trained initialisation per run.

    Attributes:
        params: one dict of parameters per run, in the order of the runs.
        losses: ``(iterations, n_runs)`` meta-loss of every iteration's task batch, before that
            iteration's update: the mean query loss after adaptation, or for a joint-training run
            (α = 0) the mean loss on all support and query points it fits.
        inner_lr, first_order: the settings of each run, as given (a joint-training run adapts
            nothing, whatever its ``first_order``).
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

    Args:
        model: any ``nn.Module``; its parameters are the starting point unless ``params`` is given
            (the module itself is not modified).
        tasks: a task distribution with ``sample(n, k_support, k_query, generator=, device=,
            dtype=)`` returning a :class:`~l2l.tasks.regression.TaskBatch` (the tasks of
            :mod:`l2l.tasks.regression`).
        iterations: number of meta-iterations.
        inner_lr: α, the inner SGD step, ``>= 0``; a list trains one run per entry (0: joint
            training).
        first_order: FOMAML (the inner gradients treated as constants), or a list, one per run.
        inner_steps: inner SGD steps per task (the paper: 1 for sine regression).
        meta_batch: tasks per meta-iteration (the paper: 25); k_support, k_query: points per task
            in the inner step and in the meta-loss (``k_query=None``: as many as ``k_support``).
        meta_lr: Adam's step size, or a function of the iteration (e.g. a linear decay), checked
            at every iteration.
        params: a starting point other than the model's own parameters.
        device: where the tasks are drawn and the training runs.
        loss_fn: ``loss_fn(prediction, target)`` → scalar; mean squared error by default.
        chunk: iterations whose tasks are drawn at once.
        generator: seed or ``torch.Generator`` for the task batches (drawn ``chunk`` iterations at
            a time).
        compile: trace the whole meta-iteration (meta-gradient and Adam update) into one graph
            and compile it with Inductor (``l2l._compile.traced``; ``benchmarks/maml_sine.py``
            times it); falls back to eager mode, with a warning, if compilation fails;
            ``L2L_COMPILE=0`` in the environment turns it off.
        progress: show a progress bar.

    Returns:
        A :class:`MAMLResult`: the trained parameters and the meta-loss of every run and iteration.

    Raises:
        FloatingPointError: a meta-loss, or the parameters after the last update, stopped being
            finite; the message names the iteration.
        ValueError, TypeError: a setting out of range or of the wrong type, named in the message.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 40), torch.nn.ReLU(), torch.nn.Linear(40, 40),
        ...                           torch.nn.ReLU(), torch.nn.Linear(40, 1))
        >>> result = train_maml(net, l2l.SineTasks(), iterations=1000, inner_lr=[0.01, 0.0])
        >>> maml, pretrained = result.params
    """
    iterations = _checks.positive_int("iterations", iterations)
    inner_steps = _checks.nonneg_int("inner_steps", inner_steps)
    meta_batch = _checks.positive_int("meta_batch", meta_batch)
    chunk = min(_checks.positive_int("chunk", chunk), iterations)
    n_runs = max(len(v) if isinstance(v, (list, tuple)) else 1 for v in (inner_lr, first_order))
    alphas = _broadcast("inner_lr", inner_lr, n_runs, _checks.nonneg_float)
    fos = _broadcast("first_order", first_order, n_runs, _as_bool)
    if callable(meta_lr):
        def lr_at(iteration):
            return _checks.nonneg_float(f"meta_lr({iteration})", meta_lr(iteration))
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
    flat = flatten(start[n] for n in names).to(device)
    P = flat.unsqueeze(0).repeat(n_runs, 1)
    M, V = torch.zeros_like(P), torch.zeros_like(P)
    dtype = P.dtype
    t = torch.zeros((), device=device, dtype=dtype)
    lr = torch.zeros((), device=device, dtype=dtype)
    alpha_t = torch.tensor([alphas[r] for r in order], device=device, dtype=dtype)

    eager = _make_step(model, names, shapes, loss_fn, inner_steps, groups)
    losses = torch.empty(iterations, n_runs, dtype=dtype)
    step, compiled, compile_seconds = eager, False, 0.0
    bar = progress_bar(total=iterations, show=progress, desc="MAML", mininterval=1.0)
    began = time.perf_counter()
    for first in range(0, iterations, chunk):
        n = min(chunk, iterations - first)
        batch = tasks.sample(n * meta_batch, k_support, k_query, generator=gen, device=device,
                             dtype=dtype)
        data = [getattr(batch, f).reshape(n, meta_batch, *getattr(batch, f).shape[1:]).unbind(0)
                for f in ("x_support", "y_support", "x_query", "y_query")]
        if first == 0 and compile and _compile.enabled():
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
            runs = [r for r in range(n_runs) if not math.isfinite(losses[at, r])]
            raise FloatingPointError(
                f"MAML meta-loss is not finite at iteration {at} in run(s) {runs} (inner_lr "
                f"{[alphas[r] for r in runs]}, first_order {[fos[r] for r in runs]}); lower inner_lr or "
                "meta_lr, or clip the targets"
            )
        bar.update(n)
    bar.close()
    if not torch.isfinite(P).all():  # the losses are measured before each update: check the last one
        raise FloatingPointError(f"MAML parameters are not finite after iteration {iterations - 1} (runs "
                                 f"with inner_lr {alphas}): the last meta-gradient was not finite")
    seconds = time.perf_counter() - began
    rate = iterations / max(seconds - compile_seconds, 1e-9)
    trained = [None] * n_runs
    for j, r in enumerate(order):
        trained[r] = {n: p.clone() for n, p in unflatten(P[j], dict(zip(names, shapes, strict=True))).items()}
    return MAMLResult(trained, losses, alphas, fos, seconds, compile_seconds, rate, compiled)
