"""Probe benchmark: probekit's torch backend vs plain scikit-learn, side by side in one process.

Part 1, the paper's ImageNet-X protocol (reference/paper.md, section 3) on synthetic features shaped
like ImageNet-X (46,110 x 2048 float32, the published positives per factor, ``class`` split at its
mean): 17 binary targets x 10 seeds.

- ``probekit``: ``paper-imagenetx`` on the torch backend: all 170 problems in one ``logistic_many``;
- ``sklearn``: the paper's script written plainly: one ``LogisticRegression`` per (target, seed), run
  to convergence (``max_iter=10000`` and the same ``--tol`` as probekit);
- ``sklearn-100``: the same with scikit-learn's defaults (100 iterations, tol 1e-4), as published.

Both get the same raw features and do the same preprocessing, splits and balancing inside the timing.

Part 2, a ridge layer sweep: 8 layers (256 to 2048 units) x 6 continuous factors, N = 20,000, a
10-value alpha grid searched by efficient leave-one-out on the training rows, R^2 on held-out rows:
probekit's torch ridge (one decomposition per layer serves all factors and alphas) vs one
``RidgeCV`` per (layer, factor) with the same alphas and split.

    python benchmarks/bench_probe.py                 # both parts, full size (about an hour on 2 cores)
    python benchmarks/bench_probe.py --quick         # small sizes: a smoke run of a minute or two
    python benchmarks/bench_probe.py --part 2 --json results/bench_probe.json
    python benchmarks/bench_probe.py --threads 1     # one thread for both sides (a shared, busy machine)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def machine() -> str:
    import torch

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads, load {load}"


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


# -- part 1 ------------------------------------------------------------------------------------------
def paper_sklearn(X: np.ndarray, targets: dict, seeds, *, max_iter: int, tol: float) -> dict:
    """The paper's ImageNet-X script, plainly: one LogisticRegression per (target, seed).

    Returns ``{(factor, random_state): (test accuracy, n_iter)}``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.utils import shuffle

    mu = X.mean(axis=0, dtype=np.float64)
    Xk = X[:, mu > 0]
    Xz = ((Xk - Xk.mean(axis=0)) / Xk.std(axis=0)).astype(np.float32)     # all images, as published

    def balance(rows, y, rs):
        n_min = np.bincount(y[rows]).min()
        keep = np.concatenate([rows[y[rows] == c][:n_min] for c in (0, 1)])
        return shuffle(keep, random_state=rs)

    out = {}
    for name, (spec, values) in targets.items():
        y = values.astype(np.int64) if spec.kind == "binary" else (values >= values.mean()).astype(np.int64)
        for s in seeds:
            rs = 42 + s
            train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=rs)
            train, test = balance(train, y, rs), balance(test, y, rs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = LogisticRegression(C=1.0, max_iter=max_iter, tol=tol).fit(Xz[train], y[train])
            out[name, rs] = (float(clf.score(Xz[test], y[test])), int(clf.n_iter_[0]))
    return out


def part1(args) -> dict:
    from benchmarks.synthetic import imagenetx_like
    from probekit.probes.backends import get_backend
    from probekit.probes.protocols.paper_imagenetx import paper_imagenetx_protocol

    n, d, seeds = (6000, 512, range(3)) if args.quick else (46110, 2048, range(args.seeds))
    print(f"\n== part 1: paper-imagenetx, {n} x {d} float32, 17 targets x {len(seeds)} seeds, tol {args.tol} ==")
    X, targets = imagenetx_like(n=n, d=d, seed=0)
    # both sides use these; importing them is a one-off cost of the process, not of either method
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.utils  # noqa: F401
    backend = get_backend("torch", device=args.device)
    print(f"[{machine()}] probekit ({backend!r}) ...", flush=True)
    rows, t_pk = timed(paper_imagenetx_protocol, X, targets, seeds=seeds, backend=backend, tol=args.tol)
    print(f"  {t_pk:.1f} s\n[{machine()}] sklearn to convergence (max_iter=10000) ...", flush=True)
    ref, t_sk = timed(paper_sklearn, X, targets, seeds, max_iter=10_000, tol=args.tol)
    print(f"  {t_sk:.1f} s\n[{machine()}] sklearn defaults (max_iter=100, tol=1e-4) ...", flush=True)
    ref100, t_100 = timed(paper_sklearn, X, targets, seeds, max_iter=100, tol=1e-4)
    print(f"  {t_100:.1f} s [{machine()}]")
    ours = {(r["factor"], r["seed"]): r for r in rows if r["metric"] == "accuracy" and r["split"] == "test"}
    diffs = np.array([abs(ours[k]["value"] - ref[k][0]) for k in ref])
    diffs100 = np.array([abs(ours[k]["value"] - ref100[k][0]) for k in ref])
    print(f"\n{'factor':18s} {'n_train':>7s} {'probekit':>8s} {'sklearn':>8s} {'skl-100':>8s} "
          f"{'|diff|':>7s} {'iters pk':>8s} {'iters sk':>8s} {'capped':>6s}")
    for name in targets:
        keys = [k for k in ref if k[0] == name]
        mine = [ours[k] for k in keys]
        print(f"{name:18s} {mine[0]['n_train']:7d} {np.mean([r['value'] for r in mine]):8.3f} "
              f"{np.mean([ref[k][0] for k in keys]):8.3f} {np.mean([ref100[k][0] for k in keys]):8.3f} "
              f"{100 * np.mean([abs(ours[k]['value'] - ref[k][0]) for k in keys]):6.2f}p "
              f"{np.mean([r['n_iter'] for r in mine]):8.1f} {np.mean([ref[k][1] for k in keys]):8.1f} "
              f"{sum(ref100[k][1] >= 100 for k in keys):4d}/{len(keys)}")
    res = {"n": n, "d": d, "seeds": len(seeds), "tol": args.tol, "t_probekit_s": t_pk, "t_sklearn_s": t_sk,
           "t_sklearn_default_s": t_100, "speedup": t_sk / t_pk, "speedup_vs_default": t_100 / t_pk,
           "mean_abs_acc_diff_points": 100 * float(diffs.mean()), "max_abs_acc_diff_points": 100 * float(diffs.max()),
           "mean_abs_acc_diff_vs_default_points": 100 * float(diffs100.mean()),
           "probekit_converged": f"{sum(r['converged'] for r in ours.values())}/{len(ours)}",
           "sklearn_default_capped": f"{sum(v[1] >= 100 for v in ref100.values())}/{len(ref100)}"}
    print(f"\nprobekit {t_pk:.1f} s | sklearn (converged) {t_sk:.1f} s -> {res['speedup']:.1f}x | "
          f"sklearn (100 iterations) {t_100:.1f} s -> {res['speedup_vs_default']:.1f}x")
    print(f"test accuracy |probekit - sklearn|: mean {res['mean_abs_acc_diff_points']:.3f} points, max "
          f"{res['max_abs_acc_diff_points']:.2f} points over {len(diffs)} (target, seed) pairs; vs the "
          f"100-iteration fits: mean {res['mean_abs_acc_diff_vs_default_points']:.3f} points")
    return res


# -- part 2 ------------------------------------------------------------------------------------------
def part2(args) -> dict:
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score

    from benchmarks.synthetic import layer_sweep
    from probekit.probes import metrics as M
    from probekit.probes.backends import get_backend

    if args.quick:
        n, widths = 4000, (64, 96, 128, 192, 256, 320, 384, 512)
    else:
        n, widths = 20_000, (256, 384, 512, 768, 1024, 1280, 1536, 2048)
    alphas = np.logspace(-2, 7, 10)
    print(f"\n== part 2: ridge layer sweep, N={n}, widths {widths}, 6 factors, {len(alphas)} alphas ==")
    layers, Y = layer_sweep(n=n, widths=widths, n_factors=6, seed=0)
    perm = np.random.default_rng(0).permutation(n)
    tr, te = perm[: int(0.7 * n)], perm[int(0.7 * n):]
    splits = {k: (F[tr], F[te]) for k, F in layers.items()}                  # same rows for both
    backend = get_backend("torch", device=args.device)

    def probekit_sweep():
        out = {}
        for k, (Ftr, Fte) in splits.items():
            fit = backend.ridge(Ftr, Y[tr], alphas=alphas)                   # all 6 factors, all alphas
            out[k] = (M.r2(Y[te], fit.predict(Fte)), fit.alpha)
        return out

    def sklearn_sweep():
        out = {}
        for k, (Ftr, Fte) in splits.items():
            r2, chosen = [], []
            for j in range(Y.shape[1]):
                m = RidgeCV(alphas=alphas).fit(Ftr, Y[tr, j])
                r2.append(r2_score(Y[te, j], m.predict(Fte)))
                chosen.append(m.alpha_)
            out[k] = (np.array(r2), np.array(chosen))
        return out

    print(f"[{machine()}] probekit ({backend!r}) ...", flush=True)
    ours, t_pk = timed(probekit_sweep)
    print(f"  {t_pk:.1f} s\n[{machine()}] sklearn RidgeCV per (layer, factor) ...", flush=True)
    ref, t_sk = timed(sklearn_sweep)
    print(f"  {t_sk:.1f} s [{machine()}]")
    print(f"\n{'layer':8s} {'width':>5s} {'R2 probekit (6 factors)':>42s} {'max |dR2|':>9s} {'same alpha':>10s}")
    dr2, same = [], 0
    for (k, (r2, a)), w in zip(ours.items(), widths):
        d = np.abs(r2 - ref[k][0])
        dr2.append(d.max())
        same += int((a == ref[k][1]).sum())
        print(f"{k:8s} {w:5d} {' '.join(f'{v:6.3f}' for v in r2):>42s} {d.max():9.5f} "
              f"{int((a == ref[k][1]).sum()):6d}/{len(a)}")
    res = {"n": n, "widths": list(widths), "n_alphas": len(alphas), "t_probekit_s": t_pk, "t_sklearn_s": t_sk,
           "speedup": t_sk / t_pk, "max_abs_r2_diff": float(max(dr2)), "same_alpha": f"{same}/{6 * len(widths)}"}
    print(f"\nprobekit {t_pk:.1f} s | sklearn {t_sk:.1f} s -> {res['speedup']:.1f}x | max |R2 diff| "
          f"{res['max_abs_r2_diff']:.2e} | same alpha chosen {res['same_alpha']}")
    return res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("1", "2", "all"), default="all")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--seeds", type=int, default=10, help="repeats of part 1 (seeds 42, 43, ...)")
    ap.add_argument("--tol", type=float, default=1e-6, help="logistic tolerance of probekit and sklearn")
    ap.add_argument("--device", default="auto", help="torch backend device (auto, cpu, cuda)")
    ap.add_argument("--threads", type=int, help="CPU threads for both sides (torch and the BLAS that "
                    "numpy/scipy/scikit-learn use); default: as configured")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    limits = contextlib.nullcontext()
    if args.threads:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        limits = threadpool_limits(args.threads)
    print(f"bench_probe: {machine()}")
    results = {"machine": machine(), "argv": sys.argv[1:]}
    with limits:
        if args.part in ("1", "all"):
            results["part1"] = part1(args)
        if args.part in ("2", "all"):
            results["part2"] = part2(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=float))
    return results


if __name__ == "__main__":
    main()
