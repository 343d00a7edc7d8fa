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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from l2l import _checks
from l2l.tasks.problems import Problem


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G = F Fᵀ / (H W) for feature maps ``(batch, C, H, W)``: shape ``(batch, C, C)``.

    Dividing by the number of positions makes G an average over the image, so the style
    statistics of a 64×64 and a 128×128 image are on the same scale.

    Args:
        features: feature maps ``(batch, C, H, W)``.

    Returns:
        The Gram matrices, a tensor ``(batch, C, C)``.

    Raises:
        TypeError: ``features`` is not a tensor.
        ValueError: ``features`` is not 4-dimensional.

    References:
        Gatys, Ecker and Bethge (2016), Image Style Transfer Using Convolutional Neural Networks.
    """
    _checks.tensor_shape("features", features, (None, None, None, None))
    flat = features.flatten(2)
    return flat @ flat.transpose(1, 2) / flat.shape[2]


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Squared total variation per image of ``(batch, C, H, W)``: shape ``(batch,)``.

    TV(x) = ½ [mean over (c, i, j) of (x_{c,i+1,j} − x_{c,i,j})² + mean of (x_{c,i,j+1} − x_{c,i,j})²].

    Args:
        images: a batch of images ``(batch, C, H, W)`` with ``H, W >= 2``.

    Returns:
        A tensor ``(batch,)``, one value per image.

    Raises:
        TypeError: ``images`` is not a tensor.
        ValueError: ``images`` is not 4-dimensional, or ``H`` or ``W`` is below 2 (no neighbour
            to differ from: the means would be NaN).
    """
    _checks.tensor_shape("images", images, (None, None, None, None))
    if min(images.shape[2:]) < 2:
        raise ValueError(f"total_variation needs images at least 2×2, got (H, W) = {tuple(images.shape[2:])}")
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
        self.theta0 = theta0
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


def noise_images(batch: int, size: int, generator: torch.Generator | int = 0,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Starting images θ_0: pixels uniform on [0, 1], shape ``(batch, 3·size·size)``."""
    batch, size = _checks.positive_int("batch", batch), _checks.positive_int("size", size)
    gen = _checks.generator(generator)
    return torch.rand(batch, 3 * size * size, generator=gen).to(device)


def art_problem(content: torch.Tensor, style: torch.Tensor, features: nn.Module,
                generator: torch.Generator | int = 0, weights: ArtWeights = ArtWeights()):
    """A :class:`StyleTransferProblem` on square ``content`` images ``(n, 3, size, size)``, started
    from uniform noise drawn with ``generator`` (:func:`noise_images`)."""
    _checks.tensor_shape("content", content, (None, 3, None, None))
    if content.shape[-2] != content.shape[-1]:
        raise ValueError(f"content must be square images (n, 3, size, size), got {tuple(content.shape)}")
    theta0 = noise_images(content.shape[0], content.shape[-1], generator, content.device)
    return StyleTransferProblem(content, style, features, theta0, weights)


def art_family(content: torch.Tensor, style: torch.Tensor, features: nn.Module, batch: int = 1,
               weights: ArtWeights = ArtWeights()) -> Callable[[torch.Generator], StyleTransferProblem]:
    """A sampler ``generator -> problem`` for :func:`l2l.meta_train`: ``batch`` images of
    ``content`` (``(n, 3, size, size)``, e.g. the crops of :func:`l2l.data.photos.content_images`)
    drawn uniformly with replacement, each started from fresh noise."""
    batch = _checks.positive_int("batch", batch)

    def sample(generator: torch.Generator) -> StyleTransferProblem:
        index = torch.randint(content.shape[0], (batch,), generator=generator)
        return art_problem(content[index.to(content.device)], style, features, generator, weights)

    return sample
