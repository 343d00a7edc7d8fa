"""The fused meta-iteration of :func:`~l2l.maml.train_maml`: all runs' meta-gradients and Adam
updates in one traced graph, compiled by Inductor.
"""

from __future__ import annotations

import torch
from torch.func import grad_and_value, vmap

from l2l._compile import traced
from l2l._flat import unflatten
from l2l.baselines import adam_update
from l2l.maml.core import maml_loss
from l2l.tasks.regression import TaskBatch


def _make_step(model, names, shapes, loss_fn, inner_steps, groups):
    """One meta-iteration of all runs at once, to be traced and compiled.

    The parameters of every run are the rows of one flat buffer ``P`` (runs × parameters), with
    Adam's moments ``M`` and ``V`` alongside, so the compiled step has few inputs and one fused
    update (:func:`l2l.baselines.adam_update`, the baseline's Adam). Runs of one kind (``groups``:
    kind, first row, number of rows) are batched with ``vmap`` over runs around the ``vmap`` over
    tasks, and each kind computes only what it needs: joint training has no inner loop, FOMAML no
    second derivatives.
    Each run's loss is :func:`~l2l.maml.core.maml_loss` of its row; the step returns the
    meta-loss of every run (rows of ``P``).
    """
    named_shapes = dict(zip(names, shapes, strict=True))

    def run_loss(row, alpha, xs, ys, xq, yq, kind):
        params = unflatten(row, named_shapes)
        if kind == "joint":  # nothing to adapt: fit every point of every task
            both = torch.cat([xs, xq], dim=1), torch.cat([ys, yq], dim=1)
            return maml_loss(model, params, TaskBatch(xs, ys, *both, {}), inner_lr=0.0, inner_steps=0,
                             loss_fn=loss_fn)
        return maml_loss(model, params, TaskBatch(xs, ys, xq, yq, {}), inner_lr=alpha,
                         inner_steps=inner_steps, first_order=kind == "first", loss_fn=loss_fn)

    def total(P, alphas, xs, ys, xq, yq):
        losses = torch.cat([
            vmap(run_loss, in_dims=(0, 0, None, None, None, None, None))(
                P[first:first + n], alphas[first:first + n], xs, ys, xq, yq, kind
            )
            for kind, first, n in groups
        ])
        return losses.sum(), losses

    gradient = grad_and_value(total, has_aux=True)

    def step(P, M, V, t, lr, alphas, xs, ys, xq, yq):
        g, (_, losses) = gradient(P, alphas, xs, ys, xq, yq)
        t.add_(1)
        update, m, v = adam_update(g, M, V, t, lr)  # PyTorch's default betas and eps
        M.copy_(m)  # in place: the buffers carry over to the next call
        V.copy_(v)
        P.add_(update)
        return losses

    return step


_COMPILED: dict = {}


def _compiled_step(key, step, example):
    """``step`` compiled for the shapes of ``example`` (``l2l._compile.traced``), cached by
    ``key`` for the session; ``step`` itself when compilation is off or fails."""
    if key not in _COMPILED:
        _COMPILED[key] = traced(step, example, "the MAML step")
    return _COMPILED[key]
