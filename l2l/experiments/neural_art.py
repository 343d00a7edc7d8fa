"""The Neural Art experiment of Andrychowicz et al. (2016, section 3.4): tuned baselines, the
meta-training driver of the shipped optimizer, and the comparisons the notebook reports.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from l2l import _checks
from l2l.baselines import BASELINES, Tuned, lr_grid, tune_learning_rate
from l2l.checkpoints import load_pretrained, pretrained_record, save_optimizer
from l2l.data.photos import content_images, style_image
from l2l.experiments.configs import NEURAL_ART
from l2l.learned_optimizer import LSTMOptimizer, OuterOptimizer, Truncation, meta_train, validation_score
from l2l.tasks.problems import Problem
from l2l.tasks.style_transfer import RandomFeatures, art_family, art_problem

#: Learning-rate grids (half-decade steps) for tuning the baselines on this objective, each wide
#: enough that the best rate found on validation images lies inside it.
BASELINE_LRS = {
    "SGD": lr_grid(100.0, 3160.0),
    "NAG": lr_grid(10.0, 1000.0),
    "RMSprop": lr_grid(0.00316, 0.316),
    "Adam": lr_grid(0.0316, 1.0),
}


def tune_art_baselines(problems: Sequence[Problem], steps: int = 128, grids: dict | None = None,
                       max_extensions: int = 4) -> dict[str, Tuned]:
    """Tune SGD, NAG, RMSprop and Adam on ``problems`` (validation images) from :data:`BASELINE_LRS`.

    Each keeps the learning rate with the lowest final objective (the paper's tuning). While the best
    rate lies at an edge of the grid, the grid grows by a half-decade step past that edge (at most
    ``max_extensions`` times), so that the chosen rate is a true optimum of the search, not the grid's end.
    """
    tuned = {}
    for name, lrs in (grids or BASELINE_LRS).items():
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")
        scores = dict(tune_learning_rate(BASELINES[name], problems, steps, lrs).scores)
        for _ in range(max_extensions):
            best = min(scores, key=scores.get)
            if len(scores) < 2 or min(scores) < best < max(scores):
                break
            exponent = round(2 * math.log10(best)) / 2 + (0.5 if best == max(scores) else -0.5)
            new = float(f"{10**exponent:.3g}")
            scores[new] = validation_score(BASELINES[name](new), problems, steps)
        best = min(scores, key=scores.get)
        tuned[name] = Tuned(name, best, BASELINES[name](best), dict(sorted(scores.items())))
    return tuned


def validation_problems(style: str = "hubble", size: int = 64, n: int = 4, seed: int = 1,
                        features: nn.Module | None = None, device: torch.device | str = "cpu"):
    """One problem of ``n`` validation crops (evenly spaced over the validation photograph)."""
    n = _checks.positive_int("n", n)
    features = features if features is not None else RandomFeatures().to(device)
    content = content_images("validation", size, device=device)
    pick = torch.linspace(0, content.shape[0] - 1, n).round().long()
    style_target = style_image(style, size, device=device)
    return [art_problem(content[pick.to(content.device)], style_target, features, seed)]


def train_neural_art(meta_epochs: int, *, config: dict | None = None, device: torch.device | str = "cpu",
                     checkpoint: str | Path | None = None, resume: str | Path | None = None,
                     init: str | Path | None = None, progress: bool = True):
    """Meta-train an :class:`~l2l.LSTMOptimizer` on the style-transfer objective.

    Training runs in rounds of ``round_epochs`` meta-epochs, each one call of :func:`l2l.meta_train`
    on random 64×64 training crops with the training style (a fresh meta-Adam per round); after
    every round the optimizer is scored on the validation crops (final objective after ``steps``
    steps) and the best round's weights are kept — and written to ``checkpoint``
    (:func:`l2l.checkpoints.save_optimizer`, with the config, scores and wall time as its record)
    as soon as they improve.
    ``config["meta_lr_schedule"]``, a list of ``[epoch, lr]`` pairs, lowers the meta-lr for the rounds
    that start at or after each ``epoch``. ``config["train_steps"]`` (``None``: ``steps``) sets the
    horizon of meta-training alone; validation always scores f after ``steps`` steps, the test's
    horizon.

    ``resume`` continues from a checkpoint written at the end of a round that was the best so far
    (so its weights are the run's weights at that point): the sampler replays the finished epochs'
    draws, so the result is that of one uninterrupted run with the same ``meta_epochs`` and config.
    ``init`` instead starts from the weights of another saved optimizer (a fine-tuning run, e.g.
    with a larger ``batch`` and a lower ``meta_lr``): they are scored first, as epoch 0, and stay
    the result unless a round beats them; their record is kept under ``info["init"]``.

    Returns:
        ``(net, info)``: the best network and a dict with the validation history and wall time.
    """
    cfg = {**NEURAL_ART, **(config or {})}
    meta_epochs = _checks.positive_int("meta_epochs", meta_epochs)
    rounds = -(-meta_epochs // _checks.positive_int("round_epochs", cfg["round_epochs"]))
    torch.manual_seed(cfg["seed"])
    gen = _checks.generator(cfg["seed"])
    features = RandomFeatures().to(device)
    sample = art_family(content_images("train", cfg["size"], device=device),
                        style_image(cfg["style"], cfg["size"], device=device), features, cfg["batch"])
    validation = validation_problems(cfg["style"], cfg["size"], cfg["n_validation"], features=features,
                                     device=device)
    net = LSTMOptimizer(output_scale=cfg["output_scale"]).to(device)
    info = {"command": _command(meta_epochs, cfg, init),
            "device": str(device), "torch": torch.__version__, "config": cfg,
            "epochs": [], "val_scores": [], "best_epoch": 0, "best_score": float("inf"), "wall_seconds": 0.0}
    best, start, first_round = None, time.perf_counter(), 0
    if resume is not None and init is not None:
        raise ValueError("give resume (continue a run) or init (start a new run from saved weights), "
                         "not both")
    if resume is not None:
        net, saved = load_pretrained(resume, device), pretrained_record(resume)
        if saved["best_epoch"] != saved["epochs"][-1] or saved["epochs"][-1] % cfg["round_epochs"]:
            raise ValueError(f"{resume} was not saved at the end of a best round; it cannot be resumed")
        info.update({k: saved[k] for k in ("epochs", "val_scores", "best_epoch", "best_score")})
        best, first_round = copy.deepcopy(net), saved["epochs"][-1] // cfg["round_epochs"]
        start -= saved["wall_seconds"]
        for _ in range(saved["epochs"][-1]):
            sample(gen)  # replay the finished epochs' draws
    elif init is not None:
        net, info["init"] = load_pretrained(init, device), pretrained_record(init)
        best, info["best_epoch"] = copy.deepcopy(net), 0
        info["best_score"] = validation_score(net, validation, cfg["steps"])
        info["epochs"], info["val_scores"] = [0], [info["best_score"]]
    for r in range(first_round, rounds):
        epochs = min(cfg["round_epochs"], meta_epochs - r * cfg["round_epochs"])
        meta_lr = cfg["meta_lr"]
        for from_epoch, lr in cfg.get("meta_lr_schedule") or ():
            meta_lr = lr if r * cfg["round_epochs"] >= from_epoch else meta_lr
        truncation = Truncation(cfg["train_steps"] or cfg["steps"], cfg["unroll"],
                                cfg.get("step_weights", "uniform"))
        meta_train(net, sample, epochs, truncation=truncation, generator=gen, progress=progress,
                   outer=OuterOptimizer(lr=meta_lr, clip_grad_norm=cfg["clip_grad_norm"]))
        score = validation_score(net, validation, cfg["steps"])
        info["epochs"].append(r * cfg["round_epochs"] + epochs)
        info["val_scores"].append(score)
        info["wall_seconds"] = time.perf_counter() - start
        if score < info["best_score"]:
            info["best_score"], info["best_epoch"] = score, info["epochs"][-1]
            best = copy.deepcopy(net)
        if checkpoint is not None and best is not None:
            save_optimizer(best, checkpoint, info)
        if progress:
            print(f"epoch {info['epochs'][-1]}: validation {score:.5g} (best {info['best_score']:.5g} "
                  f"at epoch {info['best_epoch']}), {info['wall_seconds']:.0f} s", flush=True)
    if best is not None:
        net.load_state_dict(best.state_dict())
    return net, info


def _command(meta_epochs: int, cfg: dict, init: str | Path | None) -> str:
    """The ``python -m l2l.experiments.train neural_art`` command line that repeats a run."""
    words = ["python -m l2l.experiments.train neural_art", f"--epochs {meta_epochs}", f"--seed {cfg['seed']}"]
    if cfg.get("meta_lr_schedule"):
        words.append("--meta-lr-schedule " + ",".join(f"{e}:{lr:g}" for e, lr in cfg["meta_lr_schedule"]))
    cfg = {**cfg, "train_steps": cfg["train_steps"] or cfg["steps"]}
    flags = {"batch": "--batch", "meta_lr": "--meta-lr", "unroll": "--unroll", "train_steps": "--train-steps",
             "round_epochs": "--round-epochs", "n_validation": "--val-crops"}
    for option, flag in flags.items():
        if cfg[option] != NEURAL_ART[option]:
            words.append(f"{flag} {cfg[option]:g}")
    if cfg.get("step_weights", "uniform") != "uniform":
        words.append(f"--step-weights {cfg['step_weights']}")
    if init is not None:
        words.append(f"--init {init}")
    handled = {"seed", "meta_lr_schedule", "step_weights", *flags}
    others = {k: v for k, v in cfg.items() if k not in handled and v != NEURAL_ART.get(k)}
    if others:  # settings the command line cannot give: the record must still say them
        words.append(f"# with config {others} (not a command-line option)")
    return " ".join(words)


def final_ratio(curves: dict[str, torch.Tensor], learned: str) -> dict:
    """Compare the learned optimizer's final objective with the best baseline's.

    ``curves`` maps optimizer labels to losses ``(steps + 1, n_images)`` (from :func:`l2l.evaluate`)
    on the same images; every label but ``learned`` counts as a baseline. Returns the best baseline
    (lowest mean final objective), ``ratio`` = mean final f of ``learned`` / that of the best
    baseline, ``ratio_ci95``, its bootstrap 95 % interval over the images
    (:func:`ratio_interval`), and ``image_ratios``, the same ratio image by image.
    """
    if learned not in curves or len(curves) < 2:
        raise ValueError(f"curves must hold {learned!r} and at least one baseline, got {list(curves)}")
    final = {label: c[-1].double().nan_to_num(nan=float("inf")) for label, c in curves.items()}
    best = min((label for label in final if label != learned), key=lambda label: final[label].mean())
    return {
        "best_baseline": best,
        "ratio": (final[learned].mean() / final[best].mean()).item(),
        "ratio_ci95": ratio_interval(final[learned], final[best]),
        "image_ratios": final[learned] / final[best],
    }


def ratio_interval(numerator: torch.Tensor, denominator: torch.Tensor, resamples: int = 10_000,
                   generator: torch.Generator | int = 0) -> tuple[float, float]:
    """95 % interval of mean(numerator) / mean(denominator) over paired images, by the bootstrap.

    The images (entries of the two 1-D tensors, paired by position) are resampled with
    replacement ``resamples`` times and the interval is the 2.5th to 97.5th percentile of the
    ratio of means: an interval for the ratio on images drawn like these. With few images it is
    rough (4 images have 35 distinct resamples), and it says nothing about other photographs.
    """
    _checks.tensor_shape("numerator", numerator, (None,))
    _checks.tensor_shape("denominator", denominator, (numerator.shape[0],))
    gen = _checks.generator(generator)
    n = numerator.shape[0]
    index = torch.randint(n, (_checks.positive_int("resamples", resamples), n), generator=gen)
    index = index.to(numerator.device)
    ratios = numerator.double()[index].mean(1) / denominator.double()[index].mean(1)
    levels = torch.tensor([0.025, 0.975], dtype=torch.float64, device=ratios.device)
    low, high = torch.quantile(ratios, levels)
    return low.item(), high.item()


def steps_ahead(curves: dict[str, torch.Tensor], learned: str) -> list[int]:
    """The steps t at which ``learned``'s mean f(θ_t) is below the mean of every other curve.

    ``curves`` maps labels to losses ``(steps + 1, n_images)`` on the same images, as in
    :func:`final_ratio`.
    """
    if learned not in curves or len(curves) < 2:
        raise ValueError(f"curves must hold {learned!r} and at least one baseline, got {list(curves)}")
    means = {label: c.double().nan_to_num(nan=float("inf")).mean(1) for label, c in curves.items()}
    best_other = torch.stack([m for label, m in means.items() if label != learned]).min(0).values
    return (means[learned] < best_other).nonzero().flatten().tolist()


def steps_to_reach(curve: torch.Tensor, value: float) -> int | None:
    """The first step t at which the mean over images of ``curve`` (``(steps + 1, n_images)``) is at
    most ``value``; ``None`` if it never gets there."""
    reached = (curve.double().mean(1) <= value).nonzero()
    return reached[0].item() if len(reached) else None
