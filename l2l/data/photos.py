"""The photographs of the Neural Art experiment: scikit-image's bundled samples (``PHOTOS`` gives
each one's source and licence), cut into content crops split by source photograph, and the two
style images, which are not among the content photographs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from l2l import _checks


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

    array = getattr(data, PHOTOS[name].loader)()  # scikit-image checks the file's SHA-256 first
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
