"""One docstring style: every public name documented, an example on each entry point, and no
machine timings in the API (they belong in benchmarks/ and the notebooks)."""

import inspect
import re
from pathlib import Path

import pytest

import l2l

#: what a reader calls first, one or two per chapter
ENTRY_POINTS = [
    "summed_distribution", "LSTMOptimizer", "meta_train", "evaluate", "tune_learning_rate",
    "LearnedOptimizer", "load_pretrained", "run_condition", "adapt", "maml_loss", "train_maml",
    "evaluate_adaptation", "train_reptile", "taylor_check", "train_maml_rl", "PointNavigationEnv",
]


def _public():
    for name in l2l.__all__:
        obj = getattr(l2l, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield name, obj


def test_every_public_function_and_class_has_a_docstring():
    assert not [name for name, obj in _public() if not inspect.getdoc(obj)]


def test_every_public_function_documents_its_arguments_and_result():
    missing = []
    for name, obj in _public():
        if not inspect.isfunction(obj):
            continue
        doc, signature = inspect.getdoc(obj), inspect.signature(obj)
        if signature.parameters and "Args:\n" not in doc:
            missing.append(f"{name}: no Args")
        returns = signature.return_annotation not in (None, "None", inspect.Signature.empty)
        if returns and "Returns:\n" not in doc:
            missing.append(f"{name}: no Returns")
    assert not missing, missing


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_each_entry_point_shows_an_example(name):
    doc = inspect.getdoc(getattr(l2l, name))
    assert "Example:\n    >>> " in doc, f"{name}'s docstring has no Example section"


def test_sections_use_one_spelling():
    for path in (Path(l2l.__file__).parent).rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s+Arguments:$", text, re.M), f"{path}: write Args:, not Arguments:"
        assert not re.search(r"^\s+Raises ``", text, re.M), f"{path}: write a Raises: section"


def test_no_machine_timings_in_the_api():
    timing = re.compile(r"\b\d+(\.\d+)?(-\d+)? ?(s|ms|min)\b[^\n]*\b(CPU|core|machine)\b|\b2-core\b")
    for path in (Path(l2l.__file__).parent).rglob("*.py"):
        found = timing.search(path.read_text())
        assert not found, f"{path}: a machine timing ({found.group(0)!r}); measure it in benchmarks/"
