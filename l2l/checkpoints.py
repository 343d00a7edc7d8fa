"""Saving and loading optimizer networks and their records.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from l2l.learned_optimizer.network import LSTMOptimizer

#: the folder of the shipped optimizers, written by ``python -m l2l.experiments.train``
PRETRAINED = Path(__file__).resolve().parent / "experiments" / "pretrained"


def pretrained_path(name: str = "neural_art_lstm") -> Path:
    """Where a shipped optimizer lives, ``l2l/experiments/pretrained/<name>.pt`` (+ ``.json``):
    ``neural_art_lstm``, the one to use, or ``neural_art_lstm_h128``, meta-trained on the paper's
    128-step horizon and kept for comparison."""
    return PRETRAINED / f"{name}.pt"


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
        raise FileNotFoundError(
            f"no optimizer weights at {path}; run `python -m l2l.experiments.train neural_art`"
        )
    info = json.loads(path.with_suffix(".json").read_text())
    net = LSTMOptimizer(**info["net"]).to(device)
    net.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return net, info



def load_pretrained(name: str | Path = "mnist_lstm", device: torch.device | str = "cpu") -> LSTMOptimizer:
    """An :class:`LSTMOptimizer` from ``<name>.pt`` (state dict) and ``<name>.json`` (its config).

    ``name`` is a file stem in the package's ``pretrained`` folder (``"mnist_lstm"``, written by
    ``python -m l2l.experiments.train mnist``) or a path without suffix. Loaded with ``weights_only=True``.
    """
    stem = Path(name) if Path(name).parent != Path(".") else PRETRAINED / str(name)
    if not stem.with_suffix(".pt").exists():
        shipped = sorted(p.stem for p in PRETRAINED.glob("*.pt"))
        raise FileNotFoundError(f"no weights at {stem.with_suffix('.pt')}; shipped: {shipped}")
    record = json.loads(stem.with_suffix(".json").read_text())
    net = LSTMOptimizer(**record["config"])
    state = torch.load(stem.with_suffix(".pt"), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return net.to(device).eval()


def pretrained_record(name: str | Path = "mnist_lstm") -> dict:
    """The JSON record of a shipped optimizer: config, seed, epochs, wall time, validation scores."""
    stem = Path(name) if Path(name).parent != Path(".") else PRETRAINED / str(name)
    return json.loads(stem.with_suffix(".json").read_text())
