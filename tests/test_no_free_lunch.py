"""Tests of l2l.no_free_lunch: exact enumeration of search on small finite sets."""

import itertools
from fractions import Fraction

import pytest

from l2l.no_free_lunch import (
    Descent,
    RandomSearch,
    SearchAlgorithm,
    Sweep,
    all_functions,
    best_so_far,
    is_valley,
    sample_distribution,
    summed_distribution,
)


class Revisit(SearchAlgorithm):
    """Breaks the rules: always proposes point 0."""

    name = "revisit"

    def choose(self, xs, ys, n_x):
        return {0: Fraction(1)}


class Leaky(SearchAlgorithm):
    """Breaks the rules: its probabilities sum to 1/2."""

    name = "leaky"

    def choose(self, xs, ys, n_x):
        free = [x for x in range(n_x) if x not in xs]
        return {free[0]: Fraction(1, 4), free[1]: Fraction(1, 4)}


def test_all_functions_counts_every_map_once():
    functions = all_functions(3, 2)
    assert len(functions) == 8 == len(set(functions))
    assert all(len(f) == 3 and set(f) <= {0, 1} for f in functions)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (1.5, TypeError)])
def test_all_functions_rejects_bad_sizes(bad, error):
    with pytest.raises(error, match="n_x"):
        all_functions(bad, 2)


def test_is_valley():
    assert is_valley((2, 1, 0, 0, 1, 2))
    assert is_valley((1, 1, 1))
    assert not is_valley((0, 1, 0))
    assert not is_valley((1, 0, 1, 0))
    # of the 8 binary functions on 3 points only (0, 1, 0) has a peak
    assert sum(is_valley(f) for f in all_functions(3, 2)) == 7


def test_sweep_follows_its_order_whatever_it_sees():
    assert sample_distribution((2, 0, 1), 2, Sweep()) == {(2, 0): 1}
    assert sample_distribution((2, 0, 1), 3, Sweep((2, 0, 1))) == {(1, 2, 0): 1}
    with pytest.raises(ValueError, match="permutation"):
        sample_distribution((2, 0, 1), 2, Sweep((0, 1)))
    with pytest.raises(ValueError, match="non-negative"):
        Sweep((0, -1))


def test_descent_extends_towards_the_lower_end():
    f = (3, 2, 1, 0, 1)
    # x = 2 (the middle); 1 (a tie goes left); 3 (f(1) = 2 > f(2) = 1); 4 (2 > 0); 0 (last left)
    assert sample_distribution(f, 5, Descent()) == {(1, 2, 0, 1, 3): 1}
    assert sample_distribution(f, 3, Descent()) == {(1, 2, 0): 1}
    assert sample_distribution(f, 2, Descent(start=0)) == {(3, 2): 1}
    with pytest.raises(ValueError, match="start"):
        Descent(start=-1)
    with pytest.raises(ValueError, match="outside"):
        sample_distribution(f, 1, Descent(start=5))


def test_random_search_probabilities_are_exact():
    assert sample_distribution((0, 1, 2), 1, RandomSearch()) == {
        (0,): Fraction(1, 3),
        (1,): Fraction(1, 3),
        (2,): Fraction(1, 3),
    }
    # six equally likely ordered pairs of distinct points, two per value sequence
    dist = sample_distribution((0, 0, 1), 2, RandomSearch())
    assert dist == {(0, 0): Fraction(1, 3), (0, 1): Fraction(1, 3), (1, 0): Fraction(1, 3)}


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_no_free_lunch_over_all_functions(m):
    n_x, n_y = 4, 2
    functions = all_functions(n_x, n_y)
    each = {ys: Fraction(n_y ** (n_x - m)) for ys in itertools.product(range(n_y), repeat=m)}
    for algorithm in (Sweep(), Sweep((3, 1, 0, 2)), Descent(), RandomSearch()):
        assert summed_distribution(algorithm, functions, m) == each


def test_a_structured_family_separates_the_algorithms():
    valleys = [f for f in all_functions(5, 3) if is_valley(f)]
    assert summed_distribution(Sweep(), valleys, 2) != summed_distribution(Descent(), valleys, 2)
    sweep, descent = best_so_far(Sweep(), valleys), best_so_far(Descent(), valleys)
    assert descent[0] < sweep[0] and descent[1] < sweep[1]
    assert descent[-1] == sweep[-1]  # after |X| evaluations both have seen everything


def test_best_so_far_is_the_running_minimum():
    assert best_so_far(Sweep(), [(2, 0, 1)]) == [2, 0, 0]
    assert best_so_far(Sweep(), [(2, 0, 1), (1, 1, 1)]) == [
        Fraction(3, 2),
        Fraction(1, 2),
        Fraction(1, 2),
    ]
    everything = all_functions(4, 3)
    assert best_so_far(Sweep(), everything) == best_so_far(Descent(), everything)
    with pytest.raises(ValueError, match="all functions"):
        best_so_far(Sweep(), [(0, 1), (0, 1, 2)])


def test_argument_errors_name_the_value():
    with pytest.raises(ValueError, match="m=4"):
        sample_distribution((0, 1, 2), 4, Sweep())
    with pytest.raises(ValueError, match="m must be a positive integer"):
        sample_distribution((0, 1, 2), 0, Sweep())
    with pytest.raises(TypeError, match="SearchAlgorithm"):
        sample_distribution((0, 1, 2), 1, "sweep")
    with pytest.raises(ValueError, match="not evaluated"):
        sample_distribution((0, 1, 2), 2, Revisit())
    with pytest.raises(ValueError, match="sum to 1"):
        sample_distribution((0, 1, 2), 1, Leaky())
    with pytest.raises(ValueError, match="non-empty"):
        summed_distribution(Sweep(), [], 1)
    with pytest.raises(ValueError, match="non-empty"):
        best_so_far(Sweep(), [])


class Proposes(SearchAlgorithm):
    """Breaks the rules in a way given at construction: proposes ``step`` whatever it has seen."""

    name = "proposes"

    def __init__(self, step):
        self.step = step

    def choose(self, xs, ys, n_x):
        return self.step


@pytest.mark.parametrize("step, message", [
    ({3: Fraction(1)}, r"proposed \[3\]"),           # outside X = 0..2
    ({-1: Fraction(1)}, r"proposed \[-1\]"),
    ({0: Fraction(2)}, "sum to 1"),                    # one point, but probability 2
    ({0: Fraction(1), 1: Fraction(0)}, "must be > 0"),  # a zero-probability branch
])
def test_a_search_step_outside_x_or_with_bad_probabilities_is_refused(step, message):
    with pytest.raises(ValueError, match=message):
        sample_distribution((0, 1, 2), 1, Proposes(step))
    assert sample_distribution((0, 1, 2), 1, Proposes({0: Fraction(1)})) == {(0,): 1}  # x = 0 is allowed


def test_the_algorithms_are_named_by_their_settings():
    assert Sweep().name == "sweep" and Sweep(order=(2, 0, 1)).name == "sweep (2, 0, 1)"
    assert Descent().name == "descent" and Descent(start=1).name == "descent from 1"
