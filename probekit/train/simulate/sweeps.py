"""The paper's simulation tables as data, and a runner that puts probekit's numbers beside them.

Table 3 (supervised, N = 10^3): R^2 of z, mean over 5 seeds, in %. The paper's published code
computes this R^2 with an intercept, so it is compared with probekit's ``r2_affine``.
Table 2 (DIET): R^2 of z, "orthogonal" (no intercept) / "affine", in %, and for the baseline the
R^2 of the head's rows W onto their cluster vectors.
Every row is a set of changes to the paper's baseline (d = 5, |C| = 100, N = 1000, vMF kappa = 10).
"""
from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigError, unknown_name
from .config import SimulationConfig


@dataclass(frozen=True)
class SweepRow:
    """One row of a paper table: its changes to the baseline config and the paper's numbers (in %)."""

    name: str  # short id used on the command line, e.g. "d20"
    label: str  # as printed in the paper's table
    overrides: dict = field(default_factory=dict)  # SimulationConfig fields changed from the baseline
    paper: dict = field(default_factory=dict)  # metric name -> the paper's value in %


# Table 3: supervised, N = 10^3, R^2 of z (%), mean over 5 seeds
TABLE3 = (
    SweepRow("baseline", "d=5, |C|=100, vMF kappa=10", {}, {"r2_affine": 99.8}),
    SweepRow("d10", "d=10", {"dim": 10}, {"r2_affine": 97.2}),
    SweepRow("d20", "d=20", {"dim": 20}, {"r2_affine": 82.1}),
    SweepRow("c10", "|C|=10", {"clusters": 10}, {"r2_affine": 97.5}),
    SweepRow("c1000", "|C|=1000", {"clusters": 1000}, {"r2_affine": 99.8}),
    SweepRow("c10000", "|C|=10000", {"clusters": 10000}, {"r2_affine": 99.8}),
    SweepRow("kappa5", "vMF kappa=5", {"kappa": 5.0}, {"r2_affine": 99.7}),
    SweepRow("kappa50", "vMF kappa=50", {"kappa": 50.0}, {"r2_affine": 65.5}),
    SweepRow("laplace", "Laplace b=1", {"conditional": "laplace"}, {"r2_affine": 85.4}),
    SweepRow("normal", "Normal s^2=1", {"conditional": "normal"}, {"r2_affine": 99.6}),
)

# Table 2: DIET, R^2 of z (%), orthogonal / affine; baseline also W -> cluster vectors
TABLE2 = (
    SweepRow(
        "baseline",
        "N=10^3, d=5, |C|=100, vMF kappa=10",
        {"mode": "diet"},
        {"r2_orthogonal": 98.6, "r2_affine": 99.0, "w_r2_affine": 99.9},
    ),
    SweepRow("n100000", "N=10^5", {"mode": "diet", "instances": 100_000}, {"r2_orthogonal": 98.2, "r2_affine": 99.7}),
    SweepRow("d10", "d=10", {"mode": "diet", "dim": 10}, {"r2_orthogonal": 92.5, "r2_affine": 93.0}),
    SweepRow("d20", "d=20", {"mode": "diet", "dim": 20}, {"r2_orthogonal": 70.8, "r2_affine": 81.9}),
    SweepRow("c10", "|C|=10", {"mode": "diet", "clusters": 10}, {"r2_orthogonal": 88.6, "r2_affine": 90.0}),
    SweepRow("c1000", "|C|=1000", {"mode": "diet", "clusters": 1000}, {"r2_orthogonal": 99.3, "r2_affine": 99.2}),
    SweepRow("kappa5", "vMF kappa=5", {"mode": "diet", "kappa": 5.0}, {"r2_orthogonal": 98.6, "r2_affine": 99.0}),
    SweepRow("kappa50", "vMF kappa=50", {"mode": "diet", "kappa": 50.0}, {"r2_orthogonal": 45.0, "r2_affine": 72.5}),
    SweepRow(
        "laplace", "Laplace b=1", {"mode": "diet", "conditional": "laplace"}, {"r2_orthogonal": 85.2, "r2_affine": 85.4}
    ),
    SweepRow(
        "normal", "Normal s^2=1", {"mode": "diet", "conditional": "normal"}, {"r2_orthogonal": 98.7, "r2_affine": 98.6}
    ),
)

SWEEPS = {"table3": TABLE3, "table2": TABLE2}

# fields that define the data generating process and the task (not the optimisation budget)
_PROBLEM_FIELDS = ("mode", "dim", "clusters", "instances", "kappa", "conditional", "scale")


def _problem(cfg: SimulationConfig) -> tuple:
    vals = {f: getattr(cfg, f) for f in _PROBLEM_FIELDS}
    if cfg.conditional != "vmf":
        vals["kappa"] = None  # kappa is unused by the projected conditionals
    return tuple(vals.values())


def get_rows(name: str, *, rows: list[str] | None = None) -> tuple[SweepRow, ...]:
    """The rows of sweep ``name`` (``table3`` or ``table2``), optionally only those named in ``rows``."""
    if name not in SWEEPS:
        raise unknown_name("sweep", name, SWEEPS)
    table = SWEEPS[name]
    if not rows:
        return table
    by_name = {r.name: r for r in table}
    for r in rows:
        if r not in by_name:
            raise unknown_name(f"row of {name}", r, by_name, hint=f"rows: {', '.join(by_name)}")
    return tuple(by_name[r] for r in rows)


def paper_row(config: SimulationConfig) -> tuple[str, SweepRow] | None:
    """The (sweep name, row) of the paper's tables that matches ``config``'s problem, if any."""
    for name, table in SWEEPS.items():
        for row in table:
            if _problem(SimulationConfig().replace(**row.overrides)) == _problem(config):
                return name, row
    return None


def run_sweep(
    name: str,
    *,
    seeds: int | list[int] = 1,
    steps: int | None = None,
    rows: list[str] | None = None,
    base: SimulationConfig | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> list[dict]:
    """Run the rows of a paper table and write probekit's R^2 beside the paper's.

    Parameters
    ----------
    name:
        ``table3`` (supervised) or ``table2`` (DIET).
    seeds:
        Number of seeds (0, 1, ...) or an explicit list.
    steps:
        Training steps per run (default: ``base.steps``, the paper's 50,000).
    rows:
        Row names to run (default all), e.g. ``["baseline", "d20"]``.
    base:
        Optimisation settings (batch size, lr, device, evaluation); each row sets the problem fields.
    out:
        Directory for ``<row>/seed<k>/`` runs plus ``table.md`` and ``table.csv``; None writes nothing.

    Returns
    -------
    One dict per row: name, label, config, paper values, per-seed and mean metrics, run time.
    """
    from .run import simulate

    base = base or SimulationConfig()
    if steps is not None:
        base = base.replace(steps=steps)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise ConfigError(f"seeds must name at least one seed; got {seeds!r} (pass --seeds 1 or more)")
    out = Path(out) if out is not None else None
    results = []
    for row in get_rows(name, rows=rows):
        runs = []
        for seed in seed_list:
            cfg = base.replace(**row.overrides, seed=seed)
            run_out = out / row.name / f"seed{seed}" if out is not None else None
            runs.append(simulate(cfg, out=run_out, progress=progress))
        keys = [k for k in runs[0]["metrics"] if k.startswith(("r2_", "w_r2_"))]
        mean = {k: statistics.fmean(r["metrics"][k] for r in runs) for k in keys}
        sd = {k: (statistics.stdev(r["metrics"][k] for r in runs) if len(runs) > 1 else 0.0) for k in keys}
        results.append(
            {
                "sweep": name,
                "name": row.name,
                "label": row.label,
                "config": base.replace(**row.overrides).to_dict(),
                "seeds": seed_list,
                "paper": dict(row.paper),
                "mean": mean,
                "sd": sd,
                "per_seed": [r["metrics"] for r in runs],
                "initial_mean": {k: statistics.fmean(r["initial"][k] for r in runs) for k in keys},
                "run_time_s": sum(r["run_time_s"] for r in runs),
                "cpu_time_s": sum(r.get("cpu_time_s", 0.0) for r in runs),
            }
        )
        if out is not None:  # rewrite after every row, so a long sweep shows its progress
            (out / "table.md").write_text(format_table(results) + "\n")
            (out / "table.csv").write_text(table_csv(results))
    return results


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def format_table(results: list[dict]) -> str:
    """A markdown table of sweep results: the paper's R^2 beside probekit's (both in %)."""
    if not results:
        return ""
    diet = results[0]["sweep"] == "table2"
    if diet:
        head = (
            "| row | setting | steps | seeds | paper orth. / affine | probekit orth. / affine | "
            "paper W | probekit W affine | untrained affine | wall / CPU (s) |"
        )
    else:
        head = (
            "| row | setting | steps | seeds | paper R² | probekit R² affine | probekit R² orth. | "
            "untrained affine | "
            "wall / CPU (s) |"
        )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        m, sd, p = r["mean"], r["sd"], r["paper"]
        seeds = ",".join(str(s) for s in r["seeds"])
        aff = f"{_pct(m['r2_affine'])} ± {_pct(sd['r2_affine'])}"
        times = f"{r['run_time_s']:.0f} / {r.get('cpu_time_s', 0.0):.0f}"
        label = r["label"].replace("|", "\\|")  # a pipe would end the markdown cell
        if diet:
            w = f"{_pct(m['w_r2_affine'])} ± {_pct(sd['w_r2_affine'])}"
            paper_w = f"{p['w_r2_affine']:.1f}" if "w_r2_affine" in p else ""
            lines.append(
                f"| {r['name']} | {label} | {r['config']['steps']} | {seeds} | "
                f"{p['r2_orthogonal']:.1f} / {p['r2_affine']:.1f} | {_pct(m['r2_orthogonal'])} / {aff} | "
                f"{paper_w} | {w} | {_pct(r['initial_mean']['r2_affine'])} | {times} |"
            )
        else:
            lines.append(
                f"| {r['name']} | {label} | {r['config']['steps']} | {seeds} | {p['r2_affine']:.1f} | "
                f"{aff} | {_pct(m['r2_orthogonal'])} | {_pct(r['initial_mean']['r2_affine'])} | {times} |"
            )
    return "\n".join(lines)


def table_csv(results: list[dict]) -> str:
    """The sweep results as CSV, one line per (row, metric), values as fractions in [0, 1]."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["sweep", "row", "label", "steps", "seeds", "metric", "paper", "mean", "sd", "untrained", "run_time_s",
         "cpu_time_s"]
    )
    for r in results:
        for k, v in r["mean"].items():
            paper = r["paper"].get(k)
            w.writerow(
                [
                    r["sweep"],
                    r["name"],
                    r["label"],
                    r["config"]["steps"],
                    " ".join(map(str, r["seeds"])),
                    k,
                    "" if paper is None else paper / 100,
                    f"{v:.6f}",
                    f"{r['sd'][k]:.6f}",
                    f"{r['initial_mean'][k]:.6f}",
                    f"{r['run_time_s']:.1f}",
                    f"{r.get('cpu_time_s', 0.0):.1f}",
                ]
            )
    return buf.getvalue()
