"""The lecture's diagrams (book/figures/lecture_figures.py): each draws, without a display, an SVG
that holds its labels, and the book's Sphinx hook writes them where the chapters include them."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "figures"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import lecture_figures  # noqa: E402
from l2l_sphinx import draw_lecture_figures  # noqa: E402

# Labels each figure must show: the source strings matplotlib keeps beside the glyphs it draws.
EXPECTED = {
    "two_loops": [
        "outer loop",
        "inner loop on $T_1$",
        "$\\theta_1 = F_\\phi(D_1^{train})$",
        "meta-test",
    ],
    "meta_loss_graph": [
        "$L(\\phi) = w_1 f(\\theta_1)",
        "$\\nabla_0$",
        "$m$",
        "$h_0$",
        "$g_0$",
        "$\\partial\\nabla_t / \\partial\\phi = 0$",
        "φ: the same weights in every step",
    ],
    "coordinatewise_lstm": [
        "weights φ",
        "$h_t^{(1)}$",
        "$h_t^{(n)}$",
        "each coordinate keeps its own hidden state",
        "$\\nabla_t^{(n)}$",
        "LSTM $m(\\cdot;\\phi)$",
    ],
    "maml_diagram": [
        "$\\theta^*_1$",
        "$\\theta^*_2$",
        "$\\theta^*_3$",
        "$-\\alpha\\nabla L_1(\\theta)$",
        "$-\\alpha\\nabla L_3(\\theta)$",
        "meta-learning",
        "θ",
    ],
    "reptile_manifolds": ["$W^*_1$", "$W^*_2$", "φ (Reptile)", "start"],
}


def _labels(svg: str) -> list[str]:
    return [label.strip() for label in re.findall(r"<!-- (.*?) -->", svg, re.DOTALL)]


def test_every_figure_is_listed_and_checked():
    assert set(lecture_figures.FIGURES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_figure_draws_an_svg_with_its_labels(name):
    svg = lecture_figures.to_svg(lecture_figures.FIGURES[name])
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert svg.count("<path") > 10, "the figure draws shapes"
    labels = " | ".join(_labels(svg))
    missing = [text for text in EXPECTED[name] if text not in labels]
    assert not missing, f"{name}: labels {missing} not in the SVG (found: {labels})"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_figure_is_deterministic(name):
    draw = lecture_figures.FIGURES[name]
    assert lecture_figures.to_svg(draw) == lecture_figures.to_svg(draw)


def test_maml_diagram_places_theta_at_the_maml_optimum():
    """The drawn θ makes the MAML loss stationary, and one inner step lands near every θ*_i."""
    alpha = 1.0
    centres, hessians, theta = lecture_figures.maml_toy_tasks(alpha)

    def maml_loss(point):
        adapted = [point - alpha * h @ (point - c) for c, h in zip(centres, hessians)]
        return sum(0.5 * (a - c) @ h @ (a - c) for a, c, h in zip(adapted, centres, hessians))

    step = 1e-5
    gradient = [(maml_loss(theta + step * e) - maml_loss(theta - step * e)) / (2 * step) for e in np.eye(2)]
    assert np.allclose(gradient, 0.0, atol=1e-7)
    for centre, hessian in zip(centres, hessians):
        adapted = theta - alpha * hessian @ (theta - centre)
        assert np.linalg.norm(adapted - centre) < 0.4 * np.linalg.norm(theta - centre)


def test_sphinx_hook_writes_every_svg():
    paths = draw_lecture_figures()
    assert {p.stem for p in paths} == set(EXPECTED)
    assert all(p.parent == lecture_figures.GENERATED and p.stat().st_size > 1000 for p in paths)
    chapters = " ".join(p.read_text(encoding="utf8") for p in (ROOT / "book").glob("*.md"))
    for name in EXPECTED:
        assert f"figures/generated/{name}.svg" in chapters, f"no chapter includes {name}.svg"
