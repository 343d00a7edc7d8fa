"""Task distributions for few-shot regression: sine waves and linear regression.

A *task distribution* is a small frozen dataclass whose ``sample`` method
(:meth:`~l2l.tasks.regression.TaskDistribution.sample`, which both inherit) draws a batch of
tasks at once and returns a :class:`TaskBatch`: support and query sets as tensors of shape
``(n_tasks, K, 1)``, plus the parameters that define each task (so that the true function can be
drawn, or evaluated on a grid, with its ``function``, e.g. :meth:`SineTasks.function`). Every
random draw takes a
``torch.Generator`` (or an int seed); the numbers are drawn on the generator's device (the CPU by
default) and then moved to ``device``, so a seed gives the same tasks on every device.

Example::

    from l2l.tasks.regression import SineTasks

    tasks = SineTasks()                     # the MAML paper's ranges
    batch = tasks.sample(25, k_support=10, k_query=10, generator=0)
    batch.x_support.shape                   # torch.Size([25, 10, 1])
    reptile_tasks = SineTasks(phase=(0.0, 2 * math.pi))   # the Reptile demo's phases
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import torch

from l2l import _checks

__all__ = ["TaskBatch", "TaskDistribution", "SineTasks", "LinearTasks"]


@dataclass(frozen=True)
class TaskBatch:
    """A batch of regression tasks, each with a support set and a query set.

    Attributes:
        x_support, y_support: ``(n_tasks, k_support, 1)`` inputs and targets the learner adapts on.
        x_query, y_query: ``(n_tasks, k_query, 1)`` fresh points of the same tasks, for the loss
            after adaptation.
        params: the parameters that define each task, each a tensor of shape ``(n_tasks,)``
            (for sine waves ``amplitude`` and ``phase``; for lines ``slope``, ``intercept`` and
            ``scale``). Pass them to the distribution's ``function`` to evaluate the true task.
    """

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    params: dict[str, torch.Tensor]

    def __len__(self) -> int:
        return self.x_support.shape[0]

    @property
    def k_support(self) -> int:
        return self.x_support.shape[1]

    @property
    def k_query(self) -> int:
        return self.x_query.shape[1]

    def __getitem__(self, index) -> TaskBatch:
        """The tasks selected by ``index`` (an int, a slice, or an index tensor), as a batch."""
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"task index {index} is out of range for a batch of {n} tasks")
            index = slice(int(index) % n, int(index) % n + 1)
        return TaskBatch(
            self.x_support[index],
            self.y_support[index],
            self.x_query[index],
            self.y_query[index],
            {name: value[index] for name, value in self.params.items()},
        )

    def to(self, device=None, dtype=None) -> TaskBatch:
        """The same batch on ``device`` and/or with floating ``dtype``."""
        move = {"device": device, "dtype": dtype}
        return TaskBatch(
            *(getattr(self, f.name).to(**move) for f in fields(self) if f.name != "params"),
            {name: value.to(**move) for name, value in self.params.items()},
        )


def _range(name: str, value) -> tuple[float, float]:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{name} must be a (low, high) pair, got {value!r}")
    low, high = (float(v) for v in value)
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"{name} must be a finite (low, high) pair, low <= high; got {value!r}")
    return low, high


def _uniform(n: int, bounds: tuple[float, float], generator, dtype, like_shape=()) -> torch.Tensor:
    low, high = bounds
    device = generator.device if generator is not None else "cpu"
    u = torch.rand((n, *like_shape), generator=generator, device=device, dtype=dtype)
    return low + (high - low) * u


def _fixed_inputs(name: str, x, n_tasks: int, dtype) -> torch.Tensor:
    """Shared inputs given as ``(M,)``, ``(M, 1)`` or per task ``(n_tasks, M, 1)``."""
    x = torch.as_tensor(x, dtype=dtype)
    if x.dim() == 1:
        x = x[:, None]
    if x.dim() == 2:
        _checks.tensor_shape(name, x, (None, 1))
        return x.expand(n_tasks, *x.shape)
    _checks.tensor_shape(name, x, (n_tasks, None, 1))
    return x


def _generator(generator):
    return None if generator is None else _checks.generator(generator)


def _points(n, k, fixed, name, x_range, generator, dtype):
    if fixed is not None:
        return _fixed_inputs(name, fixed, n, dtype).to(generator.device if generator else "cpu")
    k = _checks.positive_int(f"k_{name.split('_')[0]}", k)
    return _uniform(n, x_range, generator, dtype, (k, 1))


class TaskDistribution:
    """A distribution of regression tasks: :meth:`sample` checks the request, and each
    distribution draws its parameters and points in ``_draw``."""

    def sample(
        self,
        n_tasks: int,
        k_support: int,
        k_query: int | None = None,
        generator: torch.Generator | int | None = None,
        device: torch.device | str = "cpu",
        *,
        dtype: torch.dtype = torch.float32,
        support_x: torch.Tensor | None = None,
        query_x: torch.Tensor | None = None,
    ) -> TaskBatch:
        """Draw ``n_tasks`` tasks with ``k_support`` support and ``k_query`` query points.

        Args:
            n_tasks: how many tasks.
            k_support: support points per task (K), drawn from the distribution's input range
                (uniform on ``x_range`` for sine tasks, on [−s, s] for linear tasks of scale s).
            k_query: query points per task, fresh draws of the same task; defaults to ``k_support``.
            generator: a ``torch.Generator`` or an int seed; ``None`` uses the global RNG.
            device: where the returned tensors live.
            dtype: floating dtype of the tensors (float32 by default).
            support_x, query_x: fixed inputs instead of random ones, shared by all tasks, of shape
                ``(M,)`` or ``(M, 1)`` (e.g. a grid of [-5, 5]), or one set per task,
                ``(n_tasks, M, 1)``; then ``k_support``/``k_query`` are ignored.

        Returns:
            A :class:`TaskBatch`: inputs and targets ``(n_tasks, K, 1)`` and each task's parameters.

        Raises:
            ValueError, TypeError: a count, a seed or fixed inputs of the wrong kind, named.
        """
        n_tasks = _checks.positive_int("n_tasks", n_tasks)
        k_query = k_support if k_query is None else k_query
        return self._draw(n_tasks, k_support, k_query, _generator(generator), dtype, support_x,
                          query_x).to(device)


@dataclass(frozen=True)
class SineTasks(TaskDistribution):
    """Sine waves ``y = amplitude * sin(x - phase)``, the regression benchmark of MAML.

    Defaults are the MAML paper's (Finn et al., 2017): amplitude ~ U[0.1, 5], phase ~ U[0, pi],
    inputs ~ U[-5, 5]. Reptile's demo draws the phase from U[0, 2 pi]:
    ``SineTasks(phase=(0, 2 * math.pi))``.
    """

    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)

    def __post_init__(self):
        for name in ("amplitude", "phase", "x_range"):
            object.__setattr__(self, name, _range(name, getattr(self, name)))

    @staticmethod
    def function(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """The true outputs ``A sin(x - phase)`` of each task at ``x`` of shape ``(n_tasks, M, 1)``
        (or ``(M, 1)``, shared by all tasks); returns ``(n_tasks, M, 1)``."""
        amplitude = params["amplitude"].reshape(-1, 1, 1)
        phase = params["phase"].reshape(-1, 1, 1)
        return amplitude * torch.sin(x - phase)

    def _draw(self, n_tasks, k_support, k_query, gen, dtype, support_x, query_x) -> TaskBatch:
        amplitude = _uniform(n_tasks, self.amplitude, gen, dtype)
        phase = _uniform(n_tasks, self.phase, gen, dtype)
        params = {"amplitude": amplitude, "phase": phase}
        xs = _points(n_tasks, k_support, support_x, "support_x", self.x_range, gen, dtype)
        xq = _points(n_tasks, k_query, query_x, "query_x", self.x_range, gen, dtype)
        return TaskBatch(xs, self.function(params, xs), xq, self.function(params, xq), params)


@dataclass(frozen=True)
class LinearTasks(TaskDistribution):
    """Lines ``y = slope * x + intercept + noise``, with inputs whose scale may differ by task.

    Each task picks a scale ``s`` uniformly from ``x_scales`` and draws its inputs from U[-s, s];
    its slope is normal with mean ``slope_means[j]`` (the entry that goes with its scale) and
    standard deviation ``slope_std``; its intercept is normal with mean ``intercept_mean`` and
    standard deviation ``intercept_std``; every target carries independent Gaussian noise of
    standard deviation ``noise_std``.

    For the model ``y = w[0] x + w[1]`` and the squared loss, a task's curvature is its input
    second-moment matrix ``E[(x, 1)(x, 1)^T] = diag(s^2 / 3, 1)`` (:meth:`moments`). With one
    scale every task has the same curvature, and MAML's initialisation coincides with joint
    training's; with several scales whose slopes differ, it does not (see the MAML chapter).
    """

    x_scales: tuple[float, ...] = (1.0,)
    slope_means: tuple[float, ...] = (0.0,)
    slope_std: float = 1.0
    intercept_mean: float = 0.0
    intercept_std: float = 1.0
    noise_std: float = 0.1

    def __post_init__(self):
        scales = tuple(_checks.positive_float(f"x_scales[{i}]", s) for i, s in enumerate(self.x_scales))
        means = tuple(_checks.finite_float(f"slope_means[{i}]", m) for i, m in enumerate(self.slope_means))
        if not scales:
            raise ValueError("x_scales must hold at least one scale")
        if len(means) == 1:
            means = means * len(scales)
        if len(means) != len(scales):
            raise ValueError(
                f"slope_means must hold one mean or one per scale ({len(scales)}), got {means}"
            )
        _checks.finite_float("intercept_mean", self.intercept_mean)
        for name in ("slope_std", "intercept_std", "noise_std"):
            _checks.nonneg_float(name, getattr(self, name))
        object.__setattr__(self, "x_scales", scales)
        object.__setattr__(self, "slope_means", means)

    @staticmethod
    def function(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """The noiseless outputs ``slope * x + intercept`` at ``x`` (``(n_tasks, M, 1)`` or
        ``(M, 1)``); returns ``(n_tasks, M, 1)``."""
        return params["slope"].reshape(-1, 1, 1) * x + params["intercept"].reshape(-1, 1, 1)

    @staticmethod
    def moments(params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Each task's population second moment ``E[(x, 1)(x, 1)^T]``, shape ``(n_tasks, 2, 2)``."""
        scale = params["scale"]
        out = torch.zeros(*scale.shape, 2, 2, dtype=scale.dtype, device=scale.device)
        out[..., 0, 0] = scale**2 / 3
        out[..., 1, 1] = 1.0
        return out

    def _draw(self, n_tasks, k_support, k_query, gen, dtype, support_x, query_x) -> TaskBatch:
        """Fixed ``support_x``/``query_x`` are used as given (not rescaled by the task's scale)."""
        gdev = gen.device if gen is not None else "cpu"
        pick = torch.randint(len(self.x_scales), (n_tasks,), generator=gen, device=gdev)
        scale = torch.tensor(self.x_scales, dtype=dtype, device=gdev)[pick]
        mean = torch.tensor(self.slope_means, dtype=dtype, device=gdev)[pick]
        normal = torch.randn((n_tasks, 2), generator=gen, device=gdev, dtype=dtype)
        params = {
            "slope": mean + self.slope_std * normal[:, 0],
            "intercept": self.intercept_mean + self.intercept_std * normal[:, 1],
            "scale": scale,
        }

        def points(k, fixed, name):
            if fixed is not None:
                return _fixed_inputs(name, fixed, n_tasks, dtype).to(gdev)
            k = _checks.positive_int(f"k_{name.split('_')[0]}", k)
            return scale.reshape(-1, 1, 1) * _uniform(n_tasks, (-1.0, 1.0), gen, dtype, (k, 1))

        def targets(x):
            noise = torch.randn(x.shape, generator=gen, device=gdev, dtype=dtype)
            return self.function(params, x) + self.noise_std * noise

        xs = points(k_support, support_x, "support_x")
        xq = points(k_query, query_x, "query_x")
        return TaskBatch(xs, targets(xs), xq, targets(xq), params)
