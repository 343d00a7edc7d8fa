"""The lecture's diagrams, drawn with matplotlib for the prose chapters.

Each public function draws one figure and returns a :class:`matplotlib.figure.Figure`; nothing here
opens a window or touches pyplot's global state, so it runs without a display. The book's Sphinx
extension (``book/_ext/l2l_sphinx.py``) calls :func:`write_svgs` when a build starts, which writes
one SVG per figure into ``book/figures/generated/`` (a generated folder, ignored by git); the
chapters include them with MyST ``{figure}`` directives.

Text is drawn as paths, so a figure looks the same in every browser whatever fonts it has; the SVG
keeps each label's source string in a comment next to its glyphs.

    python book/figures/lecture_figures.py OUTDIR    # write the SVGs (and PNG copies) by hand
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse, FancyArrowPatch, FancyBboxPatch

GENERATED = Path(__file__).resolve().parent / "generated"

# One palette for all diagrams: optimizee/task side, optimizer/meta side, losses, cut edges.
BLUE = "#2b6cb0"
ORANGE = "#c05621"
GREEN = "#2f855a"
RED = "#c53030"
GREY = "#4a5568"
LIGHT = {BLUE: "#ebf4ff", ORANGE: "#fffaf0", GREEN: "#f0fff4", GREY: "#f7fafc", RED: "#fff5f5"}

# Deterministic SVG: fixed ids, no date, text as paths.
_RC = {
    "svg.fonttype": "path",
    "svg.hashsalt": "l2l-book",
    "font.size": 11,
    "mathtext.fontset": "dejavusans",
}


# --- shared drawing helpers -------------------------------------------------------------------


def _canvas(width: float, xlim: tuple, ylim: tuple):
    """A figure ``width`` inches wide showing ``xlim`` x ``ylim`` at equal aspect, axes hidden."""
    height = width * (ylim[1] - ylim[0]) / (xlim[1] - xlim[0])
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return fig, ax


def _box(ax, xy, text, *, width, height, color=GREY, fontsize=11, weight="normal"):
    """A rounded box centred at ``xy`` with ``text`` in it; returns the box's (x0, y0, x1, y1)."""
    x, y = xy
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=LIGHT.get(color, "white"),
            edgecolor=color,
            linewidth=1.8,
            zorder=2,
        )
    )
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, weight=weight, zorder=3)
    return (x - width / 2, y - height / 2, x + width / 2, y + height / 2)


def _node(ax, xy, text, *, radius=0.32, color=BLUE, fontsize=12):
    """A circle centred at ``xy`` holding ``text`` (a variable of the graph)."""
    ax.add_patch(Circle(xy, radius, facecolor=LIGHT.get(color, "white"), edgecolor=color, lw=1.8, zorder=2))
    ax.text(*xy, text, ha="center", va="center", fontsize=fontsize, zorder=3)


def _arrow(ax, start, end, *, color=GREY, dashed=False, rad=0.0, lw=1.8, shrink=0.0, head=16):
    """An arrow from ``start`` to ``end``; ``dashed`` for edges that gradients do not pass."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=head,
            color=color,
            lw=lw,
            linestyle=(0, (4, 3)) if dashed else "-",
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=shrink,
            shrinkB=shrink,
            zorder=1,
        )
    )


def _line(ax, xs, ys, *, color=GREY, lw=1.4, dashed=False, dotted=False, zorder=1, **kw):
    """A polyline (no arrow head)."""
    style = ":" if dotted else ((0, (4, 3)) if dashed else "-")
    ax.plot(xs, ys, color=color, lw=lw, linestyle=style, zorder=zorder, **kw)


def _cross(ax, xy, *, size=0.13, color=RED):
    """An x mark at ``xy``: this edge is cut."""
    x, y = xy
    for sign in (1, -1):
        ax.plot([x - size, x + size], [y - sign * size, y + sign * size], color=color, lw=2.2, zorder=4)


def _label(ax, xy, text, *, color="black", fontsize=11, **kw):
    """Free text at ``xy`` (centred unless ``ha``/``va`` say otherwise)."""
    kw.setdefault("ha", "center")
    kw.setdefault("va", "center")
    ax.text(*xy, text, color=color, fontsize=fontsize, zorder=5, **kw)


def _ellipses(ax, centre, hessian, levels, color):
    """Level sets ½ (x - c)ᵀ H (x - c) = level of a quadratic, as faint ellipses."""
    eigenvalues, eigenvectors = np.linalg.eigh(hessian)
    angle = np.degrees(np.arctan2(eigenvectors[1, 0], eigenvectors[0, 0]))
    for level in levels:
        width, height = 2 * np.sqrt(2 * level / eigenvalues)
        ax.add_patch(
            Ellipse(centre, width, height, angle=angle, fill=False, ec=color, lw=0.9, alpha=0.45, zorder=0)
        )


# --- the figures ------------------------------------------------------------------------------


def two_loops() -> Figure:
    """Meta-learning's two loops: an inner loop learns each task, an outer loop improves the learner.

    The meta-learner holds the meta-parameters φ; for each training task the learner F_φ turns the
    task's training set into a model, the model is scored on the task's test set, and the losses
    of all tasks come back to update φ. A new task at meta-test time runs the inner loop only.
    """
    fig, ax = _canvas(11.2, (-0.1, 11.1), (-0.8, 4.2))
    _box(
        ax,
        (4.35, 3.6),
        "outer loop: update φ from the test losses of all tasks",
        width=8.7,
        height=0.7,
        color=ORANGE,
        fontsize=16,
    )
    for x, i in [(1.05, "1"), (3.75, "2"), (7.0, "N")]:
        _box(
            ax,
            (x, 2.0),
            f"inner loop on $T_{i}$:\n$\\theta_{i} = F_\\phi(D_{i}^{{train}})$",
            width=2.0,
            height=1.0,
            color=BLUE,
            fontsize=15,
        )
        _box(
            ax,
            (x, 0.5),
            f"test on $D_{i}^{{test}}$:\nloss $L_{i}$",
            width=2.0,
            height=0.9,
            color=GREEN,
            fontsize=15,
        )
        _arrow(ax, (x - 0.4, 3.22), (x - 0.4, 2.53), color=ORANGE)
        _label(ax, (x - 0.62, 2.87), "φ", color=ORANGE, fontsize=16)
        _arrow(ax, (x, 1.48), (x, 0.97), color=BLUE)
        _label(ax, (x + 0.3, 1.23), f"$\\theta_{i}$", fontsize=15)
        _arrow(ax, (x + 1.02, 0.5), (x + 0.6, 3.22), color=GREEN, rad=0.3)
        _label(ax, (x + 1.55, 1.95), f"$L_{i}$", color=GREEN, fontsize=15)
    _label(ax, (5.55, 1.3), "⋯", fontsize=30)
    # meta-test: a new task uses the learner with φ fixed
    _line(ax, [8.95, 8.95], [-0.7, 4.1], color=GREY, dashed=True, lw=1.2)
    _label(ax, (10.0, 3.6), "meta-test", color=GREY, fontsize=16, weight="bold")
    _box(
        ax,
        (10.0, 2.0),
        "new task:\n$F_{\\phi^*}(D_{N+1}^{train})$\nφ* fixed",
        width=1.95,
        height=1.5,
        color=BLUE,
        fontsize=15,
    )
    _label(
        ax,
        (4.35, -0.5),
        "each training example is a whole task $(D_i^{train}, D_i^{test})$",
        color=GREY,
        fontsize=15,
    )
    return fig


def meta_loss_graph(steps: int = 3) -> Figure:
    """The computational graph of the learned optimizer's meta-loss over ``steps`` unrolled steps.

    Each step evaluates the optimizee f at θ_t; its gradient ∇_t goes into the optimizer m (one
    network, weights φ, hidden state h_t carried along), whose output g_t updates θ_t. The values
    f(θ_t), weighted by w_t, add up to L(φ). The edges θ_t → ∇_t are dashed and crossed: the paper
    treats the gradient as an input, ∂∇_t/∂φ = 0, so no derivative flows back along them.
    """
    spacing = 3.1
    fig, ax = _canvas(10.0, (-1.3, spacing * steps + 0.9), (-2.1, 5.25))
    terms = " + ".join(f"w_{t} f(\\theta_{t})" for t in range(1, steps + 1))
    _box(
        ax,
        (spacing * (1 + steps) / 2, 4.72),
        f"$L(\\phi) = {terms}$",
        width=spacing * (steps - 1) + 1.5,
        height=0.75,
        color=GREEN,
        fontsize=18,
    )
    for t in range(steps + 1):
        x = spacing * t
        _node(ax, (x, 2.3), f"$\\theta_{t}$", radius=0.4, color=BLUE, fontsize=17)
        if t >= 1:  # f(θ_t) enters the meta-loss with weight w_t
            _box(ax, (x, 3.45), f"$f(\\theta_{t})$", width=1.3, height=0.6, color=BLUE, fontsize=16)
            _arrow(ax, (x, 2.7), (x, 3.15), color=BLUE)
            _arrow(ax, (x, 3.75), (x, 4.33), color=GREEN)
            _label(ax, (x + 0.4, 4.04), f"$w_{t}$", color=GREEN, fontsize=16)
        if t == steps:
            break
        grad, opt, plus = (x + 0.8, 1.15), (x + 1.55, 0.0), (x + 1.55, 2.3)
        _node(ax, grad, f"$\\nabla_{t}$", radius=0.36, color=GREY, fontsize=15)
        _arrow(ax, (x + 0.23, 1.97), (x + 0.6, 1.44), color=RED, dashed=True)
        _cross(ax, (x + 0.41, 1.71), size=0.15)
        _arrow(ax, (x + 1.0, 0.85), (x + 1.2, 0.37), color=GREY)
        _box(ax, opt, "$m$", width=1.0, height=0.7, color=ORANGE, fontsize=18)
        _node(ax, plus, "+", radius=0.26, color=GREY, fontsize=16)
        _arrow(ax, (x + 0.4, 2.3), (plus[0] - 0.26, 2.3), color=BLUE)
        _arrow(ax, (plus[0] + 0.26, 2.3), (spacing * (t + 1) - 0.4, 2.3), color=BLUE)
        _arrow(ax, (opt[0], 0.35), (plus[0], 2.04), color=ORANGE)
        _label(ax, (opt[0] + 0.32, 1.2), f"$g_{t}$", color=ORANGE, fontsize=16)
        # hidden state into and out of m
        _arrow(ax, (opt[0] - spacing + 0.5 if t else -1.1, 0.0), (opt[0] - 0.5, 0.0), color=ORANGE)
        _label(ax, (opt[0] - 1.05, 0.3), f"$h_{t}$", color=ORANGE, fontsize=16)
        # the shared weights φ feed every copy of m
        _line(ax, [opt[0], opt[0]], [-0.35, -1.0], color=ORANGE, dotted=True, lw=1.8)
    last = spacing * (steps - 1) + 1.55
    _arrow(ax, (last + 0.5, 0.0), (last + 1.25, 0.0), color=ORANGE)
    _label(ax, (last + 1.0, 0.3), f"$h_{steps}$", color=ORANGE, fontsize=16)
    _line(ax, [1.55, last], [-1.0, -1.0], color=ORANGE, dotted=True, lw=1.8)
    _label(ax, ((1.55 + last) / 2, -1.32), "φ: the same weights in every step", color=ORANGE, fontsize=15)
    _line(ax, [-1.1, -0.6], [-1.82, -1.82], color=GREY, lw=1.8)
    _label(ax, (-0.45, -1.82), "solid: gradients of L flow back", ha="left", fontsize=14)
    _line(ax, [4.6, 5.1], [-1.82, -1.82], color=RED, dashed=True, lw=1.8)
    _cross(ax, (4.85, -1.82), size=0.11)
    _label(
        ax,
        (5.25, -1.82),
        "not differentiated: $\\partial\\nabla_t / \\partial\\phi = 0$",
        ha="left",
        fontsize=14,
    )
    return fig


def coordinatewise_lstm(shown: int = 3) -> Figure:
    """The coordinatewise LSTM optimizer: one network m(·; φ) for every coordinate θ^(i).

    Coordinate i feeds its own (preprocessed) gradient ∇_t^(i) to the same two-layer LSTM and gets
    back its own update g_t^(i); the weights φ are shared by all coordinates, while each coordinate
    carries its own hidden state h_t^(i) from step to step. ``shown`` coordinates are drawn, the
    last one being the n-th.
    """
    gap = 2.75
    xs = [gap * i for i in range(shown - 1)] + [gap * shown]
    names = [str(i + 1) for i in range(shown - 1)] + ["n"]
    fig, ax = _canvas(10.0, (-3.0, xs[-1] + 1.8), (-1.25, 5.2))
    # the shared network: one band under every copy of the LSTM
    band = FancyBboxPatch(
        (-2.9, 0.95),
        xs[-1] + 4.55,
        1.4,
        boxstyle="round,pad=0.02,rounding_size=0.2",
        facecolor=LIGHT[ORANGE],
        edgecolor=ORANGE,
        lw=1.5,
        linestyle=(0, (4, 3)),
        zorder=0,
    )
    ax.add_patch(band)
    _label(ax, (-2.05, 1.65), "shared\nweights φ", color=ORANGE, fontsize=15, weight="bold")
    for x, i in zip(xs, names):
        _label(ax, (x, -0.95), f"coordinate $\\theta^{{({i})}}$", color=BLUE, fontsize=15)
        _label(ax, (x, -0.3), f"$\\nabla_t^{{({i})}}$", fontsize=16)
        _arrow(ax, (x, -0.02), (x, 1.13), color=GREY)
        _label(ax, (x + 0.12, 0.55), "preprocess", fontsize=12, color=GREY, ha="left")
        _box(
            ax,
            (x, 1.65),
            "LSTM $m(\\cdot;\\phi)$\n(2 layers)",
            width=2.0,
            height=0.95,
            color=ORANGE,
            fontsize=14,
        )
        _box(ax, (x, 3.1), f"$h_t^{{({i})}}$", width=1.1, height=0.55, color=GREY, fontsize=15)
        _arrow(ax, (x - 0.3, 2.13), (x - 0.3, 2.83), color=GREY, head=13)
        _arrow(ax, (x + 0.3, 2.83), (x + 0.3, 2.13), color=GREY, head=13)
        _arrow(ax, (x + 1.0, 1.65), (x + 1.1, 3.95), color=BLUE, rad=0.3)
        _label(ax, (x + 1.52, 3.0), f"$g_t^{{({i})}}$", color=BLUE, fontsize=15)
        _label(
            ax,
            (x + 0.4, 4.3),
            f"$\\theta_{{t+1}}^{{({i})}} = \\theta_t^{{({i})}} + g_t^{{({i})}}$",
            color=BLUE,
            fontsize=14,
        )
    _label(ax, ((xs[-2] + xs[-1]) / 2 + 0.1, 1.65), "⋯", fontsize=30)
    _label(
        ax,
        ((xs[0] + xs[-1]) / 2 - 0.4, 4.95),
        "one network for all coordinates; each coordinate keeps its own hidden state",
        fontsize=15,
        color=GREY,
    )
    return fig


def maml_toy_tasks(alpha: float = 1.0):
    """The three quadratic tasks of :func:`maml_diagram`: their optima θ*_i, Hessians H_i, and
    the MAML optimum θ = (Σ A_i)⁻¹ Σ A_i θ*_i, A_i = (I − αH_i) H_i (I − αH_i)."""
    centres = [np.array([-2.2, 1.2]), np.array([2.3, 1.5]), np.array([0.6, -2.0])]
    hessians = []
    for angle, (a, b) in zip((0.4, -0.5, 1.3), ((0.8, 0.68), (0.85, 0.72), (0.8, 0.66))):
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        hessians.append(rotation @ np.diag([a, b]) @ rotation.T / alpha)
    eye = np.eye(2)
    curvatures = [(eye - alpha * h) @ h @ (eye - alpha * h) for h in hessians]
    theta = np.linalg.solve(sum(curvatures), sum(a @ c for a, c in zip(curvatures, centres)))
    return centres, hessians, theta


def maml_diagram(alpha: float = 1.0) -> Figure:
    """MAML's diagram: θ placed so that one gradient step reaches (close to) each task's optimum θ*_i.

    Three quadratic tasks L_i(θ) = ½ (θ − θ*_i)ᵀ H_i (θ − θ*_i) (faint level sets) with inner step
    size ``alpha``. θ is the exact MAML optimum of these tasks, (Σ A_i)⁻¹ Σ A_i θ*_i with
    A_i = (I − αH_i) H_i (I − αH_i); the thick curve is gradient descent on the MAML objective
    reaching it; from θ one inner step −α∇L_i(θ) lands at θ'_i next to each θ*_i.
    """
    centres, hessians, theta = maml_toy_tasks(alpha)
    eye = np.eye(2)
    curvatures = [(eye - alpha * h) @ h @ (eye - alpha * h) for h in hessians]
    fig, ax = _canvas(7.6, (-4.3, 4.3), (-3.6, 3.3))
    colours = (BLUE, GREEN, RED)
    # meta-learning: gradient descent on Σ_i ½ (θ − θ*_i)ᵀ A_i (θ − θ*_i) from a far start
    path = [np.array([-3.6, -3.0])]
    for _ in range(60):
        path.append(path[-1] - 2.5 * sum(a @ (path[-1] - c) for a, c in zip(curvatures, centres)))
    path = np.array(path)
    _line(ax, path[:, 0], path[:, 1], color="black", lw=3.0, zorder=2)
    direction = theta - path[0]
    angle = np.degrees(np.arctan2(direction[1], direction[0]))
    _label(
        ax, path[0] + 0.3 * direction + np.array([-0.3, 0.3]), "meta-learning", fontsize=14, rotation=angle
    )
    ax.plot(*theta, "o", color="black", ms=8, zorder=4)
    _label(ax, (theta[0] - 0.45, theta[1] + 0.05), "θ", fontsize=20, weight="bold")
    for i, (centre, hessian, colour) in enumerate(zip(centres, hessians, colours), start=1):
        _ellipses(ax, centre, hessian, (0.08, 0.4, 1.0), colour)
        adapted = theta - alpha * hessian @ (theta - centre)
        _arrow(ax, theta, adapted, color=colour, lw=1.8, shrink=4)
        _line(ax, [adapted[0], centre[0]], [adapted[1], centre[1]], color=colour, dotted=True, lw=1.6)
        ax.plot(*centre, "*", color=colour, ms=13, zorder=4)
        _label(ax, centre + np.array([0.45, 0.4]), f"$\\theta^*_{i}$", color=colour, fontsize=18)
        middle = (theta + adapted) / 2
        normal = np.array([-(adapted - theta)[1], (adapted - theta)[0]])
        normal = normal / np.linalg.norm(normal)
        _label(ax, middle + 0.42 * normal, f"$-\\alpha\\nabla L_{i}(\\theta)$", color=colour, fontsize=14)
    _label(
        ax, (0.0, -3.35), "arrows: one inner step from θ; dotted: what is left to θ*", fontsize=13, color=GREY
    )
    return fig


def reptile_manifolds(iterations: int = 24) -> Figure:
    """Reptile's picture: two task manifolds W*_1 and W*_2, and the iterate ending close to both.

    Task τ's loss is half the squared distance to its optimal set W*_τ (a circle for task 1, a line
    for task 2). Each Reptile iteration takes k = 5 SGD steps on one task (alternating) and moves
    φ a fraction ε = 0.5 of the way to where they ended; ``iterations`` of them are drawn. The
    iterates settle near the point that minimises the sum of squared distances to the two sets.
    """
    radius, normal, offset = 1.7, np.array([0.35, 1.0]) / np.hypot(0.35, 1.0), 2.6

    def project(point, task):
        if task == 0:
            return radius * point / np.linalg.norm(point)
        return point - (point @ normal - offset) * normal

    fig, ax = _canvas(7.4, (-3.9, 3.6), (-2.3, 3.6))
    angles = np.linspace(-0.2, np.pi + 0.5, 200)
    _line(ax, radius * np.cos(angles), radius * np.sin(angles), color=BLUE, lw=2.4)
    _label(ax, (-2.35, -0.85), "$W^*_1$", color=BLUE, fontsize=19)
    line_x = np.linspace(-3.7, 3.4, 2)
    _line(ax, line_x, (offset - normal[0] * line_x) / normal[1], color=GREEN, lw=2.4)
    _label(ax, (2.85, 2.25), "$W^*_2$", color=GREEN, fontsize=19)
    phi, path = np.array([2.4, -1.7]), []
    alpha, inner_steps, epsilon = 0.3, 5, 0.5
    for iteration in range(iterations):
        path.append(phi)
        task = iteration % 2
        w = phi.copy()
        for _ in range(inner_steps):  # SGD on ½ dist(w, W*_τ)², gradient w − proj(w)
            w = w - alpha * (w - project(w, task))
        phi = phi + epsilon * (w - phi)
    path = np.array(path + [phi])
    _line(ax, path[:, 0], path[:, 1], color=ORANGE, lw=1.5, marker="o", ms=4.5, zorder=3)
    _label(ax, (path[0, 0] + 0.15, path[0, 1] - 0.02), "start", color=ORANGE, ha="left", fontsize=14)
    for task, colour in ((0, BLUE), (1, GREEN)):
        foot = project(phi, task)
        _line(ax, [phi[0], foot[0]], [phi[1], foot[1]], color=colour, dotted=True, lw=1.6)
    ax.plot(*phi, "o", color=ORANGE, ms=9, zorder=4)
    _label(ax, (-0.75, 2.3), "φ (Reptile)", color=ORANGE, fontsize=15)
    _arrow(ax, (0.05, 2.25), phi + np.array([-0.12, 0.02]), color=ORANGE, lw=1.2, head=10)
    _label(
        ax,
        (-0.1, -2.05),
        "each iteration: k SGD steps on one task, then φ ← φ + ε(W − φ)",
        fontsize=13,
        color=GREY,
    )
    return fig


FIGURES = {
    "two_loops": two_loops,
    "meta_loss_graph": meta_loss_graph,
    "coordinatewise_lstm": coordinatewise_lstm,
    "maml_diagram": maml_diagram,
    "reptile_manifolds": reptile_manifolds,
}


# --- output -----------------------------------------------------------------------------------


def to_svg(draw) -> str:
    """The SVG text of the figure that ``draw()`` returns, drawn under the book's settings."""
    with mpl.rc_context(_RC):
        fig = draw()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def to_png(draw, path: Path, dpi: int = 110) -> None:
    """A PNG copy of the figure, for looking at it outside a browser."""
    with mpl.rc_context(_RC):
        draw().savefig(path, format="png", dpi=dpi)


def write_svgs(folder: Path = GENERATED) -> list[Path]:
    """Write ``<name>.svg`` for every figure into ``folder``; files already up to date are left alone.

    Leaving unchanged files untouched keeps Sphinx from re-reading the pages that include them.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in FIGURES.items():
        path = folder / f"{name}.svg"
        svg = to_svg(draw)
        if not path.is_file() or path.read_text(encoding="utf8") != svg:
            path.write_text(svg, encoding="utf8")
        written.append(path)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else GENERATED
    for svg_path in write_svgs(out):
        to_png(FIGURES[svg_path.stem], svg_path.with_suffix(".png"))
        print(svg_path)
