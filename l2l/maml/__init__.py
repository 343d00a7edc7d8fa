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

Modules: :mod:`~l2l.maml.core` (inner loop and meta-objective), :mod:`~l2l.maml.evaluation`
(adaptation curves, step-size tuning), :mod:`~l2l.maml.curvature` (Hessian sharpness),
:mod:`~l2l.maml.training` (:func:`train_maml`), :mod:`~l2l.maml.fused` (its compiled step) and
:mod:`~l2l.maml.linear` (the closed form on linear regression).
"""

from l2l.maml.core import (
    adapt,
    adapt_tasks,
    maml_gradient,
    maml_loss,
    mse,
    parameters_of,
    task_loss,
)
from l2l.maml.curvature import sharpness
from l2l.maml.evaluation import (
    AdaptationCurve,
    adaptation_losses,
    evaluate_adaptation,
    mean_ci95,
    summarize_adaptation,
    tune_step_size,
)
from l2l.maml.linear import linear_maml_optimum
from l2l.maml.training import MAMLResult, train_maml

__all__ = [
    "mse",
    "parameters_of",
    "task_loss",
    "adapt",
    "adapt_tasks",
    "maml_loss",
    "maml_gradient",
    "AdaptationCurve",
    "adaptation_losses",
    "evaluate_adaptation",
    "mean_ci95",
    "summarize_adaptation",
    "tune_step_size",
    "sharpness",
    "MAMLResult",
    "train_maml",
    "linear_maml_optimum",
]
