"""l2l: the companion package of the book "Learning to learn".

Layout (the API page of the book documents every module):

* algorithms, one module or package each: :mod:`l2l.no_free_lunch`, :mod:`l2l.learned_optimizer`
  (the LSTM optimizer and its meta-training), :mod:`l2l.baselines` (SGD, NAG, RMSprop, Adam),
  :mod:`l2l.maml`, :mod:`l2l.reptile`, :mod:`l2l.taylor` (Reptile's Taylor expansion),
  :mod:`l2l.policy_gradient` and :mod:`l2l.maml_rl`;
* what they train on: :mod:`l2l.tasks` (optimizees and task distributions) and :mod:`l2l.data`
  (MNIST, the Neural Art photographs), with :mod:`l2l.checkpoints` for saved optimizers;
* the book's experiments, apart: :mod:`l2l.experiments` (the MNIST and Neural Art drivers,
  ``python -m l2l.experiments.train``, the shipped weights) and :mod:`l2l.report` (plots and the
  notebooks' result records).

The names below are importable flat, ``l2l.train_maml``; each module is imported on first use,
so ``import l2l`` costs little more than ``import torch``.
"""

from __future__ import annotations

import importlib
import pkgutil

#: flat name -> the module that defines it
_EXPORTS = {
    "Descent": "l2l.no_free_lunch",
    "RandomSearch": "l2l.no_free_lunch",
    "SearchAlgorithm": "l2l.no_free_lunch",
    "Sweep": "l2l.no_free_lunch",
    "all_functions": "l2l.no_free_lunch",
    "best_so_far": "l2l.no_free_lunch",
    "is_valley": "l2l.no_free_lunch",
    "sample_distribution": "l2l.no_free_lunch",
    "summed_distribution": "l2l.no_free_lunch",
    "MLPProblem": "l2l.tasks.problems",
    "Problem": "l2l.tasks.problems",
    "QuadraticProblem": "l2l.tasks.problems",
    "mlp_family": "l2l.tasks.problems",
    "quadratic_family": "l2l.tasks.problems",
    "sample_quadratics": "l2l.tasks.problems",
    "LinearTasks": "l2l.tasks.regression",
    "SineTasks": "l2l.tasks.regression",
    "TaskBatch": "l2l.tasks.regression",
    "PointNavigationEnv": "l2l.tasks.navigation",
    "Trajectories": "l2l.tasks.navigation",
    "rollout": "l2l.tasks.navigation",
    "RandomFeatures": "l2l.tasks.style_transfer",
    "StyleTransferProblem": "l2l.tasks.style_transfer",
    "gram_matrix": "l2l.tasks.style_transfer",
    "total_variation": "l2l.tasks.style_transfer",
    "load_mnist": "l2l.data.mnist",
    "mnist_splits": "l2l.data.mnist",
    "LSTMOptimizer": "l2l.learned_optimizer",
    "MetaTrainLog": "l2l.learned_optimizer",
    "Truncation": "l2l.learned_optimizer",
    "OuterOptimizer": "l2l.learned_optimizer",
    "Validation": "l2l.learned_optimizer",
    "evaluate": "l2l.learned_optimizer",
    "evaluate_many": "l2l.learned_optimizer",
    "meta_train": "l2l.learned_optimizer",
    "preprocess_gradients": "l2l.learned_optimizer",
    "validation_score": "l2l.learned_optimizer",
    "LearnedOptimizer": "l2l.learned_optimizer",
    "lr_grid": "l2l.baselines",
    "tune_baselines": "l2l.baselines",
    "tune_learning_rate": "l2l.baselines",
    "load_pretrained": "l2l.checkpoints",
    "pretrained_record": "l2l.checkpoints",
    "CONDITIONS": "l2l.experiments.mnist",
    "Condition": "l2l.experiments.mnist",
    "ConditionResult": "l2l.experiments.mnist",
    "run_condition": "l2l.experiments.mnist",
    "AdaptationCurve": "l2l.maml",
    "MAMLResult": "l2l.maml",
    "adapt": "l2l.maml",
    "adapt_tasks": "l2l.maml",
    "adaptation_losses": "l2l.maml",
    "evaluate_adaptation": "l2l.maml",
    "linear_maml_optimum": "l2l.maml",
    "maml_gradient": "l2l.maml",
    "maml_loss": "l2l.maml",
    "parameters_of": "l2l.maml",
    "sharpness": "l2l.maml",
    "mean_ci95": "l2l.maml",
    "summarize_adaptation": "l2l.maml",
    "train_maml": "l2l.maml",
    "tune_step_size": "l2l.maml",
    "ReptileResult": "l2l.reptile",
    "linear_anneal": "l2l.reptile",
    "reptile_step": "l2l.reptile",
    "reptile_step_serial": "l2l.reptile",
    "train_reptile": "l2l.reptile",
    "expected_meta_gradients": "l2l.taylor",
    "leading_terms": "l2l.taylor",
    "taylor_check": "l2l.taylor",
    "init_policy": "l2l.policy_gradient",
    "trpo_step": "l2l.policy_gradient",
    "MAMLRLResult": "l2l.maml_rl",
    "adaptation_returns": "l2l.maml_rl",
    "train_maml_rl": "l2l.maml_rl",
    "loss_curves": "l2l.report.plotting",
    "use_style": "l2l.report.plotting",
    "Claims": "l2l.report.results",
    "glue": "l2l.report.results",
    "notebook_settings": "l2l.report.results",
    "record": "l2l.report.results",
    "default_device": "l2l.runtime",
}

#: modules reachable as attributes of the package, ``l2l.maml``, ``l2l.tasks``: every public one
_MODULES = {info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str):
    """Import the module behind ``l2l.<name>`` on first use (PEP 562)."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'l2l' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_MODULES})
