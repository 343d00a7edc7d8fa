"""One plot style for the whole book, the loss-curve plot every optimizer chapter uses, and the
image grid of the Neural Art chapter."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns
import torch


def use_style() -> None:
    """The book's matplotlib style: seaborn's ``whitegrid`` with a readable font size."""
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "legend.frameon": True})


def loss_curves(
    ax,
    curves: dict[str, torch.Tensor],
    *,
    spread: tuple[float, float] = (25.0, 75.0),
    log: bool = True,
    xlabel: str = "optimizee step $t$",
    ylabel: str = "loss $f(\\theta_t)$",
):
    """Plot the mean loss per step with a shaded percentile band, one line per optimizer.

    ``curves`` maps a legend label (name the optimizer and its tuned learning rate) to a tensor
    of shape ``(steps + 1, n_functions)``: the loss of every held-out function at every step.
    The band spans the ``spread`` percentiles across functions.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        curves: legend label -> losses ``(steps + 1, n_functions)``, a tensor or anything
            ``torch.as_tensor`` takes; plotted in the dict's order.
        spread: the lower and upper percentiles of the band, in ``[0, 100]`` (default: the
            interquartile range).
        log: a logarithmic y axis.
        xlabel, ylabel: the axis labels.

    Returns:
        ``ax``, with one line and band per curve and a legend.

    Raises:
        ValueError: a curve that is not 2-dimensional.
    """
    for label, losses in curves.items():
        losses = torch.as_tensor(losses, dtype=torch.float64).cpu()
        if losses.dim() != 2:
            raise ValueError(f"curve {label!r} must be (steps + 1, functions), got {tuple(losses.shape)}")
        steps = torch.arange(losses.shape[0])
        low, high = torch.quantile(losses, torch.tensor(spread, dtype=losses.dtype) / 100, dim=1)
        (line,) = ax.plot(steps, losses.mean(dim=1), label=label, lw=1.8)
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.18, lw=0)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    return ax


def image_grid(rows: dict[str, tuple], *, size: float = 1.6):
    """A figure of images, one row per entry: ``rows`` maps a row title to ``(images, captions)``,
    ``images`` of shape ``(n, 3, H, W)`` (or a list of ``(3, H, W)``) with one caption each."""
    if not rows:
        raise ValueError("image_grid needs at least one row")
    for title, (images, captions) in rows.items():
        if len(images) != len(captions):
            raise ValueError(f"row {title!r} has {len(images)} images but {len(captions)} captions")
    n_cols = max(len(images) for images, _ in rows.values())
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(size * n_cols, size * len(rows) + 0.4),
                             squeeze=False)
    for ax_row, (title, (images, columns)) in zip(axes, rows.items()):
        for ax, image, column in zip(ax_row, images, columns):
            ax.imshow(image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy())
            ax.set_title(column, fontsize="x-small")
        ax_row[0].set_ylabel(title, fontsize="x-small")
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        for ax in ax_row[len(images):]:
            ax.axis("off")
    fig.tight_layout()
    return fig
