"""Saved optimizer networks: one format for every shipped optimizer and every training run.

A saved optimizer is two files with one stem:

* ``<stem>.pt``, read with ``torch.load(..., weights_only=True)``: a dict holding the format
  version, the network's settings (:meth:`~l2l.LSTMOptimizer.config`, the constructor's
  arguments) and its state dict — everything needed to rebuild the network, nothing else;
* ``<stem>.json``, the training record: the command that repeats the run, seeds, wall time,
  validation scores. The network never depends on it.

One pair of functions writes and reads them, :func:`save_optimizer` and :func:`load_pretrained`,
and :func:`pretrained_record` reads the record. :func:`load_pretrained` reads the optimizers that
ship with the package (``mnist_lstm``, ``neural_art_lstm``, ``neural_art_lstm_h128``,
``quadratics_lstm_preprocessed``) or any saved stem; a file that is missing, corrupted or of
another format is an error that names the file and what is wrong with it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from l2l._files import atomic_write
from l2l.learned_optimizer.network import LSTMOptimizer

#: the folder of the shipped optimizers, written by ``python -m l2l.experiments.train``
PRETRAINED = Path(__file__).resolve().parent / "experiments" / "pretrained"

#: the version of the ``.pt`` layout; a file of another version is refused
FORMAT = 1
_KEYS = {"format", "settings", "state_dict"}


class CheckpointError(ValueError):
    """A saved optimizer that cannot be read: corrupted, of another format, or not matching the
    network its settings describe."""


def checkpoint_stem(name: str | Path) -> Path:
    """The stem (path without ``.pt``/``.json``) of a saved optimizer.

    A bare name of a shipped optimizer, such as ``"mnist_lstm"``, is the one in
    :data:`PRETRAINED`; anything else is a path, relative to the working directory when it has no
    folder, as :func:`save_optimizer` writes it (so ``save_optimizer(net, "mine")`` is read back by
    ``load_pretrained("mine")``). A local file named like a shipped optimizer is read by its path
    with the suffix, ``"mnist_lstm.pt"``.
    """
    path = Path(name)
    if path.parent == Path(".") and path.name in shipped():
        return PRETRAINED / path.name
    return path.with_suffix("") if path.suffix in (".pt", ".json") else path


def shipped() -> list[str]:
    """The names of the optimizers that ship with the package."""
    return sorted(p.stem for p in PRETRAINED.glob("*.pt"))


def save_optimizer(net: LSTMOptimizer, stem: str | Path, record: dict | None = None) -> Path:
    """Write ``net`` to ``<stem>.pt`` and, if given, ``record`` to ``<stem>.json``, each atomically
    (a reader never sees half a file). Returns the ``.pt`` path.

    Args:
        net: the :class:`~l2l.LSTMOptimizer` to save; its settings and state dict (moved to the CPU)
            are written.
        stem: the path without suffix (a ``.pt`` or ``.json`` suffix is dropped); missing folders
            are created.
        record: the training record, written as JSON if given (an existing ``.json`` is left alone
            otherwise).

    Returns:
        The :class:`~pathlib.Path` of the ``.pt`` file, ``<stem>.pt``.

    Raises:
        TypeError: ``net`` is not an :class:`~l2l.LSTMOptimizer`, or ``record`` is not
            JSON-serializable (then nothing is written).

    Example:
        >>> save_optimizer(l2l.LSTMOptimizer(), "runs/mine", {"seed": 0})
        PosixPath('runs/mine.pt')
    """
    if not isinstance(net, LSTMOptimizer):
        raise TypeError(f"net must be an l2l.LSTMOptimizer, got {type(net).__name__}")
    stem = Path(stem).with_suffix("") if Path(stem).suffix in (".pt", ".json") else Path(stem)
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    torch.save({"format": FORMAT, "settings": net.config(), "state_dict": state}, buffer)
    pt = stem.with_name(stem.name + ".pt")
    text = None if record is None else json.dumps(record, indent=1) + "\n"  # fails before any write
    atomic_write(pt, buffer.getvalue())
    if text is not None:
        atomic_write(stem.with_name(stem.name + ".json"), text.encode())
    return pt


def _read(pt: Path) -> dict:
    if not pt.is_file():
        raise FileNotFoundError(f"no saved optimizer at {pt}; the shipped ones load by name: {shipped()}; "
                                "save one of your own with save_optimizer")
    try:
        saved = torch.load(pt, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 — truncated, not a torch file, unsafe pickle, ...
        raise CheckpointError(
            f"{pt} is not a readable checkpoint ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(saved, dict) or set(saved) != _KEYS:
        keys = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise CheckpointError(f"{pt} is not an l2l optimizer checkpoint: expected the keys "
                              f"{sorted(_KEYS)}, found {keys}")
    if saved["format"] != FORMAT:
        raise CheckpointError(f"{pt} has format {saved['format']!r}; this l2l reads format {FORMAT}")
    return saved


def load_pretrained(name: str | Path = "mnist_lstm", device: torch.device | str = "cpu") -> LSTMOptimizer:
    """The :class:`~l2l.LSTMOptimizer` saved at ``<stem>.pt``, in evaluation mode on ``device``:
    a shipped optimizer by name (:func:`shipped` lists them) or any saved stem, loaded with
    ``weights_only=True``.

    Args:
        name: a shipped optimizer's name, or the stem or ``.pt``/``.json`` path of a saved one (see
            :func:`checkpoint_stem`); default the MNIST optimizer.
        device: where the network's parameters go.

    Returns:
        The :class:`~l2l.LSTMOptimizer`, in evaluation mode on ``device``.

    Raises:
        FileNotFoundError: no ``<stem>.pt``.
        CheckpointError: the file is corrupted, of another format, or its weights do not fit the
            network its settings describe.

    Example:
        >>> net = l2l.load_pretrained("mnist_lstm")
        >>> opt = l2l.LearnedOptimizer(model.parameters(), net)
    """
    stem = checkpoint_stem(name)
    pt = stem.with_name(stem.name + ".pt")
    saved = _read(pt)
    try:
        net = LSTMOptimizer(**saved["settings"])
        net.load_state_dict(saved["state_dict"])
    except (TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{pt}: the weights do not fit the settings {saved['settings']} "
                              f"({error})") from error
    return net.to(device).eval()


def pretrained_record(name: str | Path = "mnist_lstm") -> dict:
    """The training record saved beside a shipped optimizer or any saved stem: the command that
    repeats the run, seed, wall time, validation scores.

    Args:
        name: a shipped optimizer's name, or the stem or ``.pt``/``.json`` path of a saved one (see
            :func:`checkpoint_stem`); default the MNIST optimizer.

    Returns:
        The parsed ``<stem>.json``, as written by :func:`save_optimizer`.

    Raises:
        FileNotFoundError: no ``<stem>.json``.
        CheckpointError: the file is not valid JSON.
    """
    stem = checkpoint_stem(name)
    path = stem.with_name(stem.name + ".json")
    if not path.is_file():
        raise FileNotFoundError(f"no training record at {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error})") from error
