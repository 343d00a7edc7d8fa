"""The coordinatewise LSTM optimizer of Andrychowicz et al. (2016), and its meta-training.

The optimizer network m with parameters φ proposes an update for every coordinate of θ:

    θ_{t+1} = θ_t + g_t,    [g_t, h_{t+1}] = m(∇_t, h_t, φ),    ∇_t = ∇_θ f(θ_t)      (eq. 1, 3)

and is trained on the meta-loss  L(φ) = E_f [ Σ_{t=1..T} w_t f(θ_t) ]  with w_t = 1 (eq. 3)
by truncated backpropagation through time, treating the optimizee's gradients as inputs
(∂∇_t/∂φ = 0).

Every optimizer here, learned or hand-designed (see :mod:`l2l.baselines`), is an *update rule*:
an object with ``init_state(theta) -> state`` and ``step(grad, state) -> (update, state)``,
acting elementwise so that a whole batch of functions is optimized at once.

Modules: :mod:`~l2l.learned_optimizer.network` (the network and its preprocessing),
:mod:`~l2l.learned_optimizer.lstm_cell` (its fused LSTM cell), :mod:`~l2l.learned_optimizer.evaluation`
(running and scoring update rules), :mod:`~l2l.learned_optimizer.meta_train` (truncated BPTT) and
:mod:`~l2l.learned_optimizer.torch_optim` (a trained network as a ``torch.optim.Optimizer``).
"""

from l2l.learned_optimizer.evaluation import evaluate, evaluate_many, validation_score, window_score
from l2l.learned_optimizer.meta_train import (
    STEP_WEIGHTS,
    MetaTrainLog,
    OuterOptimizer,
    Truncation,
    Validation,
    meta_train,
)
from l2l.learned_optimizer.network import LSTMOptimizer, preprocess_gradients
from l2l.learned_optimizer.torch_optim import LearnedOptimizer

__all__ = [
    "LSTMOptimizer",
    "preprocess_gradients",
    "evaluate",
    "evaluate_many",
    "validation_score",
    "window_score",
    "STEP_WEIGHTS",
    "MetaTrainLog",
    "Truncation",
    "OuterOptimizer",
    "Validation",
    "meta_train",
    "LearnedOptimizer",
]
