"""Parameters as one flat vector and back: for Hessian-vector products, conjugate gradients and
buffers that hold many runs' parameters as rows (each row unflattened on its own, under ``vmap``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch


def flatten(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """The tensors' entries, one after the other, as one vector."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vector: torch.Tensor, shapes: Mapping[str, Sequence[int]]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`flatten`: views of ``vector`` with the given names and shapes, in order."""
    if vector.dim() != 1:
        raise ValueError(f"vector must be 1-D (one run's parameters; map over rows with vmap), got "
                         f"shape {tuple(vector.shape)}")
    sizes = [math.prod(shape) for shape in shapes.values()]
    if vector.shape[0] != sum(sizes):
        raise ValueError(f"vector has {vector.shape[0]} entries, the shapes {dict(shapes)} "
                         f"need {sum(sizes)}")
    pieces = torch.split(vector, sizes)
    return {name: piece.reshape(tuple(shape))
            for (name, shape), piece in zip(shapes.items(), pieces, strict=True)}
