"""benchmarks/claims.py: one run per (seed, threads) in its own kernel, and the table of claims."""

import importlib.util
import json
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("claims_benchmark", ROOT / "benchmarks" / "claims.py")
claims_benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(claims_benchmark)


def run(notebook, seed, threads, values, error=None, seconds=10.0, slowest=(3, 4.0)):
    claims = [{"claim": name, "value": v, "relation": "<", "threshold": 1.0, "holds": v < 1.0}
              for name, v in values.items()]
    return {"notebook": notebook, "seed": seed, "threads": threads, "seconds": seconds,
            "slowest_cell": list(slowest), "claims": claims, "error": error}


def rows(text):
    return [[c.strip() for c in line.split("|")] for line in text.splitlines()[2:]]


def test_table_gives_min_median_max_and_how_many_runs_held():
    runs = [run("demo", 0, 1, {"ratio": 0.2}), run("demo", 1, 1, {"ratio": 0.9}, seconds=30, slowest=(2, 9)),
            run("demo", 0, 2, {"ratio": 1.3}, seconds=20)]
    table = rows(claims_benchmark.table(runs))
    assert table[0] == ["demo", "ratio", "< 1", "0.2", "0.9", "1.3", "2/3"]
    assert table[1] == ["demo", "wall time of the notebook, s / its slowest cell, s", "", "10 / 4", "20 / 4",
                        "30 / 9", ""]


def test_table_lists_a_run_that_failed_before_its_claims():
    runs = [run("demo", 0, 1, {"ratio": 0.5}), run("demo", 3, 2, {}, error="NameError: x")]
    text = claims_benchmark.table(runs)
    assert "ERROR seed 3 threads 2: NameError: x" in text
    assert rows(text)[0][-1] == "1/2"


def test_run_one_executes_the_notebook_with_the_seed_and_thread_count(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import torch, l2l\n"
        "SEED = l2l.notebook_settings(threads=1)\n"
        "claims = l2l.Claims('demo')\n"
        "claims.below('seed / 1000', SEED / 1000, 2.5)\n"
        "claims.exactly('threads', torch.get_num_threads(), 2)\n"
        "claims.check()")])
    nbformat.write(nb, tmp_path / "notebooks" / "demo.ipynb")
    monkeypatch.setattr(claims_benchmark, "ROOT", tmp_path)
    result = claims_benchmark.run_one("demo", 3, 2, tmp_path / "out", {})
    assert (result["notebook"], result["seed"], result["threads"]) == ("demo", 3, 2)
    held = {c["claim"]: (c["value"], c["holds"]) for c in result["claims"]}
    assert held == {"seed / 1000": (3.0, False), "threads": (2.0, True)}
    assert "AssertionError" in result["error"] and result["slowest_cell"][0] == 0
    saved = json.loads((tmp_path / "out" / "demo-seed3-threads2" / "demo.json").read_text())
    assert len(saved["claims"]) == 2


def test_a_rerun_that_fails_early_does_not_read_the_earlier_runs_claims(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    stale = tmp_path / "out" / "demo-seed0-threads1"
    stale.mkdir(parents=True)
    (stale / "demo.json").write_text(json.dumps({"claims": [
        {"claim": "a stale claim", "relation": "<", "threshold": 1, "value": 0.5, "holds": True}]}))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise RuntimeError('broke early')")])
    nbformat.write(nb, tmp_path / "notebooks" / "demo.ipynb")
    monkeypatch.setattr(claims_benchmark, "ROOT", tmp_path)
    result = claims_benchmark.run_one("demo", 0, 1, tmp_path / "out", {})
    assert result["claims"] == [] and "broke early" in result["error"]
    text = claims_benchmark.table([result, run("demo", 1, 1, {"ratio": 0.5})])
    assert "ERROR seed 0 threads 1" in text and "a stale claim" not in text
