"""The MNIST experiments of Andrychowicz et al. (2016): Figure 4 (right) and Figure 5.

One learned optimizer, meta-trained on the 784-20-10 sigmoid MLP for 100 steps, is compared
with SGD, RMSprop, Adam and NAG, each with its learning rate tuned on validation problems
(held-out training images), on test problems (test images) under five conditions:
the training setting, 200 steps, 40 hidden units, two hidden layers, and ReLU activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from l2l import _checks
from l2l.baselines import Tuned, lr_grid, tune_baselines
from l2l.learned_optimizer import evaluate_many
from l2l.tasks.problems import MLPProblem


@dataclass(frozen=True)
class Condition:
    """An optimizee setting: hidden layer sizes, activation and number of optimizer steps."""

    hidden: tuple[int, ...] = (20,)
    activation: str = "sigmoid"
    steps: int = 100


#: Figure 4 (right) is "base"; Figure 5's panels are the other four.
CONDITIONS: dict[str, Condition] = {
    "base": Condition(),
    "200 steps": Condition(steps=200),
    "40 units": Condition(hidden=(40,)),
    "2 layers": Condition(hidden=(20, 20)),
    "ReLU": Condition(activation="relu"),
}


def condition_problem(split, condition: Condition, runs: int, seed: int) -> MLPProblem:
    """``runs`` independent MLPs of the given condition on ``split = (images, labels)``."""
    return MLPProblem(
        *split, hidden=condition.hidden, activation=condition.activation, runs=runs, generator=seed
    )


def window_mean(losses: torch.Tensor, step: int, last: int = 10) -> torch.Tensor:
    """Per run, the loss averaged over steps ``step − last + 1 .. step``: less minibatch noise."""
    step, last = _checks.positive_int("step", step), _checks.positive_int("last", last)
    if step >= losses.shape[0] or last > step + 1:
        raise ValueError(f"step={step} with last={last} is outside losses of {losses.shape[0]} steps")
    return losses[step - last + 1 : step + 1].mean(dim=0)


@dataclass
class ConditionResult:
    """Test-split loss curves ``(steps + 1, runs)`` per optimizer and the tuned baselines."""

    curves: dict[str, torch.Tensor]
    tuned: dict[str, Tuned]

    def score(self, name: str, step: int, last: int = 10) -> float:
        """Mean over runs of :func:`window_mean` at ``step``."""
        return window_mean(self.curves[name], step, last).mean().item()

    def best_baseline(self, step: int, last: int = 10) -> str:
        """The tuned baseline with the lowest test score at ``step``."""
        return min(self.tuned, key=lambda name: self.score(name, step, last))


def run_condition(
    net,
    splits,
    condition: Condition,
    runs: int = 4,
    val_runs: int = 4,
    seed: int = 0,
    lrs=None,
    last: int = 10,
) -> ConditionResult:
    """Tune the baselines on validation MLPs, then run every optimizer on the same test MLPs.

    Validation problems use ``splits["validation"]`` (held-out training images) and seed
    ``seed``; test problems use ``splits["test"]`` and seed ``seed + 1``. Baselines are scored
    by the mean loss over the ``last`` final steps, as the learned optimizer was selected.
    Every (baseline, learning rate) pair of the tuning runs in one batched rollout, and so do
    the learned optimizer and the tuned baselines on the test problems
    (:func:`~l2l.learned_optimizer.evaluate_many`).

    Args:
        net: the learned optimizer, e.g. an :class:`~l2l.LSTMOptimizer` (any update rule works).
        splits: :func:`l2l.mnist_splits`' dict; its ``"validation"`` and ``"test"`` entries are used.
        condition: the optimizee setting and the number of steps, e.g. ``CONDITIONS["base"]``.
        runs, val_runs: independent MLPs in the test and in the validation problem, positive integers.
        seed: the validation problem's seed; the test problem's is ``seed + 1``.
        lrs: the learning rates to tune over (``None``: ``lr_grid(1e-3, 10.0)``, 1e-3 to 10, two per
            decade).
        last: how many final steps the baselines' tuning score averages, ``>= 1``.

    Returns:
        A :class:`ConditionResult`: test curves ``(condition.steps + 1, runs)`` under ``"LSTM"`` and
        each baseline's name (SGD, RMSprop, Adam, NAG), and the :class:`~l2l.baselines.Tuned`
        baselines.

    Raises:
        ValueError, TypeError: ``runs``, ``val_runs`` or ``last`` out of range or of the wrong
            type, an invalid ``condition``, or an empty ``lrs``.
        FloatingPointError: every learning rate of some baseline diverged on the validation problem.

    References:
        Andrychowicz et al. (2016), Learning to learn by gradient descent by gradient descent,
        section 3.2 (Figures 4 and 5).

    Example:
        >>> splits = l2l.mnist_splits()
        >>> result = run_condition(l2l.load_pretrained("mnist_lstm"), splits, l2l.CONDITIONS["ReLU"], runs=10)
        >>> result.curves["LSTM"]           # (101, 10): the loss of each test run at each step
    """
    runs, val_runs = _checks.positive_int("runs", runs), _checks.positive_int("val_runs", val_runs)
    validation = [condition_problem(splits["validation"], condition, val_runs, seed)]
    tuned = tune_baselines(
        validation, condition.steps, lrs if lrs is not None else lr_grid(1e-3, 10.0), last=last
    )
    test = condition_problem(splits["test"], condition, runs, seed + 1)
    rules = {"LSTM": net, **{name: t.rule for name, t in tuned.items()}}
    curves = dict(zip(rules, evaluate_many(list(rules.values()), test, condition.steps)))
    return ConditionResult(curves, tuned)
