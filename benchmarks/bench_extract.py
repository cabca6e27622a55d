"""Extraction throughput vs a bare forward loop, and peak memory at two dataset sizes.

Baseline: the same backbone's forward pass over the same batches, pre-built in memory (rendered,
preprocessed, same batch size, device and dtype): the best any extractor could do. probekit's number
includes rendering, preprocessing, hooks, pooling and writing HDF5 with a commit per batch.

    python benchmarks/bench_extract.py                      # defaults below
    python benchmarks/bench_extract.py --n 512 --sizes 500,5000   # quicker
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch


def bare_loop(model: str, n: int, batch_size: int, image_size: int, seed: int) -> float:
    """Images per second of backbone(x) alone over pre-built batches."""
    from probekit.backbones import create_backbone
    from probekit.data import create_dataset

    bb = create_backbone(model, weights="none", seed=seed, image_size=image_size)
    ds = create_dataset("color-dsprites", limit=n, seed=seed)
    batches = [bb.preprocessing(ds.load_images(list(range(i, min(n, i + batch_size)))))
               for i in range(0, n, batch_size)]
    with torch.inference_mode():
        bb.model(batches[0])  # warm-up, as extraction's dims probe does
        t = time.perf_counter()
        for x in batches:
            bb.model(x)
        return n / (time.perf_counter() - t)


def probekit_run(model: str, n: int, batch_size: int, image_size: int, seed: int, out: str) -> float:
    from probekit import extract_features

    t = time.perf_counter()
    extract_features(model, "color-dsprites", weights="none", seed=seed, image_size=image_size, limit=n,
                     batch_size=batch_size, out=out, progress=False, overwrite=True)
    return n / (time.perf_counter() - t)


def peak_rss_mb(model: str, n: int, batch_size: int, image_size: int, out: str) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of one extraction in a fresh process (measured by that process)."""
    code = ("import resource, time; from probekit import extract_features; t=time.perf_counter(); "
            f"extract_features({model!r}, 'color-dsprites', weights='none', image_size={image_size}, limit={n}, "
            f"batch_size={batch_size}, out={out!r}, progress=False, overwrite=True); "
            "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, kb = res.stdout.strip().splitlines()[-1].split()
    return float(kb) / 1024.0, float(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--n", type=int, default=1024, help="images for the throughput comparison")
    ap.add_argument("--sizes", default="2000,20000", help="two dataset sizes for peak RSS (small,large)")
    ap.add_argument("--rss-image-size", type=int, default=32, help="input size for the RSS runs (keeps them short)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory() as tmp:
        ours, bare = [], []
        for r in range(args.repeats):  # interleaved so that machine noise hits both alike
            bare.append(bare_loop(args.model, args.n, args.batch_size, args.image_size, seed=r))
            ours.append(probekit_run(args.model, args.n, args.batch_size, args.image_size, r, f"{tmp}/t.h5"))
        b, o = max(bare), max(ours)
        print(f"throughput  {args.model} @ {args.image_size}px, batch {args.batch_size}, n={args.n}, best of {args.repeats}:")
        print(f"  bare forward loop   {b:8.1f} img/s   (runs: {', '.join(f'{x:.1f}' for x in bare)})")
        print(f"  probekit extract    {o:8.1f} img/s   (runs: {', '.join(f'{x:.1f}' for x in ours)})")
        print(f"  ratio probekit/bare {o / b:8.3f}   (goal >= 0.9)")

        small, large = (int(s) for s in args.sizes.split(","))
        rss = {}
        for n in (small, large):
            rss[n] = peak_rss_mb(args.model, n, args.batch_size, args.rss_image_size, f"{tmp}/rss_{n}.h5")
            print(f"  peak RSS n={n:>7}: {rss[n][0]:8.1f} MB  ({rss[n][1]:.1f} s)")
        growth = rss[large][0] / rss[small][0] - 1
        print(f"  RSS growth {small} -> {large} rows: {100 * growth:+.1f}%   (goal < +10%)")
        print(json.dumps({"bare_img_s": b, "probekit_img_s": o, "ratio": o / b,
                          "rss_mb": {str(k): v[0] for k, v in rss.items()}, "rss_growth": growth}))


if __name__ == "__main__":
    main()
