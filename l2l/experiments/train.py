"""Long meta-training runs whose weights ship in ``l2l/experiments/pretrained``.

Run one with ``python -m l2l.experiments.train NAME``.

Each experiment is registered in :data:`EXPERIMENTS` with its command-line options and a
function that trains, writes ``<out>/<name>.pt`` (the network, see :mod:`l2l.checkpoints`) and
``<out>/<name>.json`` (config, seed, epochs, wall time, validation scores) and returns that
record. To add one, write ``add_arguments(parser)`` and ``run(args) -> dict`` and call
:func:`register`.

    python -m l2l.experiments.train mnist            # Andrychowicz et al. (2016) section 3.2, seeded
    python -m l2l.experiments.train mnist --help     # every option with its default
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from l2l import _checks
from l2l._files import atomic_write
from l2l.baselines import Adam, lr_grid, tune_learning_rate
from l2l.checkpoints import PRETRAINED, load_pretrained, pretrained_record, save_optimizer
from l2l.data.mnist import mnist_splits
from l2l.experiments.configs import MNIST, NEURAL_ART, NEURAL_ART_EPOCHS, QUADRATICS
from l2l.experiments.mnist import CONDITIONS, condition_problem
from l2l.learned_optimizer import (
    STEP_WEIGHTS,
    LSTMOptimizer,
    MetaTrainLog,
    OuterOptimizer,
    Validation,
    meta_train,
    validation_score,
)
from l2l.runtime import default_device
from l2l.tasks.problems import mlp_family, quadratic_family, sample_quadratics


@dataclass
class Experiment:
    """A registered meta-training run: its options and the function that runs it."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], dict]


#: the registered experiments by name, in the order ``python -m l2l.experiments.train --help`` lists them
EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to :data:`EXPERIMENTS` under its name (names are unique)."""
    if experiment.name in EXPERIMENTS:
        raise ValueError(f"experiment {experiment.name!r} is already registered")
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def cosine_schedule(epochs: int, floor: float = 0.1) -> Callable[[int], float]:
    """Learning-rate factor decaying from 1 at epoch 1 to ``floor`` at ``epochs`` (half cosine)."""
    epochs = _checks.positive_int("epochs", epochs)

    def factor(epoch: int) -> float:
        progress = (epoch - 1) / max(epochs - 1, 1)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


# --- MNIST (Andrychowicz et al. 2016, section 3.2) ---------------------------------------


def _mnist_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=500, help="meta-epochs (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="seed of φ, problems and minibatches")
    parser.add_argument("--meta-lr", type=float, default=MNIST.outer.lr, help="Adam's meta learning rate")
    parser.add_argument("--clip", type=float, default=MNIST.outer.clip_grad_norm,
                        help="meta-gradient norm clip")
    parser.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                        help="meta learning-rate schedule (cosine: decays to 0.1 × meta-lr)")  # fmt: skip
    parser.add_argument("--eval-every", type=int, default=MNIST.eval_every, help="validate every N epochs")
    parser.add_argument("--val-runs", type=int, default=MNIST.validation_runs,
                        help="MLP runs on validation images")
    parser.add_argument("--init", type=Path, default=None,
                        help="fine-tune: start from this saved optimizer (path without suffix)")
    parser.add_argument("--out", type=Path, default=PRETRAINED, help="output folder")
    parser.add_argument("--name", default="mnist_lstm", help="file stem of the outputs")


def train_mnist(args: argparse.Namespace) -> dict:
    """Meta-train the paper's optimizer on the 784-20-10 sigmoid MLP and keep the best by validation.

    The settings are :data:`~l2l.experiments.configs.MNIST`: two-layer LSTM with 20 units,
    preprocessing p = 10, output × 0.1; 100 steps, unroll 20, minibatches of 128; Adam on φ,
    overridable from the command line. Validation: mean loss over the last 10 of 100 steps on
    ``--val-runs`` runs on the held-out training images, also reported as a ratio to Adam
    with its learning rate tuned on the same problems. ``--init`` starts from saved weights
    (a fine-tuning run, e.g. with a lower meta-lr): they are scored first, as epoch 0, and stay
    the result unless a validation beats them (``meta_train(previous=...)``).
    """
    device = default_device()
    torch.manual_seed(args.seed)
    splits = mnist_splits(device=device)
    validation = [
        condition_problem(splits["validation"], CONDITIONS["base"], args.val_runs, MNIST.validation_seed)
    ]
    steps, last = MNIST.truncation.steps, MNIST.score_last
    adam = tune_learning_rate(Adam, validation, steps, lr_grid(1e-3, 1.0), last=last)
    net = LSTMOptimizer(**MNIST.network).to(device)
    previous = None  # a fine-tuning run keeps the starting weights unless a validation beats them
    if args.init is not None:
        net = load_pretrained(args.init, device)
        score = validation_score(net, validation, steps, last=last)
        previous = MetaTrainLog(val_epochs=[0], val_scores=[score], best_epoch=0, best_score=score)
    record = {
        "experiment": "mnist",
        "command": "python -m l2l.experiments.train " + shlex.join(args.argv),
        "seed": args.seed,
        "epochs": args.epochs,
        "meta_lr": args.meta_lr,
        "clip_grad_norm": args.clip,
        "schedule": args.schedule,
        "steps": steps,
        "unroll": MNIST.truncation.unroll,
        "minibatch": 128,
        "validation": f"{args.val_runs} runs (seed {MNIST.validation_seed}) on the last 10,000 training "
        f"images, loss over steps {steps - last + 1}-{steps}",
        "adam_lr_on_validation": adam.lr,
        "adam_score_on_validation": adam.scores[adam.lr],
        "device": f"{device.type} ({platform.processor() or platform.machine()}, torch {torch.__version__})",
    }
    if args.init is not None:
        record["init"] = {"from": str(args.init), "record": pretrained_record(args.init),
                          "score": previous.best_score}  # fmt: skip

    def checkpoint(current: LSTMOptimizer, log: MetaTrainLog) -> None:
        record.update(
            epochs_done=log.val_epochs[-1],
            wall_time_s=round(log.seconds, 1),
            val_epochs=log.val_epochs,
            val_scores=log.val_scores,
            val_ratio_to_adam=[s / adam.scores[adam.lr] for s in log.val_scores],
            best_epoch=log.best_epoch,
            best_score=log.best_score,
        )
        if log.best_epoch == log.val_epochs[-1]:
            save_optimizer(current, Path(args.out) / args.name, record)
        else:  # keep the best weights on disk, refresh the record of the run so far
            atomic_write(Path(args.out) / f"{args.name}.json", (json.dumps(record, indent=1) + "\n").encode())

    schedule = cosine_schedule(args.epochs) if args.schedule == "cosine" else None
    log = meta_train(
        net, mlp_family(*splits["train"]), args.epochs, truncation=MNIST.truncation,
        outer=OuterOptimizer(lr=args.meta_lr, clip_grad_norm=args.clip, schedule=schedule),
        validation=Validation(validation, every=args.eval_every, score_last=MNIST.score_last,
                              callback=checkpoint),
        generator=args.seed, previous=previous,
    )
    record["wall_time_s"] = round(log.seconds, 1)
    save_optimizer(net, Path(args.out) / args.name, record)
    return record


register(Experiment("mnist", "LSTM optimizer on MNIST MLPs (Figure 4 right)", _mnist_arguments, train_mnist))


# --- Quadratics (Andrychowicz et al. 2016, section 3.1) -----------------------------------


def _quadratics_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"meta-epochs, in two rounds (default {QUADRATICS.epochs}, the notebook's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of φ, problems and validation")
    parser.add_argument("--preprocess", action="store_true", help="the preprocessed variant (appendix A)")
    parser.add_argument("--out", type=Path, default=PRETRAINED, help="output folder")
    parser.add_argument("--name", default=None,
                        help="file stem of the outputs (default quadratics_lstm, or "
                             "quadratics_lstm_preprocessed with --preprocess: the shipped one)")


def train_quadratics(args: argparse.Namespace) -> dict:
    """Meta-train on 10-dimensional quadratics exactly as the quadratics notebook does
    (:data:`~l2l.experiments.configs.QUADRATICS`, two rounds), optionally with preprocessing; the
    preprocessed one ships, for the notebook's test off the training distribution."""
    device, q = default_device(), QUADRATICS
    epochs = q.epochs if args.epochs is None else _checks.positive_int("--epochs", args.epochs)
    if epochs < 2:
        raise ValueError(f"--epochs must be at least 2 (two rounds of meta-training), got {epochs}")
    name = args.name or ("quadratics_lstm_preprocessed" if args.preprocess else "quadratics_lstm")
    torch.manual_seed(args.seed)
    net = LSTMOptimizer(**{**q.network, "preprocess": args.preprocess}).to(device)
    family = quadratic_family(batch=q.batch, dim=q.dim, device=device)
    validation = [sample_quadratics(batch=q.batch, dim=q.dim, generator=args.seed + 1, device=device)]
    settings = dict(truncation=q.truncation, outer=q.outer,
                    validation=Validation(validation, every=q.eval_every))
    first = meta_train(net, family, epochs // 2, generator=args.seed, **settings)
    log = meta_train(net, family, epochs - epochs // 2, generator=args.seed + 3, previous=first, **settings)
    record = {
        "experiment": "quadratics",
        "command": f"python -m l2l.experiments.train quadratics --seed {args.seed}"
        + (f" --epochs {epochs}" if epochs != q.epochs else "")
        + (" --preprocess" if args.preprocess else ""),
        "seed": args.seed, "preprocess": args.preprocess, "epochs": epochs,
        "best_epoch": log.best_epoch, "best_score": log.best_score, "val_epochs": log.val_epochs,
        "val_scores": log.val_scores, "wall_time_s": round(log.seconds, 1),
        "device": f"{device.type} ({platform.processor() or platform.machine()}, torch {torch.__version__})",
    }
    save_optimizer(net, Path(args.out) / name, record)
    return record


register(Experiment("quadratics", "LSTM optimizer on quadratics (Figure 4 left)", _quadratics_arguments,
                    train_quadratics))


# --- Neural Art (Andrychowicz et al. 2016, section 3.4); the code lives in l2l.experiments.neural_art-----


def _neural_art_arguments(parser: argparse.ArgumentParser) -> None:
    shipped = NEURAL_ART
    parser.add_argument("--epochs", type=int, default=NEURAL_ART_EPOCHS,
                        help=f"meta-epochs (default {NEURAL_ART_EPOCHS}, as shipped)")
    parser.add_argument("--seed", type=int, default=shipped["seed"], help="seed of φ, crops and noise")
    parser.add_argument("--meta-lr-schedule", type=_lr_steps, default=(),
                        help="lower the meta-lr from given epochs, e.g. 150:1e-3,250:3e-4 (default: none)")
    parser.add_argument("--batch", type=int, default=shipped["batch"], help="content crops per meta-epoch")
    parser.add_argument("--meta-lr", type=float, default=shipped["meta_lr"], help="Adam's meta learning rate")
    parser.add_argument("--unroll", type=int, default=shipped["unroll"],
                        help="steps per truncated-BPTT piece (= --train-steps: through the whole run)")
    parser.add_argument("--train-steps", type=int, default=shipped["train_steps"],
                        help=f"optimizee steps per meta-epoch; validation scores step {shipped['steps']}")
    parser.add_argument("--round-epochs", type=int, default=shipped["round_epochs"],
                        help="meta-epochs between validations (each round restarts the meta-Adam)")
    parser.add_argument("--val-crops", type=int, default=shipped["n_validation"],
                        help="validation crops that score each round")
    parser.add_argument("--init", type=Path, default=None,
                        help="fine-tune: start from this saved optimizer (.pt with its .json)")
    parser.add_argument("--step-weights", choices=sorted(STEP_WEIGHTS), default="uniform",
                        help="weights w_t of the meta-loss (default: uniform, the paper's)")
    parser.add_argument("--out", type=Path, default=PRETRAINED / "neural_art_lstm.pt",
                        help="state dict to write (.json beside it) after each improving round")  # fmt: skip


def _lr_steps(text: str) -> list[list[float]]:
    """``"150:1e-3,250:3e-4"`` → ``[[150, 0.001], [250, 0.0003]]`` (epoch, meta-lr from that epoch)."""
    try:
        steps = [[int(e), float(lr)] for e, lr in (item.split(":") for item in text.split(",") if item)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected EPOCH:LR[,EPOCH:LR...], got {text!r}") from None
    return steps


def train_neural_art(args: argparse.Namespace) -> dict:
    """:func:`l2l.experiments.neural_art.train_neural_art` with its shipped settings
    (:data:`~l2l.experiments.configs.NEURAL_ART`)."""
    from l2l.experiments import neural_art

    config = {"seed": args.seed, "meta_lr_schedule": args.meta_lr_schedule, "batch": args.batch,
              "meta_lr": args.meta_lr, "unroll": args.unroll, "train_steps": args.train_steps,
              "round_epochs": args.round_epochs, "n_validation": args.val_crops,
              "step_weights": args.step_weights}  # fmt: skip
    _, info = neural_art.train_neural_art(args.epochs, config=config, device=default_device(),
                                          checkpoint=args.out, init=args.init)  # fmt: skip
    return info


register(Experiment("neural_art", "LSTM optimizer on style transfer (section 3.4)", _neural_art_arguments,
                    train_neural_art))  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m l2l.experiments.train",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="experiment", required=True)
    for experiment in EXPERIMENTS.values():
        experiment.add_arguments(sub.add_parser(experiment.name, help=experiment.help))
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what the record says repeats the run
    record = EXPERIMENTS[args.experiment].run(args)
    print(json.dumps({k: v for k, v in record.items() if not isinstance(v, list)}, indent=1))
    return record


if __name__ == "__main__":
    main()
