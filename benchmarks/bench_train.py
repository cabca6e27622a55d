"""Training throughput and peak memory: probekit's loop vs a loop written the way the paper's script is.

Both variants train the same architecture from the same init on the same images with the same batch
size, thread count and device, for the same number of Adam steps:

- ``probekit``: the images stay one (N, 1, 64, 64) uint8 tensor; each step gathers its rows, scales
  them to float32 [0, 1] and runs ``probekit.train.loop.train_step`` (conv nets in channels_last), i.e.
  exactly what ``probekit train`` does per step (:func:`probekit.train.data.make_batch`).
- ``paper``: the training images as one float64 ``TensorDataset`` and a default
  ``DataLoader(shuffle=True)`` (single process, per-sample indexing and collation), each batch cast to
  float32 for the float32 model.

The images of the seeded dSprites subset are rendered once and saved as a .npy file (the stand-in for
the official dSprites .npz the paper's script loads); every variant runs in its own subprocess, which
loads that file, so peak RSS (``ru_maxrss``) of one variant does not leak into another. Throughput
counts only the timed steps (after warm-up steps), not loading or rendering.

    python benchmarks/bench_train.py                      # 100k images, mlp and convnet-small
    python benchmarks/bench_train.py --n 50000 --archs mlp --steps 5
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """Peak resident set size of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


# -- the parent: render once, run each variant in a subprocess, print the table --------------------------
def render(n: int, seed: int, cache_dir: Path) -> tuple[Path, Path]:
    import numpy as np

    from probekit.data import create_dataset
    from probekit.train.data import build_image_cache, split_indices

    ds = create_dataset("dsprites", limit=n, seed=seed)
    images, meta = cache_dir / f"{ds.dataset_id()}-images.npy", cache_dir / f"{ds.dataset_id()}-meta.npz"
    if not images.is_file():
        t = time.perf_counter()
        cache = build_image_cache(ds, num_workers=min(4, os.cpu_count() or 1), progress=True)
        np.save(images, cache.numpy())
        print(f"rendered {n:,} images in {time.perf_counter() - t:.0f} s -> {images}", file=sys.stderr)
    rows = split_indices(n, val_fraction=0.1, test_fraction=0.1, seed=seed)
    np.savez(meta, labels=ds.factor_values()["shape"], train=rows["train"])
    return images, meta


def run_variant(variant: str, arch: str, args, images: Path, meta: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", variant, "--archs", arch, "--images", str(images), "--meta", str(meta),
           "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--threads", str(args.threads), "--seed", str(args.seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{variant}/{arch} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main_parent(args) -> None:
    cache_dir = Path(args.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    images, meta = render(args.n, args.seed, cache_dir)
    print(f"dSprites subset: {args.n:,} images (seed {args.seed}), {int(args.n * 0.8):,} in the training split; "
          f"batch {args.batch_size}, {args.warmup} warm-up + {args.steps} timed steps, {args.threads} threads, "
          f"cpu, best of {args.repeats}; load average before: {os.getloadavg()[0]:.1f}")
    rows = []
    for arch in args.archs.split(","):
        best = {}
        for _ in range(args.repeats):  # alternate the variants so background load hits both alike
            for variant in ("probekit", "paper"):
                r = run_variant(variant, arch, args, images, meta)
                if variant not in best or r["samples_per_s"] > best[variant]["samples_per_s"]:
                    best[variant] = {**r, "peak_rss_mb": min(r["peak_rss_mb"], best.get(variant, r)["peak_rss_mb"])}
        p, q = best["probekit"], best["paper"]
        rows.append((arch, p, q))
    print("\n| arch | variant | training samples/s | data path alone, samples/s | peak RSS (MB) "
          "| peak RSS above imports (MB) | images held (MB) |")
    print("|---|---|---|---|---|---|---|")
    for arch, p, q in rows:
        for name, r in (("probekit (uint8 cache)", p), ("paper (float64 TensorDataset + DataLoader)", q)):
            print(f"| {arch} | {name} | {r['samples_per_s']:,.0f} | {r['data_samples_per_s']:,.0f} "
                  f"| {r['peak_rss_mb']:,.0f} | {r['peak_rss_mb'] - r['import_rss_mb']:,.0f} | {r['data_mb']:,.0f} |")
    print()
    for arch, p, q in rows:
        above = (p["peak_rss_mb"] - p["import_rss_mb"]) / (q["peak_rss_mb"] - q["import_rss_mb"])
        print(f"{arch}: training throughput x{p['samples_per_s'] / q['samples_per_s']:.2f}, data path "
              f"x{p['data_samples_per_s'] / q['data_samples_per_s']:.1f}; "
              f"peak RSS {p['peak_rss_mb'] / q['peak_rss_mb']:.2f}"
              f" of the paper loop's ({above:.2f} above the import floor); goal: >= x3 at <= 0.25. "
              f"Last loss: probekit {p['loss']:.4f}, paper {q['loss']:.4f}")


# -- the workers --------------------------------------------------------------------------------------
def worker(args) -> None:
    import numpy as np
    import torch

    from probekit.backbones.archs import CONV_ARCHS, build_model
    from probekit.train.loop import train_step

    torch.set_num_threads(args.threads)
    floor_mb = current_rss_mb()                                 # interpreter + torch + probekit imported
    arch = args.archs
    u8 = np.load(args.images)                                   # (N, 1, 64, 64) uint8, like the dSprites npz
    meta = np.load(args.meta)
    labels, train_rows = torch.from_numpy(meta["labels"]), meta["train"]
    torch.manual_seed(args.seed)
    model = build_model(arch, in_channels=u8.shape[1], image_size=u8.shape[-1], n_classes=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    total = args.warmup + args.steps
    times, losses = [], []

    if args.worker == "probekit":
        from probekit.backbones.checkpoint import train_preprocessing
        from probekit.train.data import TrainData, epoch_order, make_batch

        data = TrainData(dataset=None, target="shape", class_names=("square", "ellipse", "heart"),
                         images=torch.from_numpy(u8), labels=labels, rows={"train": train_rows}, index=None)
        data_mb = u8.nbytes / 2**20
        cl = arch in CONV_ARCHS
        if cl:
            model = model.to(memory_format=torch.channels_last)
        pre = train_preprocessing({"image_size": u8.shape[-1], "in_channels": u8.shape[1]})
        order = np.concatenate([epoch_order(len(train_rows), seed=args.seed, epoch=e) for e in range(4)])
        for s in range(total):
            t = time.perf_counter()
            rows = train_rows[order[s * args.batch_size:(s + 1) * args.batch_size]]
            x, y = make_batch(data, rows, preprocessing=pre, device=torch.device("cpu"), channels_last=cl)
            loss, _ = train_step(model, opt, x, y)
            losses.append(float(loss))
            times.append(time.perf_counter() - t)
        t = time.perf_counter()                                 # the data path alone
        for s in range(total, total + args.steps):
            rows = train_rows[order[s * args.batch_size:(s + 1) * args.batch_size]]
            make_batch(data, rows, preprocessing=pre, device=torch.device("cpu"), channels_last=cl)
        data_time = time.perf_counter() - t
    else:
        x64 = torch.from_numpy(u8[train_rows]).to(torch.float64).div_(255.0)  # (N_train, 1, 64, 64) float64
        del u8
        data_mb = x64.element_size() * x64.nelement() / 2**20
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x64, labels[train_rows]),
                                             batch_size=args.batch_size, shuffle=True)
        it, s = iter(loader), 0
        while s < total:
            t = time.perf_counter()
            try:
                x, y = next(it)
            except StopIteration:
                it = iter(loader)
                continue
            loss, _ = train_step(model, opt, x.float(), y)
            losses.append(float(loss))
            times.append(time.perf_counter() - t)
            s += 1
        t, it = time.perf_counter(), iter(loader)               # the data path alone
        for s in range(args.steps):
            x, y = next(it)
            x = x.float()
        data_time = time.perf_counter() - t
    timed = sum(times[args.warmup:])
    print(json.dumps({"variant": args.worker, "arch": arch, "samples_per_s": args.steps * args.batch_size / timed,
                      "data_samples_per_s": args.steps * args.batch_size / data_time, "peak_rss_mb": rss_mb(),
                      "import_rss_mb": floor_mb, "data_mb": data_mb, "loss": losses[-1]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="images in the dSprites subset (80%% are trained on)")
    ap.add_argument("--archs", default="mlp,convnet-small")
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=6, help="timed Adam steps per variant")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1, help="runs per variant, alternating; the best is kept")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "probekit-bench-train"))
    ap.add_argument("--worker", choices=["probekit", "paper"], help=argparse.SUPPRESS)
    ap.add_argument("--images", help=argparse.SUPPRESS)
    ap.add_argument("--meta", help=argparse.SUPPRESS)
    args = ap.parse_args()
    worker(args) if args.worker else main_parent(args)


if __name__ == "__main__":
    main()
