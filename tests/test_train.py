"""The command line of long meta-training runs: schedule, registry and argument parsing."""

import argparse
import math

import pytest

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
