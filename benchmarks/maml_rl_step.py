"""What one MAML-TRPO meta-iteration on 2-D navigation costs, and what the subsampled curvature saves.

Times, in one run and on the same sampled meta-batch (20 goals × 20 episodes × 100 steps, the
paper's 2-100-100-2 policy, one thread), the TRPO meta-step of ``l2l.maml_rl`` with the KL's
curvature taken on all 20 tasks, on 5 of them (the default of ``train_maml_rl``), and first-order
MAML; and the sampling of the batch. Prints seconds and the ratios to the 5-task step.

    python benchmarks/maml_rl_step.py
"""

from __future__ import annotations

import time

import torch

from l2l import maml_rl
from l2l import policy_gradient as pg
from l2l.tasks import navigation as nav


def seconds(fn, repeats: int = 3) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2]


def main() -> None:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    params = pg.init_policy(generator=gen)
    goals = nav.sample_goals(20, gen)
    batch = maml_rl.sample_meta_batch(params, goals, trajectories=20, lr=0.1, discount=0.99, generator=gen)

    def step(curvature_tasks, first_order=False):
        part = batch.first(curvature_tasks)
        return lambda: pg.trpo_step(
            params, lambda p: maml_rl.meta_objective(p, batch, 0.1, first_order=first_order),
            curvature=lambda p: maml_rl.meta_objective(p, part, 0.1, first_order=first_order)[1])

    times = {
        "sample the meta-batch (40,000 + 40,000 steps)": seconds(lambda: maml_rl.sample_meta_batch(
            params, goals, trajectories=20, lr=0.1, discount=0.99, generator=gen)),
        "TRPO step, curvature on 20 tasks": seconds(step(20)),
        "TRPO step, curvature on 5 tasks (default)": seconds(step(5)),
        "TRPO step, first-order MAML, curvature on 5": seconds(step(5, first_order=True)),
    }
    reference = times["TRPO step, curvature on 5 tasks (default)"]
    for name, t in times.items():
        print(f"{name:<48} {t:6.2f} s   {t / reference:5.2f}x the default step")


if __name__ == "__main__":
    main()
