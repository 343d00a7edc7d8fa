"""What one MAML-TRPO meta-iteration on the half-cheetah costs on this machine.

The paper's locomotion runs (Finn et al. 2017, §5.3; the released ``cluster_maml_trpo_cheetah.py``)
use 40 tasks × 20 episodes × 200 steps before and again after the inner step, a 100-100 ReLU
policy, and 800 meta-iterations. This script measures the two parts of one iteration separately:

1. the rollout: steps per second of gymnasium's ``HalfCheetah-v5`` (MuJoCo), one environment,
   each action drawn from the 100-100 Gaussian policy (``l2l.policy_gradient``) in the Python
   loop that a rollout needs;
2. the optimisation: one TRPO meta-step of ``l2l.maml_rl`` (inner policy-gradient step, Hessian-
   vector products through it, line search) on a batch of the same size, with 17-dimensional
   observations and 6-dimensional actions; the batch's contents are random, its cost is not.

and prints the projected wall time of the paper's 800 iterations. It needs the simulator, which
the book does not install:  ``pip install "gymnasium[mujoco]"``.

    python benchmarks/half_cheetah_cost.py [--tasks 40] [--episodes 20] [--horizon 200]
"""

from __future__ import annotations

import argparse
import time

import torch

from l2l import maml_rl
from l2l import policy_gradient as pg
from l2l.tasks import navigation as nav


def rollout_steps_per_second(steps: int = 5000) -> float:
    """Simulator steps per second, each action sampled from the policy, as a rollout takes them."""
    import gymnasium

    env = gymnasium.make("HalfCheetah-v5")
    observation, _ = env.reset(seed=0)
    gen = torch.Generator().manual_seed(0)
    params = pg.per_task(pg.init_policy(17, 6, generator=gen), 1)
    began = time.perf_counter()
    with torch.no_grad():
        for _ in range(steps):
            state = torch.as_tensor(observation, dtype=torch.float32).reshape(1, 1, 17)
            action = pg.sample_actions(params, state, generator=gen).reshape(6).numpy()
            observation, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                observation, _ = env.reset()
    return steps / (time.perf_counter() - began)


def random_episodes(tasks: int, episodes: int, horizon: int, gen: torch.Generator) -> nav.Trajectories:
    shape = (tasks, episodes, horizon)
    return nav.Trajectories(torch.randn(*shape, 17, generator=gen), torch.randn(*shape, 6, generator=gen),
                            torch.randn(*shape, generator=gen), torch.ones(shape), torch.zeros(tasks, 2))


def trpo_seconds(tasks: int, episodes: int, horizon: int, curvature_tasks: int) -> float:
    gen = torch.Generator().manual_seed(0)
    params = pg.init_policy(17, 6, generator=gen)
    pre, post = (random_episodes(tasks, episodes, horizon, gen) for _ in range(2))
    pre_adv = pg.advantages(pre.rewards, pre.observations, pre.mask)
    theta = pg.per_task(params, tasks)
    adapted = pg.detached(maml_rl.inner_step(theta, pre, pre_adv, 0.1, create_graph=False))
    with torch.no_grad():
        logp = pg.log_prob(adapted, post.observations, post.actions)
    batch = maml_rl.MetaBatch(pre, pre_adv, adapted, post, pg.advantages(post.rewards, post.observations,
                                                                         post.mask), logp)
    part = batch.first(curvature_tasks)
    began = time.perf_counter()
    pg.trpo_step(params, lambda p: maml_rl.meta_objective(p, batch, 0.1),
                 curvature=lambda p: maml_rl.meta_objective(p, part, 0.1)[1])
    return time.perf_counter() - began


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--horizon", type=int, default=200)
    parser.add_argument("--curvature-tasks", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=800)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rate = rollout_steps_per_second()
    steps = 2 * args.tasks * args.episodes * args.horizon
    simulate = steps / rate
    optimise = trpo_seconds(args.tasks, args.episodes, args.horizon, args.curvature_tasks)
    total = simulate + optimise
    print(f"rollout: {rate:,.0f} steps/s (HalfCheetah-v5 and the policy, one environment, one thread)")
    print(f"one meta-iteration: {steps:,} simulator steps = {simulate:.0f} s, "
          f"TRPO meta-step {optimise:.0f} s, total {total:.0f} s")
    two_cores = simulate / 2 + optimise      # the episodes are independent; the TRPO step is not split
    print(f"{args.iterations} iterations: {args.iterations * total / 3600:.1f} h on one core, "
          f"{args.iterations * two_cores / 3600:.1f} h with the simulation on two")


if __name__ == "__main__":
    main()
