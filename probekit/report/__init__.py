"""Reports of probe results: joined tables, JSON/CSV files and figures."""
from __future__ import annotations

import os
from pathlib import Path

from ..probes.results import ProbeResults
from .join import join_results
from .plots import headline, plot_bars, plot_heatmap, plot_results


def write_report(results: ProbeResults, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv``, ``table.txt`` and the figures into ``out_dir``.

    Returns ``{"json": path, "csv": path, "table": path, "figures": [paths]}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / "table.txt"
    table.write_text(results.format_table() + "\n")
    return {"json": results.to_json(out_dir / "results.json"), "csv": results.to_csv(out_dir / "results.csv"),
            "table": table, "figures": plot_results(results, out_dir)}


__all__ = ["headline", "join_results", "plot_bars", "plot_heatmap", "plot_results", "write_report"]
