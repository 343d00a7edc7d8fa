"""The No Free Lunch theorem for search, checked exactly by enumeration.

Wolpert and Macready (1997, Theorem 1): for any pair of search algorithms :math:`a_1, a_2`,

.. math::

    \\sum_f P(d_m^y \\mid f, m, a_1) = \\sum_f P(d_m^y \\mid f, m, a_2),

where the sum runs over all :math:`|Y|^{|X|}` functions :math:`f: X \\to Y` between finite
sets and :math:`d_m^y = (y_1, \\dots, y_m)` is the ordered sequence of values the algorithm has
seen after :math:`m` evaluations at distinct points. Averaged over all functions, every
algorithm sees the same values, so every performance measure of :math:`d_m^y` (such as the best
value found) has the same mean.

Here ``X = {0, ..., n_x - 1}`` (points on a line), ``Y = {0, ..., n_y - 1}``, and a function is
the tuple of its values ``(f(0), ..., f(n_x - 1))``. A search algorithm maps the sample seen so
far, :math:`d_m = ((x_1, y_1), \\dots, (x_m, y_m))`, to a probability distribution over the
points not yet evaluated, as in Wolpert and Macready's setting. Probabilities are exact
:class:`fractions.Fraction` values, so the theorem is checked with ``==``, not with a tolerance.
"""

from __future__ import annotations

import abc
import itertools
import numbers
from collections import defaultdict
from fractions import Fraction

from l2l._checks import positive_int

Function = tuple[int, ...]


class SearchAlgorithm(abc.ABC):
    """A search algorithm in the sense of Wolpert and Macready (1997).

    Subclasses implement :meth:`choose`: given the points ``xs`` evaluated so far and their
    values ``ys`` (the sample :math:`d_m`), return ``{x: probability}`` over points not yet
    evaluated. A deterministic algorithm puts probability 1 on one point.
    """

    name = "search algorithm"

    @abc.abstractmethod
    def choose(self, xs: Function, ys: Function, n_x: int) -> dict[int, Fraction]:
        """The distribution of the next point to evaluate, given the sample ``(xs, ys)``."""

    def __repr__(self) -> str:
        return self.name


class Sweep(SearchAlgorithm):
    """Non-adaptive search: evaluate the points in a fixed ``order``, whatever values appear.

    ``order=None`` sweeps left to right, ``0, 1, ..., n_x - 1``.
    """

    def __init__(self, order: tuple[int, ...] | None = None):
        if order is not None:
            order = tuple(order)
            if not all(isinstance(x, numbers.Integral) and x >= 0 for x in order):
                raise ValueError(f"order must hold non-negative integers, got {order!r}")
        self.order = order
        self.name = "sweep" if order is None else f"sweep {order}"

    def choose(self, xs, ys, n_x):
        order = range(n_x) if self.order is None else self.order
        if sorted(order) != list(range(n_x)):
            raise ValueError(f"order {self.order!r} must be a permutation of 0..{n_x - 1} for |X| = {n_x}")
        seen = set(xs)
        return {next(x for x in order if x not in seen): Fraction(1)}


class Descent(SearchAlgorithm):
    """Adaptive search that walks downhill: it grows an interval of evaluated points.

    It starts at ``start`` (default: the middle point ``n_x // 2``); the evaluated points then
    always form an interval ``[lo, hi]``, and the next point extends it on the side whose end
    value is lower (``lo - 1`` on a tie), or on the only side left. On a *valley* (see
    :func:`is_valley`) this heads for the minimum; on other functions it can walk away from it.
    """

    def __init__(self, start: int | None = None):
        if start is not None and (not isinstance(start, numbers.Integral) or start < 0):
            raise ValueError(f"start must be a non-negative integer or None, got {start!r}")
        self.start = start
        self.name = "descent" if start is None else f"descent from {start}"

    def choose(self, xs, ys, n_x):
        if not xs:
            start = n_x // 2 if self.start is None else self.start
            if start >= n_x:
                raise ValueError(f"start={start} is outside X = 0..{n_x - 1}")
            return {start: Fraction(1)}
        value = dict(zip(xs, ys, strict=True))
        lo, hi = min(xs), max(xs)
        if lo == 0:
            return {hi + 1: Fraction(1)}
        if hi == n_x - 1 or value[lo] <= value[hi]:
            return {lo - 1: Fraction(1)}
        return {hi + 1: Fraction(1)}


class RandomSearch(SearchAlgorithm):
    """Stochastic search: the next point is uniform over the points not yet evaluated."""

    name = "random search"

    def choose(self, xs, ys, n_x):
        seen = set(xs)
        free = [x for x in range(n_x) if x not in seen]
        return {x: Fraction(1, len(free)) for x in free}


def all_functions(n_x: int, n_y: int) -> list[Function]:
    """Every function ``f: {0..n_x-1} -> {0..n_y-1}`` as a tuple of values (``n_y ** n_x``).

    Args:
        n_x, n_y: the sizes ``|X|`` and ``|Y|`` of the domain and the range, positive integers.

    Returns:
        A list of ``n_y ** n_x`` tuples of length ``n_x``, in lexicographic order.

    Raises:
        TypeError: ``n_x`` or ``n_y`` is not an integer (a bool included).
        ValueError: ``n_x`` or ``n_y`` is below 1.
    """
    n_x, n_y = positive_int("n_x", n_x), positive_int("n_y", n_y)
    return list(itertools.product(range(n_y), repeat=n_x))


def is_valley(f: Function) -> bool:
    """True when ``f`` is non-increasing, then non-decreasing (unimodal with one basin).

    Equivalently, once ``f`` has risen it never falls again: no ``i < j`` with
    ``f(i) < f(i + 1)`` and ``f(j) > f(j + 1)``. Plateaus are allowed.

    Args:
        f: a function as the tuple of its values ``(f(0), ..., f(n_x - 1))``.

    Returns:
        ``True`` if ``f`` is a valley (also for constant functions and fewer than two points).
    """
    rising = False
    for a, b in zip(f[:-1], f[1:], strict=True):
        if b > a:
            rising = True
        elif b < a and rising:
            return False
    return True


def _next_point(algorithm: SearchAlgorithm, xs: Function, ys: Function, n_x: int):
    """The algorithm's distribution over the next point, checked to be a valid search step."""
    step = algorithm.choose(xs, ys, n_x)
    if len(step) == 1:  # the deterministic case, checked without Fraction arithmetic
        ((x, p),) = step.items()
        if 0 <= x < n_x and x not in xs and p == 1:
            return step
    bad = [x for x in step if not (0 <= x < n_x) or x in xs]
    if bad:
        raise ValueError(
            f"{algorithm!r} proposed {bad} after visiting {list(xs)}: a search algorithm must "
            f"pick points of X = 0..{n_x - 1} it has not evaluated yet"
        )
    if any(p <= 0 for p in step.values()) or sum(step.values()) != 1:
        raise ValueError(f"{algorithm!r} returned {step}: probabilities must be > 0 and sum to 1")
    return step


def sample_distribution(f: Function, m: int, algorithm: SearchAlgorithm) -> dict[Function, Fraction]:
    """:math:`P(d_m^y \\mid f, m, a)`: the exact distribution of the first ``m`` values seen.

    Walks every branch of the algorithm's choices, multiplying their probabilities; returns
    ``{(y_1, ..., y_m): probability}`` over the value sequences with non-zero probability.

    Args:
        f: a function as the sequence of its values ``(f(0), ..., f(n_x - 1))``; ``|X| = len(f)``.
        m: number of evaluations at distinct points, ``1 <= m <= len(f)``.
        algorithm: the :class:`SearchAlgorithm` that picks the points.

    Returns:
        A dict from value tuples of length ``m`` to exact :class:`~fractions.Fraction`
        probabilities summing to 1.

    Raises:
        TypeError: ``algorithm`` is not a :class:`SearchAlgorithm`, or ``m`` is not an integer.
        ValueError: ``m < 1`` or ``m > len(f)``; or the algorithm proposed a point outside ``X``
            or already evaluated, or probabilities that are not positive or do not sum to 1 (also
            :class:`Sweep`'s order not a permutation of ``X``, :class:`Descent`'s start outside ``X``).

    References:
        Wolpert and Macready (1997), No Free Lunch Theorems for Optimization.
    """
    if not isinstance(algorithm, SearchAlgorithm):
        raise TypeError(f"algorithm must be a SearchAlgorithm, got {type(algorithm).__name__}")
    f = tuple(f)
    m = positive_int("m", m)
    if m > len(f):
        raise ValueError(f"m={m} distinct evaluations need m <= |X| = {len(f)}")
    out: dict[Function, Fraction] = defaultdict(Fraction)

    def walk(xs: Function, ys: Function, p: Fraction) -> None:
        if len(xs) == m:
            out[ys] += p
            return
        step = _next_point(algorithm, xs, ys, len(f))
        for x, q in step.items():
            walk(xs + (x,), ys + (f[x],), p if len(step) == 1 else p * q)

    walk((), (), Fraction(1))
    return dict(out)


def summed_distribution(
    algorithm: SearchAlgorithm, functions: list[Function], m: int
) -> dict[Function, Fraction]:
    """:math:`\\sum_f P(d_m^y \\mid f, m, a)` over ``functions``, for every sequence :math:`d_m^y`.

    Over :func:`all_functions` the theorem says this does not depend on the algorithm; in fact
    every sequence in :math:`Y^m` gets exactly :math:`|Y|^{|X| - m}`.

    Args:
        algorithm: the :class:`SearchAlgorithm` to run on every function.
        functions: a non-empty list of functions as value tuples, e.g. :func:`all_functions`.
        m: number of evaluations, ``1 <= m <= |X|`` for every function.

    Returns:
        A dict from value tuples of length ``m`` to their summed :class:`~fractions.Fraction`
        probability (the values sum to ``len(functions)``).

    Raises:
        ValueError: ``functions`` is empty; and the errors of :func:`sample_distribution`.

    References:
        Wolpert and Macready (1997), No Free Lunch Theorems for Optimization, Theorem 1.

    Example:
        >>> functions = all_functions(n_x=3, n_y=2)  # all 8 functions from 3 points to 2 values
        >>> summed_distribution(Sweep(), functions, 2) == summed_distribution(RandomSearch(), functions, 2)
        True
    """
    if not functions:
        raise ValueError("functions must be a non-empty list of value tuples")
    total: dict[Function, Fraction] = defaultdict(Fraction)
    for f in functions:
        for ys, p in sample_distribution(f, m, algorithm).items():
            total[ys] += p
    return dict(total)


def best_so_far(algorithm: SearchAlgorithm, functions: list[Function]) -> list[Fraction]:
    """Mean over ``functions`` of :math:`E[\\min(y_1, \\dots, y_m)]` for ``m = 1, ..., |X|``.

    The lowest value found after ``m`` evaluations: a performance measure that depends on
    :math:`d_m^y` alone, as the theorem requires (minimisation; lower is better). The first
    ``m`` values of a search do not depend on the later ones, so one walk of length ``|X|`` per
    function serves every ``m``: :math:`d_m^y` is the length-``m`` prefix of :math:`d_{|X|}^y`.

    Args:
        algorithm: the :class:`SearchAlgorithm` to run on every function.
        functions: a non-empty list of functions as value tuples, all of the same length ``|X|``.

    Returns:
        A list of ``|X|`` exact :class:`~fractions.Fraction` values, entry ``m - 1`` for ``m``
        evaluations (non-increasing in ``m``).

    Raises:
        ValueError: ``functions`` is empty or its functions differ in length; and the errors of
            :func:`sample_distribution`.

    References:
        Wolpert and Macready (1997), No Free Lunch Theorems for Optimization.
    """
    if not functions:
        raise ValueError("functions must be a non-empty list of value tuples")
    n_x = len(functions[0])
    for i, f in enumerate(functions):
        if len(f) != n_x:
            raise ValueError(f"all functions must have |X| = {n_x} values, as the first; "
                             f"function {i} has {len(f)}")
    totals = [Fraction(0)] * n_x
    for ys, p in summed_distribution(algorithm, functions, n_x).items():
        best = ys[0]
        for m, y in enumerate(ys):
            best = min(best, y)
            totals[m] += p * best
    return [total / len(functions) for total in totals]
