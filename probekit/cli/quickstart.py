"""``probekit quickstart``: the README's main job, offline, in a few minutes on a laptop CPU."""
from __future__ import annotations

import click


@click.command()
@click.option("--out", default="quickstart", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the training run, the feature stores and the results.")
@click.option("--limit", default=30_000, show_default=True, type=int, help="color-dSprites images (80/10/10 split).")
@click.option("--epochs", default=4, show_default=True, type=int, help="Training epochs at most (early stop at 99.9% val acc).")
@click.option("--seeds", default=3, show_default=True, type=int, help="Probe repeats.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def quickstart(out, limit, epochs, seeds, seed, device, quiet):
    """Train a small CNN on color-dSprites shapes, then probe what it learned about every factor.

    \b
    1. cross-entropy training of convnet-small on the `shape` factor (probekit train);
    2. features of the held-out test images from the trained network, the same
       architecture at random init, and the raw pixels (probekit extract);
    3. linear probes for every factor with the default protocol (probekit probe);
    4. a side-by-side table, results.json/results.csv and figures in OUT/results.
    Re-running continues where an interrupted run stopped.
    """
    from ..quickstart import QuickstartConfig, run_quickstart

    cfg = QuickstartConfig(out=out, limit=limit, epochs=epochs, probe_seeds=seeds, seed=seed, device=device)
    res = run_quickstart(cfg, progress=not quiet, echo=click.echo)
    s = res["train_summary"]
    click.echo("")
    click.echo(f"trained {cfg.arch} on '{cfg.target}': test accuracy {s.get('test_acc', float('nan')):.4f} "
               f"after {s.get('epochs_run', s.get('epoch', '?'))} epoch(s)")
    click.echo("")
    click.echo("Linear read-out of every factor from held-out images (test split; balanced accuracy for")
    click.echo("categorical factors, R^2 for continuous ones, R^2 of the (sin, cos) embedding for orientation):")
    click.echo(res["table"])
    click.echo("")
    t = res["times"]
    click.echo(f"time: train {t['train']:.0f}s, extract {t['extract']:.0f}s, probe {t['probe']:.0f}s, total {t['total']:.0f}s")
    click.echo("wrote " + ", ".join(str(p) for p in [res["files"]["json"], res["files"]["csv"], *res["files"]["figures"]]))
