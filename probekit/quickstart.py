"""The one-command story of the paper, offline: train with cross-entropy, extract, probe, compare.

1. train a small CNN on color-dSprites ``shape`` with cross-entropy (probekit.train);
2. extract features of the held-out test images (never seen in training) from three models: the
   trained network, the same architecture at a seeded random init, and the raw pixels;
3. probe every factor with the default protocol (held-out splits, seeds, corrected statistics);
4. print the side-by-side table and write results.json, results.csv and the figures.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class QuickstartConfig:
    """Sizes chosen so that the whole run takes a few minutes on 2 CPU cores."""

    out: str = "quickstart"          # folder for the run, the stores and the results
    dataset: str = "color-dsprites"  # any registered dataset with a categorical target
    target: str = "shape"            # the factor the network is trained on
    arch: str = "convnet-small"      # trainable architecture (see `probekit train --help`)
    limit: int = 30_000              # images for training + validation + test (80/10/10)
    epochs: int = 4                  # upper bound; training stops early at 99.9% validation accuracy
    batch_size: int = 256            # smaller than the paper's 4096: few images, so more steps
    lr: float = 1e-3                 # Adam, as the paper
    probe_seeds: int = 3             # repeats of the probe split
    seed: int = 0                    # seeds the subset, the split, the init and the probes
    device: str = "auto"


MODELS = ("trained", "random init", "pixels")


def run_quickstart(config: QuickstartConfig = QuickstartConfig(), *, progress: bool = True, echo=print) -> dict:
    """Run the four steps; returns ``{"results": ProbeResults, "table": str, "files": {...}, "times": {...}}``."""
    from .data import SubsetDataset, create_dataset
    from .extract import extract_features
    from .probes import probe_factors
    from .report import write_report
    from .train import TrainConfig, train
    from .backbones.checkpoint import load_split
    from .train.rundir import read_summary

    out = Path(config.out)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    echo(f"[1/4] training {config.arch} on {config.dataset} '{config.target}' ({config.limit:,} images, 80/10/10 split)")
    run_dir = train(TrainConfig(dataset=config.dataset, target=config.target, arch=config.arch, epochs=config.epochs,
                                batch_size=config.batch_size, lr=config.lr, seed=config.seed, device=config.device,
                                limit=config.limit, out=str(out / "run")),
                    resume=(out / "run" / "run.json").exists(), progress=progress)  # rerun: continue, never retrain
    times["train"] = time.perf_counter() - t0
    summary = read_summary(run_dir)

    t = time.perf_counter()
    test_rows = load_split(run_dir)["test"]  # dataset indices the network never saw
    held_out = SubsetDataset(create_dataset(config.dataset), np.sort(test_rows),
                             description={"kind": "test split of a probekit train run", "run": str(run_dir),
                                          "n": int(len(test_rows))})
    echo(f"[2/4] extracting features of the {len(held_out):,} held-out test images from: {', '.join(MODELS)}")
    sources = {"trained": (f"ckpt:{run_dir}", "default"), "random init": (f"ckpt:{run_dir}", "none"),
               "pixels": ("pixels", "default")}
    stores = []
    for label, (name, weights) in sources.items():
        path = out / "features" / f"{label.replace(' ', '-')}.h5"
        stores.append(extract_features(name, held_out, weights=weights, seed=config.seed, out=path,
                                       batch_size=256, device=config.device, resume=True, progress=progress))
    times["extract"] = time.perf_counter() - t

    t = time.perf_counter()
    echo(f"[3/4] probing every factor ({config.probe_seeds} seeds, default protocol: held-out test split, "
         "standardisation and regularisation fitted on training data only)")
    results = probe_factors(stores, seeds=config.probe_seeds, device=config.device, progress=progress)
    times["probe"] = time.perf_counter() - t

    echo("[4/4] report")
    results.meta["quickstart"] = {**asdict(config), "train_summary": summary, "times_s": times}
    files = write_report(results, out / "results")
    table = comparison_table(results)
    times["total"] = time.perf_counter() - t0
    return {"results": results, "table": table, "files": files, "times": times, "train_summary": summary}


HEADLINE = {"categorical": "balanced_accuracy", "binary": "balanced_accuracy", "continuous": "r2", "periodic": "r2"}


def comparison_table(results) -> str:
    """Factor x model table of each factor's headline metric on the test split (mean ± sem)."""
    lines = [ln for ln in results.summary() if ln["split"] == "test"]
    models, factors, cell = [], [], {}
    for ln in lines:
        model, factor = ln["model"], ln["factor"]
        if model not in models:
            models.append(model)
        if factor not in factors:
            factors.append(factor)
        cell[(model, factor, ln["metric"])] = ln
    kinds = {}
    for r in results.rows:
        kinds.setdefault(r["factor"], r.get("kind"))
    head = ["factor", "metric"] + models
    body = []
    for factor in factors:
        metric = HEADLINE.get(kinds.get(factor) or "", None)
        if metric is None or not any((m, factor, metric) in cell for m in models):
            metric = next((k[2] for k in cell if k[1] == factor), "-")
        row = [factor, metric]
        for m in models:
            ln = cell.get((m, factor, metric))
            row.append("-" if ln is None else f"{ln['mean']:.3f} ± {ln['sem']:.3f}" + (" *" if ln.get("significant") else ""))
        body.append(row)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *map(fmt, body)])
