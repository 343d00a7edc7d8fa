"""One checkpoint format for every saved optimizer: round trips, the shipped files, clear errors."""

import io
import json

import pytest
import torch

from l2l import LSTMOptimizer
from l2l.checkpoints import (
    FORMAT,
    PRETRAINED,
    CheckpointError,
    load_pretrained,
    pretrained_record,
    save_optimizer,
    shipped,
)


def _tiny():
    torch.manual_seed(0)
    return LSTMOptimizer(hidden_size=5, num_layers=1, output_scale=0.01)


def test_saved_optimizer_loads_back_with_its_settings_and_record(tmp_path):
    net = _tiny()
    assert save_optimizer(net, tmp_path / "tiny", {"seed": 3}) == tmp_path / "tiny.pt"
    for name in (tmp_path / "tiny", tmp_path / "tiny.pt"):
        loaded = load_pretrained(name)
        assert loaded.config() == net.config() and not loaded.training
        g = torch.randn(7)
        torch.testing.assert_close(loaded.step(g, loaded.init_state(g))[0], net.step(g, net.init_state(g))[0])
    assert pretrained_record(tmp_path / "tiny") == {"seed": 3}
    assert set(torch.load(tmp_path / "tiny.pt", weights_only=True)) == {"format", "settings", "state_dict"}


def test_saving_without_a_record_writes_only_the_network(tmp_path):
    save_optimizer(_tiny(), tmp_path / "bare.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.pt"]
    with pytest.raises(FileNotFoundError, match="bare.json"):
        pretrained_record(tmp_path / "bare")


SHIPPED = ["mnist_lstm", "neural_art_lstm", "neural_art_lstm_h128", "quadratics_lstm_preprocessed"]


def test_the_shipped_list_is_complete():
    assert shipped() == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_optimizer_loads_its_trained_weights_and_record(name):
    assert name in shipped()
    net = load_pretrained(name)
    stored = torch.load(PRETRAINED / f"{name}.pt", weights_only=True)["state_dict"]
    torch.manual_seed(0)
    fresh = LSTMOptimizer(**net.config()).state_dict()
    for key, value in net.state_dict().items():
        assert torch.equal(value, stored[key])  # the file's weights, not an initialisation
        assert not torch.equal(value, fresh[key])
    record = pretrained_record(name)
    assert record["command"].startswith("python -m l2l.experiments.train ")
    assert "config" not in record or "hidden_size" not in record["config"]  # settings live in the .pt


def test_a_bare_name_saved_in_the_working_directory_loads_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_optimizer(_tiny(), "mine", {"seed": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json", "mine.pt"]
    for name in ("mine", "mine.pt", "mine.json"):
        assert load_pretrained(name).config() == _tiny().config()
    assert pretrained_record("mine") == {"seed": 1}
    save_optimizer(_tiny(), "mnist_lstm.json")  # a local file named like a shipped one: by its suffix
    assert load_pretrained("mnist_lstm.pt").config() == _tiny().config()
    assert load_pretrained("mnist_lstm").config() != _tiny().config()  # the bare name is the shipped one


def test_a_missing_file_names_it_and_lists_the_shipped_ones(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such_optimizer.pt.*mnist_lstm"):
        load_pretrained("no_such_optimizer")
    with pytest.raises(FileNotFoundError, match="gone.pt"):
        load_pretrained(tmp_path / "gone")


def _write(path, obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    path.write_bytes(buffer.getvalue())


def test_a_corrupted_file_is_a_clear_error(tmp_path):
    save_optimizer(_tiny(), tmp_path / "cut")
    data = (tmp_path / "cut.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt is not a readable checkpoint"):
        load_pretrained(tmp_path / "cut")


def test_a_file_of_another_format_is_refused(tmp_path):
    _write(tmp_path / "old.pt", _tiny().state_dict())  # a bare state dict, the old layout
    with pytest.raises(CheckpointError, match="old.pt is not an l2l optimizer checkpoint"):
        load_pretrained(tmp_path / "old")
    net = _tiny()
    _write(tmp_path / "v9.pt", {"format": 9, "settings": net.config(), "state_dict": net.state_dict()})
    with pytest.raises(CheckpointError, match=f"format 9; this l2l reads format {FORMAT}"):
        load_pretrained(tmp_path / "v9")


def test_weights_that_do_not_fit_their_settings_are_refused(tmp_path):
    net = _tiny()
    wrong = {**net.config(), "hidden_size": 6}
    _write(tmp_path / "bad.pt", {"format": FORMAT, "settings": wrong, "state_dict": net.state_dict()})
    with pytest.raises(CheckpointError, match="bad.pt: the weights do not fit the settings"):
        load_pretrained(tmp_path / "bad")
    _write(tmp_path / "odd.pt", {"format": FORMAT, "settings": {"width": 3}, "state_dict": {}})
    with pytest.raises(CheckpointError, match="odd.pt"):
        load_pretrained(tmp_path / "odd")


def test_a_pickled_object_is_refused_by_weights_only_loading(tmp_path):
    _write(tmp_path / "code.pt", {"format": FORMAT, "settings": {}, "state_dict": _tiny()})  # a Module
    with pytest.raises(CheckpointError, match="code.pt is not a readable checkpoint"):
        load_pretrained(tmp_path / "code")


def test_a_broken_record_is_a_clear_error(tmp_path):
    save_optimizer(_tiny(), tmp_path / "rec", {"seed": 1})
    (tmp_path / "rec.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="rec.json is not valid JSON"):
        pretrained_record(tmp_path / "rec")
    assert json.loads((PRETRAINED / "mnist_lstm.json").read_text()) == pretrained_record("mnist_lstm")


def test_only_an_lstm_optimizer_is_saved(tmp_path):
    with pytest.raises(TypeError, match="LSTMOptimizer"):
        save_optimizer(torch.nn.Linear(1, 1), tmp_path / "x")


def test_a_stem_with_a_dot_keeps_its_name(tmp_path):
    save_optimizer(_tiny(), tmp_path / "run.2", {"seed": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.2.json", "run.2.pt"]
    assert load_pretrained(tmp_path / "run.2.pt").config() == _tiny().config()


def test_the_defaults_are_the_shipped_mnist_optimizer():
    assert pretrained_record() == pretrained_record("mnist_lstm")
    for (k, v), (k2, v2) in zip(load_pretrained().state_dict().items(),
                                load_pretrained("mnist_lstm").state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


def test_error_messages_say_what_was_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="save one of your own with save_optimizer"):
        load_pretrained(tmp_path / "gone")
    _write(tmp_path / "old.pt", {"weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match=r"found \['weight'\]"):
        load_pretrained(tmp_path / "old")
    _write(tmp_path / "list.pt", [1, 2])
    with pytest.raises(CheckpointError, match="found list"):
        load_pretrained(tmp_path / "list")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk.pt is not a readable checkpoint \(\w+Error: "):
        load_pretrained(tmp_path / "junk")


def test_a_record_json_cannot_hold_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match="not JSON serializable"):
        save_optimizer(_tiny(), tmp_path / "run", {"weights": torch.zeros(1)})
    assert list(tmp_path.iterdir()) == []  # no .pt without its record
