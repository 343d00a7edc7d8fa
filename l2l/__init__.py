"""l2l: the companion package of the book "Learning to learn".

The public API is re-exported here and documented on the book's API page.
"""

from l2l import (
    baselines,
    maml,
    maml_rl,
    mnist,
    navigation,
    neural_art,
    policy_gradient,
    reptile,
    tasks,
    taylor,
)
from l2l.baselines import lr_grid, tune_baselines, tune_learning_rate
from l2l.data import load_mnist, mnist_splits
from l2l.learned_optimizer import (
    LSTMOptimizer,
    MetaTrainLog,
    evaluate,
    evaluate_many,
    meta_train,
    preprocess_gradients,
    validation_score,
)
from l2l.maml import (
    AdaptationCurve,
    MAMLResult,
    adapt,
    adapt_tasks,
    adaptation_losses,
    evaluate_adaptation,
    linear_maml_optimum,
    maml_gradient,
    maml_loss,
    parameters_of,
    sharpness,
    summarize_adaptation,
    train_maml,
    tune_step_size,
)
from l2l.maml_rl import MAMLRLResult, adaptation_returns, train_maml_rl
from l2l.mnist import CONDITIONS, Condition, ConditionResult, run_condition
from l2l.navigation import PointNavigationEnv, Trajectories, rollout
from l2l.neural_art import RandomFeatures, StyleTransferProblem, gram_matrix, total_variation
from l2l.no_free_lunch import (
    Descent,
    RandomSearch,
    SearchAlgorithm,
    Sweep,
    all_functions,
    best_so_far,
    is_valley,
    sample_distribution,
    summed_distribution,
)
from l2l.optim import LearnedOptimizer, load_pretrained, pretrained_record
from l2l.plotting import loss_curves, use_style
from l2l.policy_gradient import init_policy, trpo_step
from l2l.problems import (
    MLPProblem,
    Problem,
    QuadraticProblem,
    mlp_family,
    quadratic_family,
    sample_quadratics,
)
from l2l.reptile import ReptileResult, linear_anneal, reptile_step, reptile_step_serial, train_reptile
from l2l.results import Claims, glue, notebook_settings, record
from l2l.runtime import default_device
from l2l.tasks import LinearTasks, SineTasks, TaskBatch
from l2l.taylor import expected_meta_gradients, leading_terms, taylor_check

__version__ = "0.1.0"
