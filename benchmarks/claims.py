"""Rerun the notebooks' claims over seeds and thread counts, and print one table.

Each notebook states its claims with ``l2l.Claims`` (:mod:`l2l.report.results`) (a measured number against a
threshold) and takes its seed and thread count from ``l2l.notebook_settings``, which
reads ``$L2L_SEED`` and ``$L2L_THREADS``. This script executes the notebooks as they are, once per
(seed, thread count), each run in its own kernel with its own results folder, and prints for
every claim: the threshold, the minimum / median / maximum of the measured value over the runs,
and in how many runs the claim held, and each notebook's wall time and slowest cell. Seed 0
is the published run.

    python benchmarks/claims.py                                  # every notebook, seeds 0-4, 1 and 2 threads
    python benchmarks/claims.py --notebooks quadratics mnist --seeds 0 1 --threads 2
    python benchmarks/claims.py --jobs 2 --threads 1             # two one-thread runs side by side
    python benchmarks/claims.py --env L2L_COMPILE=0              # with the compiled kernels off

The raw values go to ``--out`` (JSON, one entry per run), so a long run can be tabulated again
with ``--table-only``. A run that fails shows up as an error row (its claims count only if its
claims cell ran).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_one(notebook: str, seed: int, threads: int, folder: Path, extra_env: dict[str, str]) -> dict:
    """Execute one notebook in a fresh kernel with the given seed and thread count."""
    results = folder.resolve() / f"{notebook}-seed{seed}-threads{threads}"
    shutil.rmtree(results, ignore_errors=True)  # a record left by an earlier run must not count as this one's
    results.mkdir(parents=True)
    env = {**os.environ, **extra_env, "L2L_SEED": str(seed), "L2L_THREADS": str(threads),
           "L2L_RESULTS_DIR": str(results), "OMP_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    code = (
        "import json, sys, time, nbformat\n"
        "from nbclient import NotebookClient\n"
        "class Timed(NotebookClient):\n"
        "    times = []\n"
        "    async def async_execute_cell(self, cell, index, **kw):\n"
        "        began = time.perf_counter()\n"
        "        try:\n"
        "            return await super().async_execute_cell(cell, index, **kw)\n"
        "        finally:\n"
        "            self.times.append((index, time.perf_counter() - began))\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "try:\n"
        "    Timed(nb, timeout=1800, resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
        "finally:\n"
        "    open(sys.argv[3], 'w').write(json.dumps(Timed.times))\n"
    )
    began = time.perf_counter()
    cell_file = results / "cell_seconds.json"
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "notebooks" / f"{notebook}.ipynb"),
                           str(ROOT / "notebooks"), str(cell_file)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    cells = json.loads(cell_file.read_text()) if cell_file.exists() else []
    slowest = max(cells, key=lambda pair: pair[1], default=(None, 0.0))
    record = results / f"{notebook}.json"
    claims = json.loads(record.read_text()).get("claims", []) if record.exists() else []
    error = None
    if done.returncode != 0:
        lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in done.stderr.splitlines() if line.strip()]
        error = lines[-1][-300:] if lines else f"exit {done.returncode}"
    print(f"{notebook} seed {seed} threads {threads}: {seconds:.0f} s (slowest cell {slowest[0]}: "
          f"{slowest[1]:.0f} s), {len(claims)} claims" + (f", ERROR {error}" if error else ""), flush=True)
    return {"notebook": notebook, "seed": seed, "threads": threads, "seconds": seconds,
            "slowest_cell": slowest, "claims": claims, "error": error}


def table(runs: list[dict]) -> str:
    """One row per claim: threshold, min / median / max over runs, and how many runs it held in."""
    rows, values = [], {}
    for run in runs:
        for item in run["claims"]:
            key = (run["notebook"], item["claim"])
            values.setdefault(key, {"relation": item["relation"], "threshold": item["threshold"],
                                    "values": [], "held": 0})
            values[key]["values"].append(item["value"])
            values[key]["held"] += bool(item["holds"])
    expected = {}
    for run in runs:
        expected[run["notebook"]] = expected.get(run["notebook"], 0) + 1
    header = ("notebook", "claim", "threshold", "min", "median", "max", "held")
    for (notebook, claim), v in values.items():
        xs = v["values"]
        rows.append((notebook, claim, f"{v['relation']} {v['threshold']:.4g}", f"{min(xs):.4g}",
                     f"{statistics.median(xs):.4g}", f"{max(xs):.4g}", f"{v['held']}/{expected[notebook]}"))
    for run in runs:
        if run["error"]:
            failure = f"ERROR seed {run['seed']} threads {run['threads']}: {run['error']}"
            rows.append((run["notebook"], failure, "", "", "", "", ""))
    for notebook in expected:
        times = [r["seconds"] for r in runs if r["notebook"] == notebook]
        cells = [r.get("slowest_cell", (None, 0.0))[1] for r in runs if r["notebook"] == notebook]
        rows.append((notebook, "wall time of the notebook, s / its slowest cell, s", "",
                     f"{min(times):.0f} / {min(cells):.0f}", f"{statistics.median(times):.0f} / "
                     f"{statistics.median(cells):.0f}", f"{max(times):.0f} / {max(cells):.0f}", ""))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    every = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    parser.add_argument("--notebooks", nargs="+", default=every, choices=every)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (use with --threads 1)")
    parser.add_argument("--env", nargs="*", default=[], help="extra NAME=VALUE settings for every run")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "claims" / "runs.json")
    parser.add_argument("--table-only", action="store_true", help="tabulate --out without running")
    args = parser.parse_args(argv)
    runs = json.loads(args.out.read_text()) if args.out.exists() else []
    if not args.table_only:
        extra = dict(item.split("=", 1) for item in args.env)
        todo = [(n, s, t) for n in args.notebooks for t in args.threads for s in args.seeds]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            fresh = list(pool.map(lambda job: run_one(*job, args.out.parent, extra), todo))
        done = {(r["notebook"], r["seed"], r["threads"]) for r in fresh}
        runs = [r for r in runs if (r["notebook"], r["seed"], r["threads"]) not in done] + fresh
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(runs, indent=1))
    print(table([r for r in runs if r["notebook"] in args.notebooks]))


if __name__ == "__main__":
    main()
