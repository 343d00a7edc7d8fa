"""The settings of the book's long meta-training runs, in one place: the command line
(:mod:`l2l.experiments.train`), the drivers and the notebooks read them here."""

from __future__ import annotations

from dataclasses import dataclass, field

from l2l.learned_optimizer.meta_train import OuterOptimizer, Truncation


@dataclass(frozen=True)
class MNISTTraining:
    """How the MNIST optimizer is meta-trained (Andrychowicz et al. 2016, section 3.2).

    Attributes:
        network: the :class:`~l2l.LSTMOptimizer` settings: two layers of 20 units, preprocessing
            with p = 10, the update scaled by 0.1 (the paper's).
        truncation: 100 steps of the 784-20-10 MLP per meta-epoch, unrolls of 20 (the paper's).
        outer: Adam with step 3e-3, meta-gradient norm clipped at 1 (the shipped run's).
        score_last: validation scores the mean loss over the last 10 steps (minibatch losses
            are noisy).
        eval_every: meta-epochs between validations of a long run.
        validation_runs, validation_seed: the validation networks (the same for every run, so
            that scores compare across runs).
    """

    network: dict = field(default_factory=lambda: {"hidden_size": 20, "num_layers": 2, "preprocess": True,
                                                   "p": 10.0, "output_scale": 0.1})
    truncation: Truncation = Truncation(steps=100, unroll=20)
    outer: OuterOptimizer = OuterOptimizer(lr=3e-3, clip_grad_norm=1.0)
    score_last: int = 10
    eval_every: int = 20
    validation_runs: int = 8
    validation_seed: int = 10_000


#: the settings of the shipped MNIST optimizer and of the MNIST notebook's live runs
MNIST = MNISTTraining()


@dataclass(frozen=True)
class QuadraticsTraining:
    """How the quadratics optimizer is meta-trained (Andrychowicz et al. 2016, section 3.1).

    Attributes:
        network: two LSTM layers of 20 units on the raw gradient (the paper's; the preprocessed
            variant that ships for comparison sets ``preprocess=True``).
        truncation: 100 steps per run, unrolls of 20 (the paper's).
        outer: Adam with step 3e-2 (the paper does not give it).
        epochs: meta-epochs, each a fresh batch of ``batch`` quadratics of dimension ``dim``, in two
            rounds of half each (the notebook runs one per cell); the second continues from the
            first's best weights with the seed + 3.
        eval_every: meta-epochs between validations on ``batch`` fixed quadratics (seed + 1).
    """

    network: dict = field(default_factory=lambda: {"hidden_size": 20, "num_layers": 2, "preprocess": False})
    truncation: Truncation = Truncation(steps=100, unroll=20)
    outer: OuterOptimizer = OuterOptimizer(lr=3e-2)
    epochs: int = 300
    eval_every: int = 5
    batch: int = 128
    dim: int = 10


#: the settings of the quadratics notebook's meta-training and of the shipped preprocessed optimizer
QUADRATICS = QuadraticsTraining()

#: The settings of the shipped Neural Art optimizer (``python -m l2l.experiments.train neural_art``):
#: meta-training runs ``train_steps`` = 256 steps, twice the test horizon ``steps`` = 128 at which
#: validation scores it (chosen over the paper's 128 on validation; see the notebook), cut into
#: unrolls of 32 (the paper's), one image per meta-batch, meta-lr 3e-3 with a fresh meta-Adam and a
#: validation every ``round_epochs`` = 5, meta-gradient norm clipped at 1, and the update scaled to
#: pixels in [0, 1] by 0.1 (an unscaled update blows the image up). ``train_steps=None``
#: meta-trains on ``steps``.
NEURAL_ART = {
    "size": 64, "style": "hubble", "steps": 128, "train_steps": 256, "unroll": 32, "meta_lr": 3e-3,
    "clip_grad_norm": 1.0, "output_scale": 0.1, "batch": 1, "n_validation": 4, "round_epochs": 5, "seed": 0,
}

#: meta-epochs of the shipped Neural Art optimizer's run (its best round by validation)
NEURAL_ART_EPOCHS = 85
