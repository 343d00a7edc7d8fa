"""The book's claim records, seeds and thread counts, and glue (l2l.report.results)."""

import json

import pytest
import torch

from l2l.report.results import Claims, glue, notebook_settings


def test_claims_record_every_value_then_fail_naming_each_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("L2L_RESULTS_DIR", str(tmp_path))
    claims = Claims("demo")
    claims.below("ratio", torch.tensor(0.5), 0.7)
    claims.above("count", 3, 7)
    claims.at_most("bound", 1.0, 1)
    claims.exactly("diverged", 1, 0)
    failed = r"2 claim\(s\) failed: count: 3 is not > 7; diverged: 1 is not == 0"
    with pytest.raises(AssertionError, match=failed):
        claims.check()
    saved = json.loads((tmp_path / "demo.json").read_text())["claims"]
    assert [(c["claim"], c["value"], c["relation"], c["threshold"], c["holds"]) for c in saved] == [
        ("ratio", 0.5, "<", 0.7, True), ("count", 3.0, ">", 7.0, False),
        ("bound", 1.0, "<=", 1.0, True), ("diverged", 1.0, "==", 0.0, False),
    ]


def test_claims_that_hold_pass_and_print_a_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("L2L_RESULTS_DIR", str(tmp_path))
    claims = Claims("demo")
    claims.below("a", 1.0, 2.0)
    claims.above("b", 2.0, 1.0)
    claims.check()
    out = capsys.readouterr().out
    assert "a" in out and out.count("holds") == 2
    assert claims.items[1]["holds"] is True


def test_claims_refuse_nan_duplicates_bad_names_and_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("L2L_RESULTS_DIR", str(tmp_path))
    claims = Claims("demo")
    with pytest.raises(ValueError, match="NaN"):
        claims.below("x", float("nan"), 1.0)
    claims.below("x", 0.0, 1.0)
    with pytest.raises(ValueError, match="stated twice"):
        claims.above("x", 2.0, 1.0)
    with pytest.raises(ValueError, match="notebook name"):
        Claims("../escape")
    with pytest.raises(ValueError, match="no claims"):
        Claims("empty").check()
    # a threshold exactly at the value: strict relations fail, at_most holds
    strict = Claims("edge")
    strict.below("equal is not below", 1.0, 1.0)
    strict.above("equal is not above", 1.0, 1.0)
    assert [item["holds"] for item in strict.items] == [False, False]


def test_notebook_settings_reads_seed_and_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("L2L_SEED", raising=False)
        monkeypatch.delenv("L2L_THREADS", raising=False)
        assert notebook_settings(threads=1) == 0 and torch.get_num_threads() == 1
        first = torch.rand(3)
        monkeypatch.setenv("L2L_SEED", "3")
        monkeypatch.setenv("L2L_THREADS", "2")
        assert notebook_settings(threads=1) == 3000 and torch.get_num_threads() == 2
        assert not torch.equal(torch.rand(3), first)  # torch's seed moved with it
        assert notebook_settings() == 3000
        drawn = torch.rand(3)
        torch.manual_seed(3000)
        assert torch.equal(drawn, torch.rand(3))  # torch's global seed is the base seed
        for seed in ("-1", "x"):
            monkeypatch.setenv("L2L_SEED", seed)
            with pytest.raises(ValueError, match=f"^L2L_SEED={seed!r} must be a non-negative"):
                notebook_settings()
        monkeypatch.setenv("L2L_SEED", "0")
        for threads in ("0", "two"):
            monkeypatch.setenv("L2L_THREADS", threads)
            with pytest.raises(ValueError, match=f"^L2L_THREADS={threads!r} must be a positive"):
                notebook_settings()
        monkeypatch.delenv("L2L_THREADS")
        with pytest.raises(ValueError, match="^threads=.0. must be a positive"):  # names the argument
            notebook_settings(threads=0)
    finally:
        torch.set_num_threads(before)


def test_glue_returns_plain_values_and_checks_its_input():
    assert glue("ratio", torch.tensor(0.25)) == 0.25
    assert glue("best", "Adam (lr 0.1)") == "Adam (lr 0.1)"
    with pytest.raises(ValueError, match="glue name"):
        glue("no spaces", 1.0)
    with pytest.raises(TypeError, match="a number or a string"):
        glue("curve", [1.0, 2.0])
