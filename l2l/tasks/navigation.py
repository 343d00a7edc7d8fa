"""The 2-D navigation task of MAML's reinforcement-learning experiments (Finn et al. 2017, §5.3).

A point agent starts at the origin of the plane and moves by its action, a velocity clipped to
±0.1 in each coordinate, for at most 100 steps. Each task is a goal drawn uniformly from the square
[−0.5, 0.5]², and the reward of a step is the negative Euclidean distance from the new position to
the goal. The paper's text says *squared* distance; the released code (``cbfinn/maml_rl``,
``point_env_randgoal.py``), which produced the paper's figure, uses the plain distance, and so do
we. An episode also ends when the agent is within 0.01 of the goal in both coordinates.

The policy acts in normalised units, as the released code does through rllab's ``normalize``
wrapper: an action ``u`` moves the agent by ``MAX_ACTION * clip(u, −1, 1)``.

Two interfaces to the same dynamics:

* :class:`PointNavigationEnv`, the standard ``gymnasium`` environment (one task, one agent);
* :func:`rollout`, a batched torch simulation of many tasks and trajectories at once, which is
  what training uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium
import numpy as np
import torch

from l2l import _checks

GOAL_LOW, GOAL_HIGH = -0.5, 0.5
MAX_ACTION = 0.1
HORIZON = 100
GOAL_TOLERANCE = 0.01


def check_goals(goals) -> torch.Tensor:
    """Goals as a float tensor of shape ``(tasks, 2)``, each inside the square; else ValueError.
    A floating-point tensor keeps its dtype (float64 goals give a float64 rollout)."""
    goals = torch.as_tensor(goals)
    if not goals.is_floating_point():
        goals = goals.to(torch.get_default_dtype())
    if goals.ndim == 1:
        goals = goals.unsqueeze(0)
    if goals.ndim != 2 or goals.shape[-1] != 2:
        raise ValueError(f"goals must have shape (tasks, 2) or (2,), got {tuple(goals.shape)}")
    outside = ~((goals >= GOAL_LOW) & (goals <= GOAL_HIGH)).all(dim=-1)
    if outside.any():
        bad = goals[outside][0].tolist()
        raise ValueError(f"goal {bad} lies outside the square [{GOAL_LOW}, {GOAL_HIGH}]²")
    return goals


def check_horizon(horizon) -> int:
    return _checks.positive_int("horizon", horizon)


def sample_goals(tasks: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``tasks`` goals drawn uniformly from the square [−0.5, 0.5]², shape ``(tasks, 2)``."""
    _checks.positive_int("tasks", tasks)
    return GOAL_LOW + (GOAL_HIGH - GOAL_LOW) * torch.rand(tasks, 2, generator=generator)


def to_env_action(u: torch.Tensor) -> torch.Tensor:
    """The velocity that a normalised action ``u`` applies: ``MAX_ACTION * clip(u, −1, 1)``."""
    return MAX_ACTION * u.clamp(-1.0, 1.0)


def step_reward(position: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    """Reward of arriving at ``position``: −‖position − goal‖ (last axis)."""
    return -torch.linalg.vector_norm(position - goal, dim=-1)


def reached(position: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    """True where the agent is within ``GOAL_TOLERANCE`` of the goal in both coordinates."""
    return ((position - goal).abs() < GOAL_TOLERANCE).all(dim=-1)


class PointNavigationEnv(gymnasium.Env):
    """One 2-D navigation task with the ``gymnasium`` API.

    The observation is the agent's position (float32, shape ``(2,)``), the action a velocity in
    ``[−0.1, 0.1]²`` (larger values are clipped). ``reset(options={"goal": (x, y)})`` sets the
    goal; without one a goal is drawn from the square with the environment's ``np_random``.

    Example:
        >>> env = PointNavigationEnv(goal=(0.3, -0.2))
        >>> observation, info = env.reset(seed=0)
        >>> observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
    """

    metadata = {"render_modes": []}

    def __init__(self, goal=None, horizon: int = HORIZON):
        self.horizon = check_horizon(horizon)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gymnasium.spaces.Box(-MAX_ACTION, MAX_ACTION, shape=(2,), dtype=np.float32)
        self.goal = None if goal is None else self._checked(goal)
        self._position = np.zeros(2)
        self._steps = 0

    @staticmethod
    def _checked(goal) -> np.ndarray:
        return check_goals(np.asarray(goal, dtype=np.float64))[0].numpy()

    def reset(self, *, seed=None, options=None):
        """Start an episode at the origin; returns ``(position, {"goal": goal})``.

        The goal is the task: it stays for later episodes (episodes of one task) until
        ``options={"goal": (x, y)}`` sets another, or ``seed`` reseeds the environment, which
        draws a new goal from that seed (so ``reset(seed=s)`` gives the same task whatever came
        before). The first episode without either draws one.
        """
        super().reset(seed=seed)
        goal = (options or {}).get("goal")
        if goal is not None:
            self.goal = self._checked(goal)
        elif seed is not None or self.goal is None:
            self.goal = self.np_random.uniform(GOAL_LOW, GOAL_HIGH, size=2)
        self._position = np.zeros(2)
        self._steps = 0
        return self._position.astype(np.float32), {"goal": self.goal.copy()}

    def step(self, action):
        """Move by ``action`` clipped to ±0.1; returns ``(position, −distance to the goal,
        terminated, truncated, info)``. ``terminated``: within 0.01 of the goal in both
        coordinates; ``truncated``: the horizon is reached first."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,):
            raise ValueError(f"action must have shape (2,), got {action.shape}")
        if not np.isfinite(action).all():
            raise ValueError(f"action must be finite, got {action.tolist()}")
        self._position = self._position + np.clip(action, -MAX_ACTION, MAX_ACTION)
        self._steps += 1
        distance = float(np.linalg.norm(self._position - self.goal))
        terminated = bool((np.abs(self._position - self.goal) < GOAL_TOLERANCE).all())
        truncated = self._steps >= self.horizon and not terminated
        return self._position.astype(np.float32), -distance, terminated, truncated, {"goal": self.goal.copy()}


@dataclass
class Trajectories:
    """A batch of episodes, ``tasks × trajectories × horizon``.

    ``observations`` and ``actions`` have a trailing axis of 2; ``rewards`` and ``mask`` do not.
    ``mask`` is 1 for the steps an episode took and 0 after it ended at the goal, and every
    masked step has reward 0. ``actions`` are the policy's normalised actions ``u``.
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    mask: torch.Tensor
    goals: torch.Tensor

    def first(self, tasks: int) -> Trajectories:
        """The episodes of the first ``tasks`` tasks."""
        return Trajectories(self.observations[:tasks], self.actions[:tasks], self.rewards[:tasks],
                            self.mask[:tasks], self.goals[:tasks])

    def returns(self) -> torch.Tensor:
        """Undiscounted return of every episode, shape ``(tasks, trajectories)``."""
        return self.rewards.sum(dim=-1)

    def average_return(self) -> torch.Tensor:
        """Mean return per task, shape ``(tasks,)``: the paper's "average return"."""
        return self.returns().mean(dim=-1)


@torch.no_grad()
def rollout(act, goals, trajectories: int, *, horizon: int = HORIZON,
            generator: torch.Generator | None = None) -> Trajectories:
    """Simulate ``trajectories`` episodes for each goal, all at once.

    ``act(observations, generator)`` maps positions of shape ``(tasks, trajectories, 2)`` to
    normalised actions of the same shape (a stochastic policy draws with ``generator``). An
    episode that reaches its goal stops: its later steps are masked and earn nothing.

    Args:
        act: the policy, ``act(observations, generator)`` → actions (see above); called once per step.
        goals: ``(tasks, 2)`` (or one ``(2,)``) goals inside the square [−0.5, 0.5]²; their floating
            dtype is the rollout's.
        trajectories: episodes per goal (``>= 1``).
        horizon: the most steps per episode (``>= 1``; default 100, ``HORIZON``).
        generator: passed to ``act`` at every step (a stochastic policy draws with it).

    Returns:
        :class:`Trajectories` ``tasks × trajectories × horizon``: positions before each step,
        actions ``u``, rewards, mask, and the checked goals; computed without gradients.

    Raises:
        ValueError: ``goals`` of the wrong shape or outside the square; ``act`` returns actions of
            another shape than the observations.
        TypeError, ValueError: ``trajectories`` or ``horizon`` not a positive integer.

    References:
        Finn, Abbeel & Levine (2017), §5.3 (the 2-D navigation task).
    """
    goals = check_goals(goals)
    horizon = check_horizon(horizon)
    _checks.positive_int("trajectories", trajectories)
    tasks = goals.shape[0]
    position = goals.new_zeros(tasks, trajectories, 2)
    alive = goals.new_ones(tasks, trajectories)
    target = goals.unsqueeze(1)
    observations, actions, rewards, masks = [], [], [], []
    for _ in range(horizon):
        u = act(position, generator)
        if u.shape != position.shape:
            raise ValueError(f"the policy returned actions of shape {tuple(u.shape)}, "
                             f"expected {tuple(position.shape)}")
        observations.append(position)
        actions.append(u)
        masks.append(alive)
        position = position + to_env_action(u) * alive.unsqueeze(-1)
        rewards.append(step_reward(position, target) * alive)
        alive = alive * (~reached(position, target)).to(alive.dtype)
    return Trajectories(torch.stack(observations, 2), torch.stack(actions, 2),
                        torch.stack(rewards, 2), torch.stack(masks, 2), goals)
