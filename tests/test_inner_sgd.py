"""The shared inner loop: known answers, and its derivatives against closed forms."""

import torch
from torch.func import grad

from l2l.inner_sgd import sgd, sgd_path


def quadratic(w, a, c):
    """½ a (w − c)²: gradient a (w − c), so one step of size α maps w − c to (1 − α a)(w − c)."""
    return 0.5 * a * ((w - c) ** 2).sum()


def test_steps_match_the_closed_form_in_order():
    batches = [(torch.tensor(2.0), torch.tensor(1.0)), (torch.tensor(0.5), torch.tensor(-1.0))]
    w = torch.tensor(3.0, dtype=torch.float64)
    path = list(sgd_path(quadratic, w, batches, 0.1))
    w1 = 3.0 - 0.1 * 2.0 * (3.0 - 1.0)
    w2 = w1 - 0.1 * 0.5 * (w1 + 1.0)
    assert [float(p) for p, _ in path] == [w1, w2]
    assert [float(g) for _, g in path] == [2.0 * (3.0 - 1.0), 0.5 * (w1 + 1.0)]
    assert float(sgd(quadratic, w, batches, 0.1)) == w2


def test_no_minibatch_leaves_the_parameters_and_dicts_step_by_name():
    w = {"a": torch.ones(2), "b": torch.zeros(1)}
    none = sgd(lambda p, x: (p["a"] * x).sum() + p["b"].sum(), w, [], 0.5)
    assert none is not w and all(none[k] is w[k] for k in w)  # a new dict of the same tensors
    out = sgd(lambda p, x: (p["a"] * x).sum() + p["b"].sum(), w, [(torch.tensor([1.0, 2.0]),)], 0.5)
    torch.testing.assert_close(out["a"], torch.tensor([0.5, 0.0]))
    torch.testing.assert_close(out["b"], torch.tensor([-0.5]))
    assert torch.equal(w["a"], torch.ones(2))  # nothing modified in place


def test_gradient_through_the_steps_is_second_order_unless_first_order():
    a, c, alpha, k = 3.0, torch.tensor(1.0, dtype=torch.float64), 0.1, 4
    batches = [(a, c)] * k

    def final(w, first_order):
        return sgd(quadratic, w, batches, alpha, first_order=first_order)

    w = torch.tensor(2.0, dtype=torch.float64)
    # d w_k / d w_0 = (1 − α a)^k through the steps; first-order keeps only the identity: 1
    assert abs(float(grad(lambda v: final(v, False))(w)) - (1 - alpha * a) ** k) < 1e-14
    assert float(grad(lambda v: final(v, True))(w)) == 1.0
    # second order by default, in both entry points
    by_default = float(grad(lambda v: sgd(quadratic, v, batches, alpha))(w))
    along_path = float(grad(lambda v: list(sgd_path(quadratic, v, batches, alpha))[-1][0])(w))
    assert abs(by_default - (1 - alpha * a) ** k) < 1e-14 and abs(along_path - by_default) < 1e-15


def test_a_tensor_step_size_broadcasts_over_runs():
    w = torch.zeros(3)
    lrs = torch.tensor([0.0, 0.5, 1.0])
    out = sgd(lambda p, x: ((p - x) ** 2).sum() / 2, w, [(torch.ones(3),)], lrs)
    torch.testing.assert_close(out, lrs)

