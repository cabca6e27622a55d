"""Reproduce the dSprites row of the paper's Table 4 (DisLib, Sec. 4.2) from `probekit train` runs.

Steps 2-3 of the reproduction in docs/reproduction.md ("DisLib: dSprites"); step 1 is `probekit train`:

    probekit train --dataset dsprites --target shape --arch mlp      ... --out runs/dislib/dsprites-shape-mlp
    probekit train --dataset dsprites --target shape --arch resnet18 ... --out runs/dislib/dsprites-shape-resnet18

Then (one thread per process is fastest on a shared CPU):

    OMP_NUM_THREADS=1 python scripts/reproduce_dislib_dsprites.py \\
        --run runs/dislib/dsprites-shape-mlp --run runs/dislib/dsprites-shape-resnet18 --seeds 5 --paper-splits

What it does:

1. checks that the runs share one dataset and one held-out test split (same --limit, --seed and
   fractions), so every model, and the raw pixels, are probed on the same images;
2. extracts the penultimate features (the input of the classification head) of the runs' TEST split,
   images no network saw in training, from each trained network and from ``pixels`` (flattened, [0, 1]),
   into ``--features`` (resumable stores; rerunning reuses complete ones);
3. probes shape, scale, posX, posY and orientation on these stores with the paper's protocol
   (``paper-dislib``: lstsq without intercept onto factors z-scored over all rows, class codes as
   numbers, 80/10 split of the store's rows per seed, Pearson r) and with probekit's ``default``
   protocol (train-only standardisation, ridge with intercept and GCV, logistic regression for shape;
   R², Pearson r, balanced accuracy), writing each protocol's report into ``--out/<protocol>/``;
4. with ``--paper-splits``: also the paper's own procedure, one number per model: fit the same least
   squares on the features of the network's TRAINING images and score Pearson r on its VALIDATION
   images (the split used for early stopping), as the published code did;
5. writes ``--out/summary.md`` (markdown tables beside the paper's numbers) and ``--out/summary.json``
   (every mean, sem, time and command), and prints the tables.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

# Table 4 of the paper, dSprites rows (Pearson r): factor -> {column: value}
PAPER = {
    "shape": {"pixels": 0.26, "MLP": 0.94, "CNN": 1.00},
    "scale": {"pixels": 0.62, "MLP": 0.98, "CNN": 0.92},
    "posX": {"pixels": 0.92, "MLP": 0.97, "CNN": 0.99},
    "posY": {"pixels": 0.92, "MLP": 0.97, "CNN": 0.99},
}
PAPER_COLUMN = {"pixels": "pixels", "mlp": "MLP", "resnet18": "CNN", "convnet-small": "CNN"}
FACTOR_LABEL = {"shape": "category (shape)"}
DEFAULT_FACTORS = "shape,scale,posX,posY,orientation"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, metavar="[LABEL=]DIR",
                   help="a `probekit train` run directory (repeat; label defaults to the architecture)")
    p.add_argument("--no-pixels", action="store_true", help="skip the raw-pixel baseline")
    p.add_argument("--factors", default=DEFAULT_FACTORS, help=f"factors to probe [{DEFAULT_FACTORS}]")
    p.add_argument("--seeds", type=int, default=5, help="probe seeds 0..N-1 for both protocols [5]")
    p.add_argument("--paper-splits", action="store_true",
                   help="also fit on each run's train split and score on its val split (the paper's procedure)")
    p.add_argument("--features", default="features/dislib-dsprites", help="folder for the feature stores")
    p.add_argument("--out", default="results/dislib-dsprites", help="folder for reports and summary")
    p.add_argument("--batch-size", type=int, default=256, help="extraction batch size [256]")
    p.add_argument("--device", default="cpu", help="extraction and probing device [cpu]")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads [1]")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def read_runs(specs: list[str]) -> list[dict]:
    """[{label, dir, arch, config, dataset, split, summary}] for each ``[LABEL=]DIR``."""
    from probekit.backbones.checkpoint import load_split

    runs = []
    for spec in specs:
        label, _, path = spec.rpartition("=")
        run_dir = Path(path)
        if not (run_dir / "run.json").is_file():
            sys.exit(f"error: {run_dir} is not a probekit train run (no run.json)")
        info = json.loads((run_dir / "run.json").read_text())
        summary_file = run_dir / "summary.json"
        if not summary_file.is_file():
            sys.exit(f"error: {run_dir} has no summary.json: the run has not finished (probekit train --resume)")
        arch = info["model_args"]["arch"]
        runs.append({"label": label or arch, "dir": run_dir, "arch": arch, "config": info["config"],
                     "dataset": info["dataset"], "split": load_split(run_dir),
                     "summary": json.loads(summary_file.read_text())})
    labels = [r["label"] for r in runs]
    if len(set(labels)) != len(labels) or "pixels" in labels:
        sys.exit(f"error: run labels must be distinct and not 'pixels', got {labels}; use LABEL=DIR")
    first = runs[0]
    for r in runs[1:]:
        if r["dataset"]["config"] != first["dataset"]["config"]:
            sys.exit(f"error: {r['dir']} and {first['dir']} were trained on different datasets/subsets")
        if not np.array_equal(r["split"]["test"], first["split"]["test"]):
            sys.exit(f"error: {r['dir']} and {first['dir']} hold out different test splits; train them with the "
                     "same --limit, --seed, --val-fraction and --test-fraction")
    return runs


def subset(dataset_name: str, rows: np.ndarray, run_dir: Path, split: str):
    from probekit.data import SubsetDataset, create_dataset

    return SubsetDataset(create_dataset(dataset_name), np.sort(rows),
                         description={"kind": f"{split} split of a probekit train run", "run": str(run_dir),
                                      "n": int(len(rows))})


def extract(models: dict[str, str], dataset, folder: Path, split: str, args, times: dict) -> dict[str, Path]:
    """{label: store path} of the penultimate features of ``dataset`` for each model."""
    from probekit.extract import extract_features

    stores = {}
    for label, backbone in models.items():
        t = time.perf_counter()
        stores[label] = extract_features(backbone, dataset, out=folder / f"{label}__{split}.h5",
                                         batch_size=args.batch_size, device=args.device, seed=0, resume=True,
                                         progress=not args.quiet)
        times[f"extract {label} {split}"] = round(time.perf_counter() - t, 1)
        print(f"  {label:10s} {split:5s} {len(dataset):6,d} images -> {stores[label]} "
              f"({times[f'extract {label} {split}']:.0f} s)", flush=True)
    return stores


def collect(results, labels_by_store: dict[str, str]) -> dict:
    """{label: {factor: {metric: {split: (mean, sem, n)}}}} from ProbeResults.summary()."""
    label_of = {s["fingerprint"]: labels_by_store[str(Path(s["path"]).resolve())] for s in results.meta["stores"]}
    out: dict = {}
    for ln in results.summary():
        label = label_of[ln["fingerprint"]]
        out.setdefault(label, {}).setdefault(ln["factor"], {}).setdefault(ln["metric"], {})[ln["split"]] = (
            ln["mean"], ln["sem"], ln["n"])
    return out


def paper_split_scores(stores_tr: dict[str, Path], stores_va: dict[str, Path], factors: list[str]) -> dict:
    """The paper's procedure: lstsq (no intercept) fitted on train-split features, Pearson r on the val split.

    Targets are z-scored over train + val rows together (the paper z-scored over the whole dataset);
    class codes are regressed as numbers, exactly as in the ``paper-dislib`` protocol.
    """
    from probekit import FeatureStore
    from probekit.data.factors import resolve_factor_names
    from probekit.probes import metrics as M
    from probekit.probes.protocols.paper_dislib import zscore_targets

    out = {}
    for label in stores_tr:
        with FeatureStore.open(stores_tr[label]) as a, FeatureStore.open(stores_va[label]) as b:
            names = resolve_factor_names(a.factor_specs, factors)
            Xtr, Xva = a.read_features("penultimate"), b.read_features("penultimate")
            Y = zscore_targets({n: np.concatenate([a.factor_values(n), b.factor_values(n)]) for n in names})
        ntr = len(Xtr)
        W = np.linalg.lstsq(Xtr.astype(np.float64), Y[:ntr], rcond=None)[0]
        r_tr = M.pearson_r(Y[:ntr], Xtr.astype(np.float64) @ W)
        r_va = M.pearson_r(Y[ntr:], Xva.astype(np.float64) @ W)
        out[label] = {n: {"train": float(r_tr[j]), "val": float(r_va[j]), "n_train": int(ntr), "n_val": int(len(Xva))}
                      for j, n in enumerate(names)}
    return out


def fmt(cell, digits=3) -> str:
    if cell is None:
        return "-"
    mean, sem, _ = cell
    return f"{mean:.{digits}f} ± {sem:.{digits}f}"


def markdown(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def tables(labels: list[str], column: dict[str, str], factors: list[str], paper_res: dict, default_res: dict,
           paper_splits: dict | None) -> str:
    def get(res, label, factor, metric, split="test"):
        return res.get(label, {}).get(factor, {}).get(metric, {}).get(split)

    parts = []
    head = ["factor"]
    for label in labels:
        head += [f"{label}: paper", f"{label}: probekit"] + ([f"{label}: paper splits"] if paper_splits else [])
    body = []
    for f in factors:
        row = [FACTOR_LABEL.get(f, f)]
        for label in labels:
            paper = PAPER.get(f, {}).get(column[label])
            row += [f"{paper:.2f}" if paper is not None else "-", fmt(get(paper_res, label, f, "pearson_r"))]
            if paper_splits:
                v = paper_splits.get(label, {}).get(f)
                row.append("-" if v is None else f"{v['val']:.3f}")
        body.append(row)
    parts.append("paper-dislib protocol (Pearson r, held-out rows; mean ± sem over seeds)\n\n" + markdown(head, body))

    head = ["factor", "metric"] + labels
    body = []
    for f in factors:
        metrics = {"shape": ["balanced_accuracy", "accuracy"], "orientation": ["r2"]}.get(f, ["r2", "pearson_r"])
        for m in metrics:
            body.append([FACTOR_LABEL.get(f, f), m] + [fmt(get(default_res, label, f, m)) for label in labels])
    parts.append("default protocol (test split of each seed; mean ± sem over seeds)\n\n" + markdown(head, body))

    head = ["factor"] + [f"{label}: train r" for label in labels]
    body = [[FACTOR_LABEL.get(f, f)] + [fmt(get(paper_res, label, f, "pearson_r", "train")) for label in labels]
            for f in factors]
    parts.append("paper-dislib protocol, Pearson r on the rows it was fitted on\n\n" + markdown(head, body))
    return "\n\n".join(parts) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from probekit.probes import probe_factors
    from probekit.report import write_report

    t_all = time.perf_counter()
    runs = read_runs(args.run)
    factors = [f.strip() for f in args.factors.split(",") if f.strip()]
    dataset_name = runs[0]["config"]["dataset"]
    features, out = Path(args.features), Path(args.out)
    features.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}

    models = {} if args.no_pixels else {"pixels": "pixels"}   # the paper's column order: pixels, MLP, CNN
    models.update({r["label"]: f"ckpt:{r['dir']}" for r in runs})
    labels = list(models)
    column = {r["label"]: PAPER_COLUMN.get(r["arch"], r["arch"]) for r in runs}
    column["pixels"] = "pixels"

    test_rows = runs[0]["split"]["test"]
    print(f"[1/3] extracting penultimate features of the {len(test_rows):,} held-out test images "
          f"({dataset_name}) from: {', '.join(labels)}", flush=True)
    stores = extract(models, subset(dataset_name, test_rows, runs[0]["dir"], "test"), features, "test", args, times)
    labels_by_store = {str(Path(p).resolve()): label for label, p in stores.items()}

    print(f"[2/3] probing {', '.join(factors)} with paper-dislib and default ({args.seeds} seeds)", flush=True)
    res = {}
    for protocol in ("paper-dislib", "default"):
        t = time.perf_counter()
        results = probe_factors(list(stores.values()), factors=factors, layers=["penultimate"], protocol=protocol,
                                seeds=args.seeds, device=args.device, progress=not args.quiet)
        times[f"probe {protocol}"] = round(time.perf_counter() - t, 1)
        write_report(results, out / protocol)
        res[protocol] = collect(results, labels_by_store)
        print(f"  {protocol}: {times[f'probe {protocol}']:.0f} s -> {out / protocol}", flush=True)

    paper_splits = None
    if args.paper_splits:
        print("[3/3] the paper's procedure: fit on each run's train split, Pearson r on its val split", flush=True)
        paper_splits = {}
        for r in runs:
            own = {r["label"]: f"ckpt:{r['dir']}"}
            if not args.no_pixels and "pixels" not in paper_splits:
                own["pixels"] = "pixels"   # pixels: the first run's train/val split
            folder = features / f"splits-{r['label']}"
            tr, va = (extract(own, subset(dataset_name, r["split"][s], r["dir"], s), folder, s, args, times)
                      for s in ("train", "val"))
            paper_splits.update(paper_split_scores(tr, va, factors))

    text = tables(labels, column, factors, res["paper-dislib"], res["default"], paper_splits)
    times["total"] = round(time.perf_counter() - t_all, 1)
    runs_info = {r["label"]: {"dir": str(r["dir"]), "arch": r["arch"], "config": r["config"],
                              "split_sizes": {k: int(len(v)) for k, v in r["split"].items()},
                              "train_summary": r["summary"]} for r in runs}
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])])
    (out / "summary.md").write_text(f"command: `{command}`\n\n{text}\ntimes (s): {json.dumps(times)}\n")
    (out / "summary.json").write_text(json.dumps(
        {"command": command, "paper": PAPER, "columns": column, "runs": runs_info, "seeds": list(range(args.seeds)),
         "paper_dislib": res["paper-dislib"], "default": res["default"], "paper_splits": paper_splits,
         "stores": {k: str(v) for k, v in stores.items()}, "times_s": times}, indent=1, default=float))
    print()
    print(text)
    print(f"times (s): {json.dumps(times)}")
    print(f"wrote {out / 'summary.md'} and {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
