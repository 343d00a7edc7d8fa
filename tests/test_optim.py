import pytest
import torch
from torch import nn

from l2l.checkpoints import load_pretrained, pretrained_record
from l2l.learned_optimizer import LearnedOptimizer, LSTMOptimizer


def test_matches_a_manual_application_of_the_network():
    torch.manual_seed(0)
    net = LSTMOptimizer(hidden_size=6, output_scale=0.1)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    params = [p.detach().clone() for p in model.parameters()]
    states = [net.init_state(p) for p in params]
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    opt = LearnedOptimizer(model.parameters(), net)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        grads = [p.grad.clone() for p in model.parameters()]
        opt.step()
        with torch.no_grad():
            for k, grad in enumerate(grads):
                update, states[k] = net.step(grad, states[k])
                params[k] = params[k] + update
        for mine, theirs in zip(params, model.parameters()):
            torch.testing.assert_close(theirs.detach(), mine)


def test_a_float64_model_is_stepped_by_the_float32_network():
    torch.manual_seed(0)
    net = LSTMOptimizer(hidden_size=6, output_scale=0.1)
    single = nn.Linear(3, 1)
    double = nn.Linear(3, 1).double()
    double.load_state_dict({k: v.double() for k, v in single.state_dict().items()})
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    for model, data in ((single, (x, y)), (double, (x.double(), y.double()))):
        opt = LearnedOptimizer(model.parameters(), net)
        for _ in range(3):
            opt.zero_grad()
            nn.functional.mse_loss(model(data[0]), data[1]).backward()
            opt.step()
    assert double.weight.dtype == torch.float64
    torch.testing.assert_close(double.weight.float(), single.weight.detach(), rtol=1e-5, atol=1e-6)


def test_parameters_without_gradient_are_left_alone_and_closure_is_returned():
    net = LSTMOptimizer(hidden_size=4)
    used, unused = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(2))
    opt = LearnedOptimizer([used, unused], net)

    def closure():
        opt.zero_grad()
        loss = used.square().sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 3.0
    assert torch.equal(unused.detach(), torch.ones(2)) and not torch.equal(used.detach(), torch.ones(3))


def test_rejects_a_net_that_is_not_an_lstm_optimizer():
    with pytest.raises(TypeError, match="LSTMOptimizer"):
        LearnedOptimizer([nn.Parameter(torch.ones(1))], nn.Linear(1, 1))


def test_shipped_mnist_optimizer_loads_with_its_record():
    net = load_pretrained("mnist_lstm")
    record = pretrained_record("mnist_lstm")
    assert net.output_scale == 0.1
    assert record["best_epoch"] in record["val_epochs"] and record["seed"] is not None
    update, _ = net.step(torch.full((5,), 1e-3), net.init_state(torch.zeros(5)))
    assert update.shape == (5,) and torch.isfinite(update).all()
