"""Where computations run: the same code on a laptop CPU and on a Colab GPU."""

from __future__ import annotations

import os

import torch


def default_device() -> torch.device:
    """CUDA when a GPU is present (e.g. Colab), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def compile_allowed() -> bool:
    """Whether the package may compile kernels: ``L2L_COMPILE=0`` in the environment turns every
    compiled path (the LSTM cell's kernels, the MAML step) into its eager equivalent."""
    return os.environ.get("L2L_COMPILE", "1") != "0"
