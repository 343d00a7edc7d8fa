"""The fused LSTM cell and the optional meta_train arguments added for speed and long runs."""

import torch
from torch import nn

from l2l.learned_optimizer import LSTMOptimizer, OuterOptimizer, Truncation, Validation, meta_train
from l2l.learned_optimizer.lstm_cell import (
    _fused_gates,
    _fused_gates_backward,
    _gates,
    _gates_backward,
    _LSTMCellFunction,
)
from l2l.learned_optimizer.network import lstm_cell
from l2l.tasks.problems import quadratic_family, sample_quadratics


def test_fused_cell_matches_nn_lstmcell_in_values_and_gradients():
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 5).double()
    x, h, c = (torch.randn(7, n, dtype=torch.float64, requires_grad=True) for n in (3, 5, 5))
    w_h, w_c = torch.randn(7, 5, dtype=torch.float64), torch.randn(7, 5, dtype=torch.float64)
    inputs = [x, h, c, *cell.parameters()]
    results = []
    for out in (cell(x, (h, c)), lstm_cell(cell, x, (h, c))):
        loss = (out[0] * w_h).sum() + (out[1] * w_c).sum()
        results.append((out, torch.autograd.grad(loss, inputs)))
    (ref_out, ref_grads), (out, grads) = results
    for mine, ref in zip([*out, *grads], [*ref_out, *ref_grads]):
        torch.testing.assert_close(mine, ref)


def test_fused_cell_gradients_match_finite_differences():
    torch.manual_seed(1)
    x, h, c = (torch.randn(6, n, dtype=torch.float64, requires_grad=True) for n in (2, 4, 4))
    weight = torch.randn(16, 6, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_LSTMCellFunction.apply, (x, h, c, weight, bias))


def test_compiled_pointwise_kernels_equal_the_eager_functions():
    torch.manual_seed(2)
    z, bias, c = torch.randn(9, 12), torch.randn(12), torch.randn(9, 3)
    forward = _fused_gates(z, bias, c)
    for mine, ref in zip(forward, _gates(z, bias, c)):
        torch.testing.assert_close(mine, ref)
    grads = torch.randn(9, 3), torch.randn(9, 3)
    backward_args = (*grads, forward[2], c, forward[3])
    for mine, ref in zip(_fused_gates_backward(*backward_args), _gates_backward(*backward_args)):
        torch.testing.assert_close(mine, ref)
    # the compiled path ran (a failed compilation would have fallen back to eager, and warned)
    assert _fused_gates.compiled and _fused_gates_backward.compiled


def test_lr_schedule_scales_the_meta_learning_rate_and_callback_sees_each_validation():
    seen = []
    net = LSTMOptimizer(hidden_size=4)
    log = meta_train(
        net, quadratic_family(batch=2, dim=2), 4, truncation=Truncation(4, 2),
        outer=OuterOptimizer(lr=1e-2, schedule=lambda epoch: 1.0 / epoch), progress=False,
        validation=Validation([sample_quadratics(batch=2, dim=2, generator=1)], every=2,
                              callback=lambda n, lg: seen.append(list(lg.val_epochs))),
    )  # fmt: skip
    assert seen == [[2], [2, 4]] and log.val_epochs == [2, 4]


def test_a_zero_lr_schedule_leaves_the_optimizer_unchanged():
    net = LSTMOptimizer(hidden_size=4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    family = quadratic_family(batch=2, dim=2)
    meta_train(net, family, 2, truncation=Truncation(4, 2), outer=OuterOptimizer(schedule=lambda e: 0.0),
               progress=False)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
