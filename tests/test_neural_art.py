import pytest
import torch

import l2l
from l2l.data import photos
from l2l.experiments import neural_art as na
from l2l.experiments.configs import NEURAL_ART
from l2l.learned_optimizer import meta_train
from l2l.tasks import style_transfer as st


def test_gram_matrix_matches_hand_computed_values():
    # one image, two channels, two positions: F = [[1, 2], [3, 4]], G = F Fᵀ / 2
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 2
    torch.testing.assert_close(st.gram_matrix(features), expected)


def test_gram_matrix_is_per_position_average_so_size_does_not_matter():
    features = torch.rand(2, 3, 4, 5)
    tiled = features.repeat(1, 1, 2, 3)  # the same statistics over six times the area
    torch.testing.assert_close(st.gram_matrix(tiled), st.gram_matrix(features))


def test_total_variation_matches_hand_computed_value():
    image = torch.tensor([[[[0.0, 1.0], [3.0, 5.0]]]])
    # vertical differences 3, 4 -> mean square 12.5; horizontal 1, 2 -> 2.5; TV = (12.5 + 2.5) / 2
    torch.testing.assert_close(st.total_variation(image), torch.tensor([7.5]))
    assert st.total_variation(torch.full((2, 3, 4, 4), 0.3)).abs().max() == 0


def test_shape_checks_name_the_bad_argument():
    with pytest.raises(ValueError, match="features must have shape"):
        st.gram_matrix(torch.ones(2, 3))
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        st.total_variation([[0.0]])
    with pytest.raises(ValueError, match=r"at least 2×2, got \(H, W\) = \(1, 5\)"):
        st.total_variation(torch.ones(1, 3, 1, 5))
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        photos.content_images("dev")
    with pytest.raises(ValueError, match="unknown style 'astronaut'"):
        photos.style_image("astronaut")


def _tiny_problem(dtype=torch.float64, batch=2, size=8):
    gen = torch.Generator().manual_seed(3)
    features = st.RandomFeatures((4, 6, 6), seed=1).to(dtype)
    content = torch.rand(batch, 3, size, size, generator=gen, dtype=dtype)
    style = torch.rand(3, size, size, generator=gen, dtype=dtype)
    theta0 = torch.rand(batch, 3 * size * size, generator=gen, dtype=dtype)
    return st.StyleTransferProblem(content, style, features, theta0, st.ArtWeights(1.0, 10.0, 0.5))


def test_objective_gradient_matches_finite_differences():
    problem = _tiny_problem(batch=1, size=6)
    theta = problem.initial_params().requires_grad_()
    assert torch.autograd.gradcheck(lambda t: problem.loss(t), (theta,), eps=1e-6, atol=1e-6)
    # and the Problem's (loss, grad) pair agrees with the loss it wraps
    value, grad = problem.loss_and_grad(problem.initial_params(), 0)
    torch.testing.assert_close(value, problem.loss(problem.initial_params()))
    assert grad.shape == theta.shape and not grad.requires_grad


def test_objective_is_the_weighted_sum_of_its_terms_and_zero_content_loss_at_the_content():
    problem = _tiny_problem()
    theta = torch.rand(2, 3 * 8 * 8, dtype=torch.float64)
    terms, w = problem.terms(theta), problem.weights
    expected = w.content * terms["content"] + w.style * terms["style"] + w.tv * terms["tv"]
    torch.testing.assert_close(problem.loss(theta), expected)
    gen = torch.Generator().manual_seed(3)
    content = torch.rand(2, 3, 8, 8, generator=gen, dtype=torch.float64)  # the same draw as _tiny_problem
    assert problem.terms(content.flatten(1))["content"].abs().max() == 0
    assert problem.terms(theta)["content"].min() > 0


def test_feature_network_is_fixed_and_seeded():
    problem = _tiny_problem()
    before = [p.clone() for p in problem.features.parameters()]
    assert not any(p.requires_grad for p in problem.features.parameters())
    loss, grad = problem.loss_and_grad(problem.initial_params(), 0)
    loss.sum().backward()
    assert all(p.grad is None for p in problem.features.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, problem.features.parameters()))
    same, other = st.RandomFeatures((4, 6, 6), seed=1), st.RandomFeatures((4, 6, 6), seed=2)
    assert all(torch.equal(a, b.float()) for a, b in zip(same.parameters(), problem.features.parameters()))
    assert not torch.equal(same.convs[0].weight, other.convs[0].weight)


def test_feature_maps_are_multi_scale():
    maps = st.RandomFeatures((4, 6, 8))(torch.rand(1, 3, 16, 16))
    assert [tuple(m.shape[1:]) for m in maps] == [(4, 16, 16), (6, 8, 8), (8, 4, 4)]


def test_problem_rejects_theta0_of_the_wrong_shape():
    features = st.RandomFeatures((4,))
    with pytest.raises(ValueError, match="theta0 must have shape"):
        st.StyleTransferProblem(torch.rand(2, 3, 4, 4), torch.rand(3, 4, 4), features, torch.rand(2, 47))


def test_crops_tile_the_image():
    image = torch.arange(3 * 4 * 6, dtype=torch.float32).reshape(3, 4, 6)
    out = photos.crops(image, 2, 2)
    assert out.shape == (6, 3, 2, 2)
    torch.testing.assert_close(out[4], image[:, 2:4, 2:4])
    with pytest.raises(ValueError, match="size=5 exceeds"):
        photos.crops(image, 5)


def test_photographs_and_splits():
    camera = photos.load_photo("camera", downscale=4)
    assert camera.shape == (3, 128, 128) and 0 <= camera.min() and camera.max() <= 1
    torch.testing.assert_close(camera[0], camera[2])  # grey-level photograph, repeated
    splits = [set(v) for v in photos.CONTENT_SPLITS.values()]
    assert sum(map(len, splits)) == len(set().union(*splits))  # no photograph in two splits
    assert not set(photos.STYLES) & set().union(*splits)
    assert photos.style_image("ihc", 32).shape == (3, 32, 32)


def test_short_training_writes_weights_that_load_safely(tmp_path):
    config = {"size": 16, "steps": 4, "unroll": 2, "round_epochs": 1, "n_validation": 2,
              "train_steps": None}
    net, info = na.train_neural_art(2, config=config, checkpoint=tmp_path / "opt.pt", progress=False)
    assert info["epochs"] == [1, 2] and len(info["val_scores"]) == 2
    loaded, saved = l2l.load_pretrained(tmp_path / "opt.pt"), l2l.pretrained_record(tmp_path / "opt")
    assert saved["best_epoch"] == info["best_epoch"] and saved["config"]["size"] == 16
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_shipped_optimizers_load_and_their_records_repeat_with_the_command_line():
    from l2l.experiments.configs import NEURAL_ART_EPOCHS as SHIPPED_ART_EPOCHS

    net, info = l2l.load_pretrained("neural_art_lstm"), l2l.pretrained_record("neural_art_lstm")
    assert {k: info["config"][k] for k in NEURAL_ART} == NEURAL_ART
    command = f"python -m l2l.experiments.train neural_art --epochs {SHIPPED_ART_EPOCHS} --seed 0"
    assert info["command"] == command
    assert info["best_epoch"] == SHIPPED_ART_EPOCHS and net.output_scale == NEURAL_ART["output_scale"]
    short_info = l2l.pretrained_record("neural_art_lstm_h128")
    assert short_info["config"]["steps"] == 128 and short_info["config"].get("train_steps") is None
    assert "--train-steps 128" in short_info["command"]


def test_final_ratio_picks_the_best_baseline_and_counts_divergence_as_infinite():
    curves = {
        "LSTM": torch.tensor([[9.0, 9.0], [1.0, 2.0]]),
        "Adam": torch.tensor([[9.0, 9.0], [2.0, 2.0]]),
        "SGD": torch.tensor([[9.0, 9.0], [float("nan"), 0.1]]),
    }
    out = na.final_ratio(curves, "LSTM")
    assert out["best_baseline"] == "Adam"
    assert out["ratio"] == pytest.approx(0.75)
    torch.testing.assert_close(out["image_ratios"], torch.tensor([0.5, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="at least one baseline"):
        na.final_ratio({"LSTM": curves["LSTM"]}, "LSTM")


def test_baseline_tuning_extends_a_grid_whose_best_rate_is_at_its_edge():
    from l2l.tasks.problems import sample_quadratics

    problems = [sample_quadratics(batch=8, dim=5, generator=0)]
    tuned = na.tune_art_baselines(problems, 20, {"SGD": [1e-5, 3.16e-5]}, max_extensions=3)["SGD"]
    assert sorted(tuned.scores) == [1e-5, 3.16e-5, 1e-4, 3.16e-4, 1e-3]
    assert tuned.lr == 1e-3 and tuned.name == "SGD" and tuned.rule.lr == 1e-3


def test_resumed_training_matches_one_uninterrupted_run(tmp_path):
    config = {"size": 16, "steps": 4, "unroll": 2, "round_epochs": 1, "n_validation": 1,
              "meta_lr_schedule": [[1, 1e-3]], "train_steps": None}
    _, whole = na.train_neural_art(2, config=config, progress=False)
    na.train_neural_art(1, config=config, checkpoint=tmp_path / "opt.pt", progress=False)
    _, resumed = na.train_neural_art(2, config=config, resume=tmp_path / "opt.pt", progress=False)
    assert resumed["epochs"] == whole["epochs"] == [1, 2]
    assert resumed["val_scores"] == pytest.approx(whole["val_scores"], rel=1e-6)
    with pytest.raises(ValueError, match="resume .* or init .*, not both"):
        na.train_neural_art(2, config=config, resume=tmp_path / "opt.pt", init=tmp_path / "opt.pt",
                            progress=False)


def test_fine_tuning_starts_from_the_saved_weights_and_keeps_them_unless_beaten(tmp_path):
    config = {"size": 16, "steps": 4, "unroll": 2, "round_epochs": 1, "n_validation": 1, "train_steps": None}
    start, _ = na.train_neural_art(1, config=config, checkpoint=tmp_path / "start.pt", progress=False)
    frozen = {**config, "meta_lr": 1e-12, "batch": 2}  # a round that cannot change the weights
    net, info = na.train_neural_art(1, config=frozen, init=tmp_path / "start.pt", progress=False)
    assert info["epochs"] == [0, 1] and info["best_epoch"] == 0 and info["init"]["epochs"] == [1]
    assert "--init" in info["command"] and "--batch 2" in info["command"]
    for a, b in zip(net.state_dict().values(), start.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_train_steps_set_the_meta_training_horizon_and_validation_keeps_steps(monkeypatch):
    horizons = []

    def recording_meta_train(*args, **kwargs):
        horizons.append(kwargs["truncation"].steps)
        return meta_train(*args, **kwargs)

    monkeypatch.setattr(na, "meta_train", recording_meta_train)
    config = {"size": 16, "steps": 4, "unroll": 2, "round_epochs": 1, "n_validation": 1, "train_steps": 6}
    _, info = na.train_neural_art(2, config=config, progress=False)
    assert horizons == [6, 6] and "--train-steps 6" in info["command"]
    na.train_neural_art(1, config={**config, "train_steps": None}, progress=False)
    assert horizons[-1] == 4


def test_steps_ahead_and_steps_to_reach_on_hand_made_curves():
    learned = torch.tensor([[4.0, 4.0], [2.0, 2.0], [1.5, 1.5], [1.0, 1.2]])  # means 4, 2, 1.5, 1.1
    baseline = torch.tensor([[4.0], [3.0], [1.0], [1.0]])
    other = torch.tensor([[4.0], [2.5], [float("nan")], [2.0]])  # a diverged step counts as +inf
    curves = {"LSTM": learned, "Adam": baseline, "SGD": other}
    assert na.steps_ahead(curves, "LSTM") == [1]
    assert na.steps_to_reach(baseline, 2.0) == 2 and na.steps_to_reach(learned, 1.5) == 2
    assert na.steps_to_reach(baseline, 0.5) is None
    with pytest.raises(ValueError, match="at least one baseline"):
        na.steps_ahead({"LSTM": learned}, "LSTM")


def test_stacked_objective_equals_each_copy_on_its_own():
    problem = _tiny_problem(batch=2, size=8)
    theta = torch.rand(3, 2, 3 * 8 * 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    value, grad = problem.stacked_loss_and_grad(theta)
    assert value.shape == (3, 2) and grad.shape == theta.shape
    for copy in range(3):
        v, g = problem.loss_and_grad(theta[copy], 0)
        torch.testing.assert_close(value[copy], v.detach())
        torch.testing.assert_close(grad[copy], g)
    torch.testing.assert_close(problem.stacked_loss(theta), value)
    images = problem.as_images(theta[0] * 3 - 1)
    assert images.shape == (2, 3, 8, 8) and images.min() >= 0 and images.max() <= 1


def test_ratio_interval_brackets_the_ratio_of_means():
    gen = torch.Generator().manual_seed(0)
    baseline = 1 + torch.rand(40, generator=gen)
    learned = baseline * (0.9 + 0.02 * torch.randn(40, generator=gen))
    low, high = na.ratio_interval(learned, baseline)
    ratio = (learned.mean() / baseline.mean()).item()
    assert low < ratio < high and 0.85 < low and high < 0.95
    assert na.ratio_interval(baseline, baseline) == pytest.approx((1.0, 1.0))
    # more images, a narrower interval
    narrow = na.ratio_interval(learned.repeat(4), baseline.repeat(4))
    assert narrow[1] - narrow[0] < high - low
    with pytest.raises(ValueError, match="denominator"):
        na.ratio_interval(learned, baseline[:3])
    curves = {"LSTM": torch.stack([learned, learned]), "Adam": torch.stack([baseline, baseline])}
    result = na.final_ratio(curves, "LSTM")
    assert result["ratio_ci95"] == pytest.approx((low, high))


def test_art_problems_need_square_rgb_content():
    features, style = st.RandomFeatures(), torch.rand(3, 8, 8)
    square = r"content must be square images \(n, 3, size, size\), got \(2, 3, 8, 12\)"
    with pytest.raises(ValueError, match=square):
        st.art_problem(torch.rand(2, 3, 8, 12), style, features)
    with pytest.raises(ValueError, match=r"content must have shape \(\*, 3, \*, \*\)"):
        st.art_problem(torch.rand(2, 8, 8), style, features)
