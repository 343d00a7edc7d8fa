"""Neural Art: the style-transfer objective of Andrychowicz et al. (2016, section 3.4) as a Problem.

The optimizee is an image θ, and the objective (Gatys, Ecker and Bethge 2016) is

    f(θ) = α L_content(c, θ) + β L_style(s, θ) + γ L_reg(θ)

with features F_l(x) ∈ R^{C_l × H_l W_l} of a fixed convolutional network:

- content loss on one layer k:  L_content = mean over entries of (F_k(θ) − F_k(c))²;
- style loss on Gram matrices G_l(x) = F_l(x) F_l(x)ᵀ / (H_l W_l), summed over layers:
  L_style = Σ_l mean over entries of (G_l(θ) − G_l(s))²;
- L_reg: the squared total variation, the mean of squared differences of neighbouring pixels.

By default the features come from a fixed random multi-scale network (:class:`RandomFeatures`):
random filters suffice for texture and style statistics (Ustyuzhaninov et al. 2017), and it runs
offline on a CPU. :class:`VGGFeatures` uses ImageNet-trained VGG-19 as Gatys et al. did, when
torchvision and its weights are available (e.g. on Colab).

Images come from scikit-image's bundled sample photographs (``PHOTOS`` gives each one's
source and licence): content crops are split into training, validation and test sets by source
photograph, and the two styles are photographs that are not among the content images.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from l2l import _checks
from l2l.baselines import BASELINES, Tuned, lr_grid, tune_learning_rate
from l2l.learned_optimizer import LSTMOptimizer, meta_train, validation_score
from l2l.problems import Problem


@dataclass(frozen=True)
class Photo:
    """A scikit-image sample photograph: its loader's name, what it shows, source and licence."""

    loader: str
    title: str
    source: str
    licence: str


PHOTOS = {
    "astronaut": Photo("astronaut", "Eileen Collins, NASA astronaut", "NASA Great Images database",
                       "public domain"),
    "rocket": Photo("rocket", "DSCOVR launch on Falcon 9", "SpaceX Photos (Flickr)", "public domain"),
    "camera": Photo("camera", "a photographer with a camera (grey-level)", "Lav Varshney", "CC0"),
    "coffee": Photo("coffee", "a coffee cup", "Rachel Michetti, courtesy of Pikolo Espresso Bar", "CC0"),
    "chelsea": Photo("chelsea", "Chelsea the cat", "Stefan van der Walt", "CC0"),
    "hubble": Photo("hubble_deep_field", "Hubble eXtreme Deep Field", "NASA / HubbleSite",
                    "public domain"),
    "ihc": Photo("immunohistochemistry", "immunohistochemical staining of colonic glands",
                 "Center for Microscopy and Molecular Imaging (CMMI)", "no known copyright restrictions"),
}

#: The content photographs of each split (crops of one photograph never appear in two splits).
CONTENT_SPLITS = {"train": ("astronaut", "rocket", "camera"), "validation": ("coffee",), "test": ("chelsea",)}

#: The training style and the second (held-out) style; neither is a content photograph.
STYLES = ("hubble", "ihc")


def load_photo(name: str, downscale: int = 2, device: torch.device | str = "cpu") -> torch.Tensor:
    """A sample photograph as a float tensor ``(3, H, W)`` with pixels in [0, 1].

    Grey-level photographs are repeated over the three colour channels; ``downscale`` averages
    ``downscale × downscale`` blocks, so a crop covers more of the scene.
    """
    if name not in PHOTOS:
        raise ValueError(f"unknown photograph {name!r}; choose from {sorted(PHOTOS)}")
    downscale = _checks.positive_int("downscale", downscale)
    from skimage import data  # an optional dependency (extra "art"), imported only when needed

    array = getattr(data, PHOTOS[name].loader)()
    if isinstance(array, tuple):
        array = array[0]
    image = torch.as_tensor(array, dtype=torch.float32) / 255.0
    image = image.unsqueeze(-1).expand(*image.shape, 3) if image.dim() == 2 else image[..., :3]
    image = image.permute(2, 0, 1).unsqueeze(0)
    return F.avg_pool2d(image, downscale).squeeze(0).contiguous().to(device)


def crops(image: torch.Tensor, size: int, stride: int | None = None) -> torch.Tensor:
    """Every ``size × size`` crop of a ``(3, H, W)`` image on a grid of ``stride``: ``(n, 3, size, size)``."""
    _checks.tensor_shape("image", image, (3, None, None))
    size = _checks.positive_int("size", size)
    stride = _checks.positive_int("stride", stride if stride is not None else size)
    if size > min(image.shape[1:]):
        raise ValueError(f"size={size} exceeds the image's {tuple(image.shape[1:])}")
    patches = image.unfold(1, size, stride).unfold(2, size, stride)  # (3, nh, nw, size, size)
    return patches.permute(1, 2, 0, 3, 4).reshape(-1, 3, size, size).contiguous()


def content_images(split: str, size: int = 64, stride: int = 32, downscale: int = 2,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """All crops of the split's photographs (see :data:`CONTENT_SPLITS`), ``(n, 3, size, size)``."""
    if split not in CONTENT_SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {sorted(CONTENT_SPLITS)}")
    parts = [crops(load_photo(name, downscale, device), size, stride) for name in CONTENT_SPLITS[split]]
    return torch.cat(parts)


def style_image(name: str, size: int = 64, downscale: int = 4, device: torch.device | str = "cpu"):
    """The centre ``size × size`` crop of a style photograph, ``(3, size, size)``."""
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; choose from {list(STYLES)}")
    image = load_photo(name, downscale, device)
    top, left = (image.shape[1] - size) // 2, (image.shape[2] - size) // 2
    if min(top, left) < 0:
        raise ValueError(f"size={size} exceeds the style image's {tuple(image.shape[1:])}")
    return image[:, top:top + size, left:left + size].contiguous()


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G = F Fᵀ / (H W) for feature maps ``(batch, C, H, W)``: shape ``(batch, C, C)``.

    Dividing by the number of positions makes G an average over the image, so the style
    statistics of a 64×64 and a 128×128 image are on the same scale.
    """
    _checks.tensor_shape("features", features, (None, None, None, None))
    flat = features.flatten(2)
    return flat @ flat.transpose(1, 2) / flat.shape[2]


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Squared total variation per image of ``(batch, C, H, W)``: shape ``(batch,)``.

    TV(x) = ½ [mean over (c, i, j) of (x_{c,i+1,j} − x_{c,i,j})² + mean of (x_{c,i,j+1} − x_{c,i,j})²].
    """
    _checks.tensor_shape("images", images, (None, None, None, None))
    down = (images[:, :, 1:, :] - images[:, :, :-1, :]).square().flatten(1).mean(1)
    right = (images[:, :, :, 1:] - images[:, :, :, :-1]).square().flatten(1).mean(1)
    return (down + right) / 2


class RandomFeatures(nn.Module):
    """A fixed random multi-scale convolutional network (Ustyuzhaninov et al. 2017).

    ``len(channels)`` blocks of 3×3 convolution + ReLU, each but the first after a 2×2 average
    pooling, so the layers see the image at scales 1, 2, 4, ... Filters are drawn from
    N(0, 2 / fan_in) with ``seed`` and never trained: no parameter requires a gradient.
    The input is centred (pixels − 0.5). ``forward`` returns every block's feature map.
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 32), seed: int = 0):
        super().__init__()
        if not channels:
            raise ValueError("channels must name at least one layer, e.g. (32, 64, 64)")
        widths = [3] + [_checks.positive_int("channels", c) for c in channels]
        gen = _checks.generator(seed)
        self.convs = nn.ModuleList()
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            conv = nn.Conv2d(c_in, c_out, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2 / (9 * c_in)) ** 0.5)
                conv.bias.zero_()
            self.convs.append(conv)
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x, maps = images - 0.5, []
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(F.avg_pool2d(x, 2) if i else x))
            maps.append(x)
        return maps


class VGGFeatures(nn.Module):
    """ImageNet-trained VGG-19 features (Gatys et al. 2016): relu1_1, relu2_1, relu3_1, relu4_1.

    Needs torchvision and its pretrained weights (downloaded by torchvision on first use), so it
    suits Colab rather than an offline CPU. Its layers are frozen like :class:`RandomFeatures`.
    """

    _CUTS = (2, 7, 12, 21)  # indices after relu1_1, relu2_1, relu3_1, relu4_1 in vgg19().features

    def __init__(self):
        super().__init__()
        try:
            from torchvision.models import VGG19_Weights, vgg19
        except ImportError as err:
            raise ImportError("VGGFeatures needs torchvision; use RandomFeatures offline") from err
        self.body = vgg19(weights=VGG19_Weights.IMAGENET1K_V1).features[: self._CUTS[-1]]
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x, maps = (images - self.mean) / self.std, []
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i + 1 in self._CUTS:
                maps.append(x)
        return maps


@dataclass(frozen=True)
class ArtWeights:
    """α, β, γ of the objective and which feature map carries the content (index into the maps)."""

    content: float = 1.0
    style: float = 100.0
    tv: float = 0.5
    content_layer: int = 1


class StyleTransferProblem(Problem):
    """f(θ) = α L_content(c, θ) + β L_style(s, θ) + γ L_reg(θ) for a batch of images.

    θ holds one image per row, flattened: shape ``(batch, 3·H·W)``, pixels on the [0, 1] scale
    (unconstrained while optimizing). All images share one style.

    Args:
        content: content images ``(batch, 3, H, W)``.
        style: the style image ``(3, H_s, W_s)``.
        features: the fixed feature network (a module returning a list of feature maps).
        theta0: starting images ``(batch, 3·H·W)``.
        weights: α, β, γ and the content layer.
    """

    def __init__(self, content: torch.Tensor, style: torch.Tensor, features: nn.Module,
                 theta0: torch.Tensor, weights: ArtWeights = ArtWeights()):
        _checks.tensor_shape("content", content, (None, 3, None, None))
        _checks.tensor_shape("style", style, (3, None, None))
        _checks.tensor_shape("theta0", theta0, (content.shape[0], content[0].numel()))
        self.shape = tuple(content.shape[1:])
        self.content, self.style, self.features, self.weights = content, style, features, weights
        self.theta0, self._last_theta = theta0, None
        with torch.no_grad():
            maps = features(content)
            if not 0 <= weights.content_layer < len(maps):
                raise ValueError(f"content_layer={weights.content_layer} must index one of {len(maps)} maps")
            self.content_target = maps[weights.content_layer]
            self.style_targets = [gram_matrix(m) for m in features(style.unsqueeze(0))]

    @property
    def images_shape(self) -> tuple[int, ...]:
        """``(batch, 3, H, W)``: the shape of θ viewed as images."""
        return (self.theta0.shape[0], *self.shape)

    def initial_params(self) -> torch.Tensor:
        return self.theta0.clone()

    def terms(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three unweighted terms, each of shape ``(batch,)``; θ may also hold several
        copies of the batch, ``(R · batch, 3·H·W)``, each compared with the same content."""
        images = theta.reshape(-1, *self.shape)
        maps = self.features(images)
        copies = images.shape[0] // self.content_target.shape[0]
        target = self.content_target.repeat(copies, 1, 1, 1)
        content = (maps[self.weights.content_layer] - target).square().flatten(1).mean(1)
        style = sum(
            (gram_matrix(m) - g).square().flatten(1).mean(1) for m, g in zip(maps, self.style_targets)
        )
        return {"content": content, "style": style, "tv": total_variation(images)}

    def loss(self, theta: torch.Tensor, step: int = 0) -> torch.Tensor:
        self._last_theta = theta.detach()
        t, w = self.terms(theta), self.weights
        return w.content * t["content"] + w.style * t["style"] + w.tv * t["tv"]

    def stacked_loss_and_grad(self, theta: torch.Tensor, step: int = 0):
        """All ``R`` copies ``(R, batch, 3·H·W)`` through the feature network as one batch of
        ``R · batch`` images: one convolution per layer instead of one per copy."""
        copies, batch = theta.shape[:2]
        with torch.enable_grad():
            flat = theta.detach().reshape(copies * batch, -1).requires_grad_()
            value = self.loss(flat)
            (grad,) = torch.autograd.grad(value.sum(), flat)
        return value.detach().view(copies, batch), grad.view(copies, batch, -1)

    def stacked_loss(self, theta: torch.Tensor, step: int = 0) -> torch.Tensor:
        with torch.no_grad():
            return self.loss(theta.reshape(-1, theta.shape[-1])).view(theta.shape[:2])

    def as_images(self, theta: torch.Tensor) -> torch.Tensor:
        """θ ``(batch, 3·H·W)`` viewed as images ``(batch, 3, H, W)``, clipped to [0, 1] for display."""
        return theta.reshape(-1, *self.shape).clamp(0, 1)

    def last_images(self) -> torch.Tensor:
        """The images at which f was last evaluated (after :func:`l2l.evaluate`: θ_T), ``(batch, 3, H, W)``
        clipped to [0, 1] for display."""
        if self._last_theta is None:
            raise RuntimeError("the objective has not been evaluated yet; run l2l.evaluate first")
        return self._last_theta.reshape(-1, *self.shape).clamp(0, 1)


def noise_images(batch: int, size: int, generator: torch.Generator | int = 0,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Starting images θ_0: pixels uniform on [0, 1], shape ``(batch, 3·size·size)``."""
    batch, size = _checks.positive_int("batch", batch), _checks.positive_int("size", size)
    gen = _checks.generator(generator)
    return torch.rand(batch, 3 * size * size, generator=gen).to(device)


def art_problem(content: torch.Tensor, style: torch.Tensor, features: nn.Module,
                generator: torch.Generator | int = 0, weights: ArtWeights = ArtWeights()):
    """A :class:`StyleTransferProblem` on ``content`` started from uniform noise drawn with ``generator``."""
    theta0 = noise_images(content.shape[0], content.shape[-1], generator, content.device)
    return StyleTransferProblem(content, style, features, theta0, weights)


def art_family(content: torch.Tensor, style: torch.Tensor, features: nn.Module, batch: int = 1,
               weights: ArtWeights = ArtWeights()) -> Callable[[torch.Generator], StyleTransferProblem]:
    """A sampler ``generator -> problem`` for :func:`l2l.meta_train`: ``batch`` random crops of
    ``content`` (``(n, 3, H, W)``), each started from fresh noise."""
    batch = _checks.positive_int("batch", batch)

    def sample(generator: torch.Generator) -> StyleTransferProblem:
        index = torch.randint(content.shape[0], (batch,), generator=generator)
        return art_problem(content[index.to(content.device)], style, features, generator, weights)

    return sample


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


def pretrained_path(name: str = "neural_art_lstm") -> Path:
    """Where a shipped optimizer lives, ``l2l/pretrained/<name>.pt`` (+ ``.json``): ``neural_art_lstm``,
    the one to use, or ``neural_art_lstm_h128``, meta-trained on the paper's 128-step horizon and kept
    for comparison."""
    return Path(__file__).parent / "pretrained" / f"{name}.pt"


#: The settings of the shipped optimizer (``python -m l2l.train neural_art``): meta-training runs
#: ``train_steps`` = 256 steps, twice the test horizon ``steps`` = 128 at which validation scores it
#: (chosen over the paper's 128 on validation, 0.04558 against 0.04589; see the notebook),
#: cut into unrolls of 32 (the paper's), one image per meta-batch, meta-lr 3e-3 with a fresh
#: meta-Adam and a validation every ``round_epochs`` = 5, meta-gradient norm clipped at 1, and the
#: update scaled to pixels in [0, 1]: × 0.1 (an unscaled update blows the image up; × 0.01 learned
#: more slowly: validation 0.060 after 10 epochs against 0.052 with × 0.1). ``train_steps=None``
#: meta-trains on ``steps``.
TRAIN_CONFIG = {
    "size": 64, "style": "hubble", "steps": 128, "train_steps": 256, "unroll": 32, "meta_lr": 3e-3,
    "clip_grad_norm": 1.0, "output_scale": 0.1, "batch": 1, "n_validation": 4, "round_epochs": 5, "seed": 0,
}


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
    steps) and the best round's weights are kept — and written to ``checkpoint`` (``.pt`` state
    dict beside a ``.json`` with the config, scores and wall time) as soon as they improve.
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
    cfg = {**TRAIN_CONFIG, **(config or {})}
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
            "device": str(device), "torch": torch.__version__, "config": cfg, "net": net.config(),
            "epochs": [], "val_scores": [], "best_epoch": 0, "best_score": float("inf"), "wall_seconds": 0.0}
    best, start, first_round = None, time.perf_counter(), 0
    if resume is not None:
        net, saved = load_optimizer(resume, device)
        if saved["best_epoch"] != saved["epochs"][-1] or saved["epochs"][-1] % cfg["round_epochs"]:
            raise ValueError(f"{resume} was not saved at the end of a best round; it cannot be resumed")
        info.update({k: saved[k] for k in ("epochs", "val_scores", "best_epoch", "best_score")})
        best, first_round = net.state_dict(), saved["epochs"][-1] // cfg["round_epochs"]
        start -= saved["wall_seconds"]
        for _ in range(saved["epochs"][-1]):
            sample(gen)  # replay the finished epochs' draws
    elif init is not None:
        net, info["init"] = load_optimizer(init, device)
        best, info["best_epoch"] = net.state_dict(), 0
        info["best_score"] = validation_score(net, validation, cfg["steps"])
        info["epochs"], info["val_scores"] = [0], [info["best_score"]]
    for r in range(first_round, rounds):
        epochs = min(cfg["round_epochs"], meta_epochs - r * cfg["round_epochs"])
        meta_lr = cfg["meta_lr"]
        for from_epoch, lr in cfg.get("meta_lr_schedule") or ():
            meta_lr = lr if r * cfg["round_epochs"] >= from_epoch else meta_lr
        meta_train(net, sample, epochs, steps=cfg["train_steps"] or cfg["steps"], unroll=cfg["unroll"],
                   meta_lr=meta_lr,
                   clip_grad_norm=cfg["clip_grad_norm"], generator=gen, progress=progress,
                   step_weights=cfg.get("step_weights", "uniform"))
        score = validation_score(net, validation, cfg["steps"])
        info["epochs"].append(r * cfg["round_epochs"] + epochs)
        info["val_scores"].append(score)
        info["wall_seconds"] = time.perf_counter() - start
        if score < info["best_score"]:
            info["best_score"], info["best_epoch"] = score, info["epochs"][-1]
            best = {k: v.detach().clone() for k, v in net.state_dict().items()}
        if checkpoint is not None and best is not None:
            save_optimizer(best, info, checkpoint)
        if progress:
            print(f"epoch {info['epochs'][-1]}: validation {score:.5g} (best {info['best_score']:.5g} "
                  f"at epoch {info['best_epoch']}), {info['wall_seconds']:.0f} s", flush=True)
    if best is not None:
        net.load_state_dict(best)
    return net, info


def _command(meta_epochs: int, cfg: dict, init: str | Path | None) -> str:
    """The ``python -m l2l.train neural_art`` command line that repeats a run."""
    words = ["python -m l2l.train neural_art", f"--epochs {meta_epochs}", f"--seed {cfg['seed']}"]
    if cfg.get("meta_lr_schedule"):
        words.append("--meta-lr-schedule " + ",".join(f"{e}:{lr:g}" for e, lr in cfg["meta_lr_schedule"]))
    cfg = {**cfg, "train_steps": cfg["train_steps"] or cfg["steps"]}
    flags = {"batch": "--batch", "meta_lr": "--meta-lr", "unroll": "--unroll", "train_steps": "--train-steps",
             "round_epochs": "--round-epochs", "n_validation": "--val-crops"}
    for option, flag in flags.items():
        if cfg[option] != TRAIN_CONFIG[option]:
            words.append(f"{flag} {cfg[option]:g}")
    if cfg.get("step_weights", "uniform") != "uniform":
        words.append(f"--step-weights {cfg['step_weights']}")
    if init is not None:
        words.append(f"--init {init}")
    return " ".join(words)


def save_optimizer(state_dict: dict, info: dict, path: str | Path) -> None:
    """Write ``path`` (``.pt``: the state dict) and the same name with ``.json`` (``info``), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(info, indent=2) + "\n"
    for target, write in ((path, lambda f: torch.save(state_dict, f)),
                          (path.with_suffix(".json"), lambda f: f.write_text(text))):
        tmp = target.with_name(target.name + ".tmp")
        write(tmp)
        tmp.replace(target)


def load_optimizer(path: str | Path | None = None,
                   device: torch.device | str = "cpu") -> tuple[LSTMOptimizer, dict]:
    """Read what :func:`save_optimizer` wrote: the network (weights loaded safely) and its info."""
    path = Path(path) if path is not None else pretrained_path()
    if not path.is_file():
        raise FileNotFoundError(f"no optimizer weights at {path}; run `python -m l2l.train neural_art`")
    info = json.loads(path.with_suffix(".json").read_text())
    net = LSTMOptimizer(**info["net"]).to(device)
    net.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return net, info


def final_ratio(curves: dict[str, torch.Tensor], learned: str) -> dict:
    """Compare the learned optimizer's final objective with the best baseline's.

    ``curves`` maps optimizer labels to losses ``(steps + 1, n_images)`` (from :func:`l2l.evaluate`)
    on the same images; every label but ``learned`` counts as a baseline. Returns the best baseline
    (lowest mean final objective), ``ratio`` = mean final f of ``learned`` / that of the best
    baseline, and ``image_ratios``, the same ratio image by image.
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


def image_grid(rows: dict[str, torch.Tensor], *, size: float = 1.6):
    """A figure of images, one row per entry: ``rows`` maps a row title to ``(images, captions)``,
    ``images`` of shape ``(n, 3, H, W)`` (or a list of ``(3, H, W)``) with one caption each."""
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("image_grid needs at least one row")
    n_cols = max(len(images) for images, _ in rows.values())
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(size * n_cols, size * len(rows) + 0.4),
                             squeeze=False)
    for ax_row, (title, (images, columns)) in zip(axes, rows.items()):
        for ax, image, column in zip(ax_row, images, columns):
            ax.imshow(image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy())
            ax.set_title(column, fontsize="x-small")
        ax_row[0].set_ylabel(title, fontsize="x-small")
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        for ax in ax_row[len(images):]:
            ax.axis("off")
    fig.tight_layout()
    return fig
