"""Figures of probe results (matplotlib, Agg canvas: no display and no global backend change).

* :func:`plot_bars`: one bar per factor (grouped by model), error bars = sem over seeds, the chance level
  (or the permutation-null mean) as a dashed segment over each factor, ``*`` above significant bars;
  the style of the paper's Figure 3.
* :func:`plot_heatmap`: layer x factor score grid, one panel per model, when several layers were probed.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..probes.results import ProbeResults

# per factor, the first of these metrics that was measured is the one plotted
HEADLINE = ("balanced_accuracy", "accuracy", "r2", "pearson_r", "roc_auc")
LABEL = {"balanced_accuracy": "balanced acc.", "accuracy": "accuracy", "r2": "R²", "pearson_r": "Pearson r",
         "roc_auc": "ROC-AUC"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def _lines(results: ProbeResults | Sequence[dict], split: str) -> list[dict]:
    lines = results.summary() if isinstance(results, ProbeResults) else list(results)
    return [ln for ln in lines if ln.get("split") == split and np.isfinite(ln.get("mean", np.nan))]


def headline(lines: Sequence[dict]) -> dict[str, str]:
    """``{factor: metric}``: the metric plotted for each factor (first of :data:`HEADLINE` present)."""
    have: dict[str, set] = {}
    for ln in lines:
        have.setdefault(ln["factor"], set()).add(ln["metric"])
    return {f: next((m for m in HEADLINE if m in ms), sorted(ms)[0]) for f, ms in have.items()}


def _model(line: dict) -> str:
    """The model as shown: its name, made unique by a short fingerprint when needed (see summarize)."""
    return str(line.get("label") or line.get("model"))


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def _last_layer(lines: Sequence[dict]) -> dict[str, str]:
    """``{model: its last probed layer}`` (the deepest, in store order)."""
    out: dict[str, str] = {}
    for ln in lines:
        out[_model(ln)] = ln["layer"]
    return out


def plot_bars(results, path: str | os.PathLike, *, split: str = "test", layer: str | None = None,
              title: str | None = None) -> Path:
    """Bar chart per factor (one bar per model) with sem error bars, chance segments and significance.

    ``layer`` selects the layer (default: each model's last probed layer).
    """
    lines = _lines(results, split)
    pick = _last_layer(lines) if layer is None else None
    lines = [ln for ln in lines if (ln["layer"] == layer if layer else ln["layer"] == pick[_model(ln)])]
    metric_of = headline(lines)
    lines = [ln for ln in lines if ln["metric"] == metric_of[ln["factor"]]]
    factors, models = _ordered(ln["factor"] for ln in lines), _ordered(_model(ln) for ln in lines)
    by = {(_model(ln), ln["factor"]): ln for ln in lines}
    fig = _figure(max(4.0, 0.55 * len(factors) * max(1, len(models)) ** 0.5 + 2), 4.0)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(models))
    x = np.arange(len(factors))
    lo, hi = 0.0, 1.0
    for j, model in enumerate(models):
        means = np.array([by.get((model, f), {}).get("mean", np.nan) for f in factors])
        sems = np.nan_to_num(np.array([by.get((model, f), {}).get("sem", np.nan) for f in factors]))
        pos = x - 0.4 + width * (j + 0.5)
        ax.bar(pos, means, width * 0.9, yerr=sems, capsize=2, label=model, color=f"C{j}")
        for p, f, m, s in zip(pos, factors, means, sems):
            if by.get((model, f), {}).get("significant"):
                ax.text(p, m + s + 0.01, "*", ha="center", va="bottom", fontsize=9)
        lo, hi = min(lo, np.nanmin(means - sems) - 0.05), max(hi, np.nanmax(means + sems) + 0.08)
    for i, f in enumerate(factors):  # chance per factor: the null mean when permutations ran
        refs = [by[(m, f)] for m in models if (m, f) in by]
        level = np.nanmean([r.get("null_mean", r.get("chance", np.nan)) for r in refs])
        if np.isfinite(level):
            ax.hlines(level, i - 0.45, i + 0.45, colors="k", linestyles="--", linewidth=1)
    ax.set_xticks(x, [f"{f}\n({LABEL.get(metric_of[f], metric_of[f])})" for f in factors],
                  rotation=45 if len(factors) > 6 else 0, ha="right" if len(factors) > 6 else "center", fontsize=8)
    ax.set_ylim(lo, hi)
    ax.set_ylabel(f"{split} score (mean ± sem over seeds)")
    layers = sorted({ln["layer"] for ln in lines})
    ax.set_title(title or f"linear decoding, layer {', '.join(layers)}  (dashed: chance, *: significant)",
                 fontsize=9)
    if len(models) > 1:
        ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_heatmap(results, path: str | os.PathLike, *, split: str = "test") -> Path:
    """Layer x factor heat map of the headline metric, one panel per model."""
    lines = _lines(results, split)
    metric_of = headline(lines)
    lines = [ln for ln in lines if ln["metric"] == metric_of[ln["factor"]]]
    models, factors = _ordered(_model(ln) for ln in lines), _ordered(ln["factor"] for ln in lines)
    fig = _figure(max(4.0, 0.7 * len(factors) + 2) * len(models), 0.45 * max(len(_ordered(
        ln["layer"] for ln in lines)), 2) + 2)
    for k, model in enumerate(models):
        mine = [ln for ln in lines if _model(ln) == model]
        layers = _ordered(ln["layer"] for ln in mine)
        grid = np.full((len(layers), len(factors)), np.nan)
        for ln in mine:
            grid[layers.index(ln["layer"]), factors.index(ln["factor"])] = ln["mean"]
        ax = fig.add_subplot(1, len(models), k + 1)
        im = ax.imshow(grid, vmin=min(0.0, np.nanmin(grid)), vmax=1.0, cmap="viridis", aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w" if v < 0.6 else "k")
        ax.set_xticks(range(len(factors)), [f"{f}\n({LABEL.get(metric_of[f], metric_of[f])})" for f in factors],
                      rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(layers)), layers, fontsize=7)
        ax.set_title(model, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_results(results, out_dir: str | os.PathLike, *, split: str = "test") -> list[Path]:
    """``bars.png`` always, ``heatmap.png`` too when some model has several probed layers."""
    out_dir = Path(out_dir)
    lines = _lines(results, split)
    if not lines:
        return []
    paths = [plot_bars(lines, out_dir / "bars.png", split=split)]
    per_model: dict[str, set] = {}
    for ln in lines:
        per_model.setdefault(_model(ln), set()).add(ln["layer"])
    if any(len(v) > 1 for v in per_model.values()):
        paths.append(plot_heatmap(lines, out_dir / "heatmap.png", split=split))
    return paths
