"""The 2-D navigation task: rewards and termination by hand, the batched rollout against the
gymnasium environment, and errors on bad input."""

import math

import numpy as np
import pytest
import torch

from l2l.tasks import navigation as nav


def test_reward_is_minus_the_distance_after_the_clipped_move():
    env = nav.PointNavigationEnv()
    obs, info = env.reset(options={"goal": (0.3, -0.4)})
    assert obs.tolist() == [0.0, 0.0] and info["goal"].tolist() == [0.3, -0.4]
    obs, reward, terminated, truncated, _ = env.step(np.array([0.5, -0.05]))   # x clipped to 0.1
    assert obs == pytest.approx([0.1, -0.05])
    assert reward == pytest.approx(-math.hypot(0.3 - 0.1, -0.4 + 0.05))
    assert not terminated and not truncated


def test_episode_terminates_within_tolerance_and_truncates_at_the_horizon():
    env = nav.PointNavigationEnv(goal=(0.1, 0.1), horizon=3)
    env.reset()
    *_, terminated, truncated, _ = env.step([0.1, 0.095])   # 0.005 from the goal in y
    assert terminated and not truncated
    env.reset(options={"goal": (0.5, 0.5)})
    flags = [env.step([0.0, 0.0])[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_a_seed_draws_the_same_goal_whatever_came_before():
    env = nav.PointNavigationEnv()
    env.reset(seed=0)
    assert np.array_equal(env.reset(seed=1)[1]["goal"], nav.PointNavigationEnv().reset(seed=1)[1]["goal"])
    assert np.array_equal(env.reset()[1]["goal"], env.reset(seed=1)[1]["goal"])  # no seed: the task stays


def test_reset_without_goal_draws_inside_the_square_reproducibly():
    a = nav.PointNavigationEnv().reset(seed=3)[1]["goal"]
    b = nav.PointNavigationEnv().reset(seed=3)[1]["goal"]
    assert (a == b).all() and (np.abs(a) <= 0.5).all()


def test_batched_rollout_matches_the_gymnasium_environment():
    gen = torch.Generator().manual_seed(0)
    goals = nav.sample_goals(3, gen)
    actions = torch.randn(3, 2, nav.HORIZON, 2, generator=gen)
    t = {"step": 0}

    def act(position, generator):
        u = actions[:, :, t["step"]]
        t["step"] += 1
        return u

    episodes = nav.rollout(act, goals, 2)
    assert episodes.rewards.shape == (3, 2, nav.HORIZON) and episodes.observations.shape == (3, 2, 100, 2)
    for i in range(3):
        for j in range(2):
            env = nav.PointNavigationEnv(goal=goals[i].tolist())
            env.reset()
            rewards = []
            for k in range(nav.HORIZON):
                _, r, terminated, truncated, _ = env.step(nav.to_env_action(actions[i, j, k]).numpy())
                rewards.append(r)
                if terminated or truncated:
                    break
            assert episodes.returns()[i, j].item() == pytest.approx(sum(rewards), rel=1e-4)
            assert episodes.mask[i, j].sum().item() == len(rewards)


def test_rollout_masks_every_step_after_reaching_the_goal():
    goals = torch.tensor([[0.1, 0.0]])
    episodes = nav.rollout(lambda p, g: torch.tensor([[[1.0, 0.0]]]).expand_as(p), goals, 1, horizon=5)
    assert episodes.mask[0, 0].tolist() == [1, 0, 0, 0, 0]
    assert torch.allclose(episodes.observations[0, 0, 1:], torch.tensor([0.1, 0.0]))   # it stays there
    assert episodes.rewards[0, 0].tolist() == pytest.approx([0.0, 0, 0, 0, 0], abs=1e-7)
    assert episodes.average_return().shape == (1,)


def test_to_env_action_scales_and_clips():
    assert nav.to_env_action(torch.tensor([0.5, -3.0])).tolist() == pytest.approx([0.05, -0.1])


@pytest.mark.parametrize("goal", [(0.6, 0.0), (0.0, -0.51), (float("nan"), 0.0)])
def test_goal_outside_the_square_is_refused(goal):
    with pytest.raises(ValueError, match="outside the square"):
        nav.PointNavigationEnv(goal=goal)
    with pytest.raises(ValueError, match="outside the square"):
        nav.rollout(lambda p, g: p, torch.tensor([goal]), 1)


@pytest.mark.parametrize("horizon", [0, -1, 2.5, True])
def test_bad_horizon_is_refused(horizon):
    with pytest.raises((ValueError, TypeError), match="horizon must be a positive integer"):
        nav.PointNavigationEnv(horizon=horizon)
    with pytest.raises((ValueError, TypeError), match="horizon must be a positive integer"):
        nav.rollout(lambda p, g: p, torch.zeros(1, 2), 1, horizon=horizon)


def test_actions_of_the_wrong_shape_are_refused():
    env = nav.PointNavigationEnv(goal=(0, 0))
    env.reset()
    with pytest.raises(ValueError, match=r"action must have shape \(2,\), got \(3,\)"):
        env.step([0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="action must be finite"):
        env.step([float("inf"), 0.0])
    with pytest.raises(ValueError, match=r"actions of shape \(1, 1, 3\)"):
        nav.rollout(lambda p, g: torch.zeros(1, 1, 3), torch.zeros(1, 2), 1)


def test_bad_goal_shapes_and_counts_are_refused():
    with pytest.raises(ValueError, match=r"shape \(tasks, 2\)"):
        nav.check_goals(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="tasks must be a positive integer"):
        nav.sample_goals(0)
    with pytest.raises(ValueError, match="trajectories must be a positive integer"):
        nav.rollout(lambda p, g: p, torch.zeros(1, 2), 0)


def test_sampled_goals_cover_the_square():
    goals = nav.sample_goals(4000, torch.Generator().manual_seed(0))
    assert goals.min() >= -0.5 and goals.max() <= 0.5
    assert goals.mean(0).abs().max() < 0.02 and (goals.var(0) - 1 / 12).abs().max() < 0.01
