import json
import math

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from l2l import _checks  # noqa: E402
from l2l.report.plotting import loss_curves, use_style  # noqa: E402
from l2l.report.results import load, record, results_dir  # noqa: E402


def test_record_merges_numbers_into_one_json_per_notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("L2L_RESULTS_DIR", str(tmp_path))
    record("demo", ratio=torch.tensor(0.5), steps=100)
    assert record("demo", curve=[1.0, math.inf]) is None  # a notebook cell ending with it shows nothing
    data = json.loads((tmp_path / "demo.json").read_text())
    assert data == {"ratio": 0.5, "steps": 100, "curve": [1.0, math.inf]}
    assert load("demo") == data


def test_record_refuses_nan_bad_names_and_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("L2L_RESULTS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="NaN"):
        record("demo", ratio=float("nan"))
    with pytest.raises(ValueError, match="notebook name"):
        record("../escape", ratio=1.0)
    with pytest.raises(ValueError, match="at least one number"):
        record("demo")
    with pytest.raises(FileNotFoundError, match="run its notebook"):
        load("never_ran")


def test_results_dir_is_beside_the_toc(tmp_path, monkeypatch):
    monkeypatch.delenv("L2L_RESULTS_DIR", raising=False)
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "notebooks").mkdir()
    assert results_dir(tmp_path / "notebooks") == tmp_path / "_build" / "results"


def test_loss_curves_draw_a_line_and_a_band_per_optimizer():
    use_style()
    fig, ax = plt.subplots()
    loss_curves(ax, {"Adam, lr=0.1": torch.rand(11, 5) + 0.1, "SGD, lr=0.01": torch.rand(11, 5) + 0.1})
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    assert ax.get_yscale() == "log" and ax.get_xlabel() and ax.get_ylabel()
    with pytest.raises(ValueError, match="must be"):
        loss_curves(ax, {"bad": torch.rand(5)})
    plt.close(fig)


def test_checks_name_the_bad_value():
    with pytest.raises(TypeError, match="n must be a positive integer, got 2.5"):
        _checks.positive_int("n", 2.5)
    with pytest.raises(ValueError, match="x must lie in"):
        _checks.in_range("x", 2.0, 0.0, 1.0)
    with pytest.raises(TypeError, match=r"generator must be an int seed or a torch.Generator, got .zero."):
        _checks.generator("zero")
    assert isinstance(_checks.generator(3), torch.Generator)


def test_the_number_checks_accept_numpy_scalars_and_name_what_they_allow():
    import numpy as np

    assert _checks.nonneg_int("k", np.int64(3)) == 3 and type(_checks.nonneg_int("k", np.int64(3))) is int
    assert _checks.nonneg_float("x", np.float32(0.5)) == 0.5
    with pytest.raises(ValueError, match="m must be a finite number, got inf"):
        _checks.finite_float("m", float("inf"))
    with pytest.raises(TypeError, match=r"x must be a number in \[0.0, 1.0\], got 'a' \(str\)"):
        _checks.in_range("x", "a", 0.0, 1.0)


def test_image_rows_need_one_caption_per_image_and_load_checks_the_name():
    from l2l.report.plotting import image_grid

    with pytest.raises(ValueError, match="row 'content' has 2 images but 1 captions"):
        image_grid({"content": (torch.rand(2, 3, 4, 4), ["a"])})
    with pytest.raises(ValueError, match="notebook name '../x' must be letters"):
        load("../x")
