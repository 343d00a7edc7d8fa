"""What a second thread costs when another process holds the other core.

Times two kernels the notebooks run thousands of times, an Adam step on the 4 × 15,910
coordinates of four MNIST networks and one batched MLP gradient, at 1 and 2 threads, first on
an idle machine and then with a busy-loop process on one core. Prints milliseconds per call and
the ratio 2 threads / 1 thread for each case.

    python benchmarks/threads.py
"""

from __future__ import annotations

import subprocess
import sys
import time

import torch

from l2l.baselines import Adam
from l2l.tasks.problems import MLPProblem


def per_call(fn, repeats: int = 50) -> float:
    """Median milliseconds of ``fn()`` over ``repeats`` calls, after two warm-up calls."""
    fn(), fn()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return 1000 * sorted(times)[len(times) // 2]


def kernels() -> dict:
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.rand(5000, 784, generator=gen), torch.randint(10, (5000,), generator=gen)
    problem = MLPProblem(images, labels, runs=4, generator=0)
    theta = problem.initial_params()
    adam, grad = Adam(0.03), torch.randn(theta.shape, generator=gen)
    state = adam.init_state(theta)
    stacked = theta.unsqueeze(0).repeat(36, 1, 1)
    return {"Adam step, 4 x 15,910 coordinates": lambda: adam.step(grad, state),
            "MLP gradient, 36 copies x 4 networks": lambda: problem.stacked_loss_and_grad(stacked, 0)}


def main() -> None:
    rows = {}
    for load in ("idle", "one core busy"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "idle" else None
        try:
            for threads in (1, 2):
                torch.set_num_threads(threads)
                for name, fn in kernels().items():
                    rows[load, name, threads] = per_call(fn)
        finally:
            if busy is not None:
                busy.kill()
    print(f"{'machine':14s} {'kernel':38s} {'1 thread':>9s} {'2 threads':>10s} {'2 / 1':>6s}")
    for load in ("idle", "one core busy"):
        for name in kernels():
            one, two = rows[load, name, 1], rows[load, name, 2]
            print(f"{load:14s} {name:38s} {one:7.2f}ms {two:8.2f}ms {two / one:6.2f}")


if __name__ == "__main__":
    main()
