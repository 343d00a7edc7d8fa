"""The command line of long meta-training runs: schedule, registry and argument parsing."""

import argparse
import math

import pytest
import torch

from l2l.experiments.train import (
    EXPERIMENTS,
    Experiment,
    _lr_steps,
    cosine_schedule,
    main,
    register,
)


def test_cosine_schedule_decays_from_one_to_the_floor():
    factor = cosine_schedule(5, floor=0.1)
    assert factor(1) == 1.0 and math.isclose(factor(5), 0.1)
    assert math.isclose(factor(3), 0.55)  # half-way: the mean of 1 and the floor
    assert all(factor(e) > factor(e + 1) for e in range(1, 5))


def test_cosine_schedule_rejects_a_non_positive_length():
    with pytest.raises(ValueError, match="epochs"):
        cosine_schedule(0)


def test_register_refuses_a_second_experiment_of_the_same_name():
    with pytest.raises(ValueError, match="already registered"):
        register(Experiment("mnist", "", lambda parser: None, lambda args: {}))
    assert set(EXPERIMENTS) >= {"mnist", "neural_art", "quadratics"}


def test_meta_lr_steps_parse_and_bad_text_names_the_format():
    assert _lr_steps("150:1e-3,250:3e-4") == [[150, 1e-3], [250, 3e-4]]
    assert _lr_steps("") == []
    with pytest.raises(argparse.ArgumentTypeError, match="EPOCH:LR"):
        _lr_steps("150-1e-3")


def test_every_experiment_has_a_help_page(capsys):
    for name in EXPERIMENTS:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0 and "--epochs" in capsys.readouterr().out


def test_the_recorded_neural_art_command_repeats_the_non_default_options():
    from l2l.experiments.configs import NEURAL_ART as TRAIN_CONFIG
    from l2l.experiments.neural_art import _command

    config = {**TRAIN_CONFIG, "unroll": 128, "step_weights": "final", "meta_lr": 1e-3, "train_steps": 128,
              "round_epochs": 10, "n_validation": 8}
    command = _command(40, config, "runs/start.pt")
    assert command.startswith("python -m l2l.experiments.train neural_art --epochs 40 --seed 0")
    for option in ("--unroll 128", "--step-weights final", "--meta-lr 0.001", "--init runs/start.pt",
                   "--train-steps 128", "--round-epochs 10", "--val-crops 8"):
        assert option in command
    expected = "python -m l2l.experiments.train neural_art --epochs 40 --seed 0"
    assert _command(40, TRAIN_CONFIG, None) == expected


def test_the_quadratics_experiment_repeats_the_notebook_and_records_its_command(tmp_path, monkeypatch):
    from l2l.experiments import configs, train
    from l2l.learned_optimizer import Truncation

    small = configs.QuadraticsTraining(truncation=Truncation(4, 2), epochs=4, eval_every=1, batch=4, dim=3)
    monkeypatch.setattr(train, "QUADRATICS", small)
    record = main(["quadratics", "--preprocess", "--seed", "2", "--out", str(tmp_path), "--name", "q"])
    assert record["command"] == "python -m l2l.experiments.train quadratics --seed 2 --preprocess"
    assert record["val_epochs"] == [1, 2, 3, 4] and record["best_score"] == min(record["val_scores"])
    import l2l

    net = l2l.load_pretrained(tmp_path / "q")
    assert net.preprocess and net.hidden_size == 20 and l2l.pretrained_record(tmp_path / "q") == record


def _tiny_mnist(monkeypatch):
    """The MNIST experiment on random 'images' (the driver's logic, not the data: the notebooks
    and the shipped run use MNIST itself), 4-step runs."""
    from l2l.experiments import configs, train
    from l2l.learned_optimizer import Truncation

    g = torch.Generator().manual_seed(0)

    def split(n):  # 16 'pixels': a 16-20-10 MLP, the driver's logic at a fraction of the cost
        return torch.rand(n, 16, generator=g), torch.randint(10, (n,), generator=g)

    monkeypatch.setattr(train, "mnist_splits", lambda device: {"train": split(300), "validation": split(200)})
    monkeypatch.setattr(train, "MNIST", configs.MNISTTraining(truncation=Truncation(4, 2), score_last=2,
                                                              validation_runs=2))


def test_the_mnist_experiment_records_the_command_it_was_given(tmp_path, monkeypatch):
    _tiny_mnist(monkeypatch)
    argv = ["mnist", "--epochs", "2", "--eval-every", "1", "--out", str(tmp_path), "--name", "a"]
    record = main(argv)
    assert record["command"] == "python -m l2l.experiments.train " + " ".join(argv)
    assert record["val_epochs"] == [1, 2] and (tmp_path / "a.pt").exists()


def test_fine_tuning_keeps_the_starting_weights_unless_a_validation_beats_them(tmp_path, monkeypatch):
    import l2l

    _tiny_mnist(monkeypatch)
    main(["mnist", "--epochs", "1", "--out", str(tmp_path), "--name", "start"])
    # a meta step of 10 wrecks the optimizer: no validation beats the start, which must survive
    record = main(["mnist", "--epochs", "2", "--eval-every", "1", "--meta-lr", "10", "--init",
                   str(tmp_path / "start"), "--out", str(tmp_path), "--name", "tuned"])
    assert record["val_epochs"][0] == 0 and record["val_scores"][0] == record["init"]["score"]
    assert record["best_epoch"] == 0, record["val_scores"]
    start, tuned = l2l.load_pretrained(tmp_path / "start"), l2l.load_pretrained(tmp_path / "tuned")
    assert all(torch.equal(v, tuned.state_dict()[k]) for k, v in start.state_dict().items())


def test_the_quadratics_experiment_names_its_outputs_by_variant_and_needs_two_rounds(tmp_path, monkeypatch):
    from l2l.experiments import configs, train
    from l2l.learned_optimizer import Truncation

    small = configs.QuadraticsTraining(truncation=Truncation(4, 2), epochs=2, eval_every=1, batch=4, dim=3)
    monkeypatch.setattr(train, "QUADRATICS", small)
    main(["quadratics", "--out", str(tmp_path)])
    assert (tmp_path / "quadratics_lstm.pt").exists()  # not the shipped preprocessed one's name
    assert not (tmp_path / "quadratics_lstm_preprocessed.pt").exists()
    with pytest.raises(ValueError, match="--epochs must be at least 2"):
        main(["quadratics", "--epochs", "1", "--out", str(tmp_path)])


def test_the_neural_art_command_says_the_settings_it_cannot_express():
    from l2l.experiments.configs import NEURAL_ART as TRAIN_CONFIG
    from l2l.experiments.neural_art import _command

    command = _command(40, {**TRAIN_CONFIG, "size": 32}, None)
    assert command.endswith("# with config {'size': 32} (not a command-line option)")
