"""Parameters as one flat vector and back."""

import pytest
import torch

from l2l._flat import flatten, unflatten


def test_flatten_and_unflatten_are_inverse():
    params = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([7.0]), "s": torch.tensor(8.0)}
    vector = flatten(params.values())
    assert vector.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 8.0]
    back = unflatten(vector, {n: p.shape for n, p in params.items()})
    assert list(back) == ["w", "b", "s"]
    for name, p in params.items():
        assert torch.equal(back[name], p)


def test_unflatten_names_a_size_mismatch():
    with pytest.raises(ValueError, match="vector has 3 entries.*need 4"):
        unflatten(torch.zeros(3), {"w": (2, 2)})


def test_unflatten_takes_one_run_at_a_time():
    with pytest.raises(ValueError, match=r"vector must be 1-D .* got shape \(2, 3\)"):
        unflatten(torch.zeros(2, 3), {"w": (3,)})
    rows = torch.arange(6.0).reshape(2, 3)  # many runs: map over the rows
    mapped = torch.vmap(lambda row: unflatten(row, {"w": (1,), "b": (2,)})["b"])(rows)
    assert torch.equal(mapped, rows[:, 1:])
