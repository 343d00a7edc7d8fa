"""Where computations run: the same code on a laptop CPU and on a Colab GPU."""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    """CUDA when a GPU is present (e.g. Colab), else the CPU.

    Returns:
        ``torch.device("cuda")`` or ``torch.device("cpu")``.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
