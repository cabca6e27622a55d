"""``probekit train``: cross-entropy training on one factor -> a run directory usable as ``ckpt:<dir>``."""
from __future__ import annotations

import click

ARCH_CHOICES = ["convnet-small", "linear", "mlp", "resnet18"]  # keep in sync with probekit.backbones.archs.ARCHS


@click.command()
@click.option("--dataset", default=None, help="Registered dataset name (see `probekit datasets`). [default: dsprites]")
@click.option("--target", default=None, help="Factor to classify (categorical or binary), e.g. shape. [default: shape]")
@click.option("--arch", default=None, type=click.Choice(ARCH_CHOICES),
              help="Architecture. [default: convnet-small; the paper: mlp and resnet18]")
@click.option("--epochs", default=None, type=int, help="Maximum number of epochs. [default: 100]")
@click.option("--batch-size", default=None, type=int, help="Batch size. [default: 4096]")
@click.option("--lr", default=None, type=float, help="Adam learning rate. [default: 0.001]")
@click.option("--val-fraction", default=None, type=float, help="Validation share (early stopping). [default: 0.1]")
@click.option("--test-fraction", default=None, type=float, help="Held-out test share. [default: 0.1]")
@click.option("--limit", default=None, type=int, help="Train on a seeded random subset of N images. [default: 50000]")
@click.option("--full", is_flag=True, help="Use every image of the dataset (the paper's setup).")
@click.option("--seed", default=None, type=int, help="Seed of the subset, split, init and data order. [default: 0]")
@click.option("--device", default=None, help="auto | cpu | cuda | cuda:N. [default: auto]")
@click.option("--target-val-acc", default=None, type=float, help="Stop once val accuracy exceeds it. [default: 0.999]")
@click.option("--eval-every", default=None, type=int, help="Validate every N epochs. [default: 1]")
@click.option("--checkpoint-every", default=None, type=int,
              help="Also checkpoint every N steps (0: per epoch). [default: 0]")
@click.option("--precision", default=None, type=click.Choice(["fp32", "bf16"]),
              help="Compute precision. [default: fp32]")
@click.option("--num-workers", default=None, type=int, help="Processes that render the image cache. [default: 0]")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Run directory. [default: runs/<dataset>-<target>-<arch>, -seed<N> appended unless 0]")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint (same options).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(dataset, target, arch, epochs, batch_size, lr, val_fraction, test_fraction, limit, full, seed, device,
          target_val_acc, eval_every, checkpoint_every, precision, num_workers, out, resume, quiet):
    """Train a network with cross-entropy on one factor of a factor dataset.

    \b
    The paper's setup (Adam, lr 1e-3, batch 4096, <= 100 epochs, stop at val acc > 0.999, random
    80/10/10 split) on a 50,000-image subset by default; --full trains on the whole dataset.
    The run directory comes back as a backbone: probekit extract ckpt:<run dir> ...
    \b
    Examples:
      probekit train --dataset dsprites --target shape --arch mlp --out runs/mlp-shape
      probekit train --out runs/mlp-shape --resume
    """
    import time

    from ..errors import ConfigError
    from ..train import TrainConfig
    from ..train import train as run_training
    from ..train.rundir import read_summary, stored_config

    if full and limit is not None:
        raise ConfigError("--full and --limit exclude each other; pick one")
    given = {k: v for k, v in dict(dataset=dataset, target=target, arch=arch, epochs=epochs, batch_size=batch_size,
                                   lr=lr, val_fraction=val_fraction, test_fraction=test_fraction, limit=limit,
                                   seed=seed, device=device, target_val_acc=target_val_acc, eval_every=eval_every,
                                   checkpoint_every=checkpoint_every, precision=precision, num_workers=num_workers,
                                   out=out).items() if v is not None}
    if full:
        given["limit"] = None
    if resume:
        if out is None:
            raise ConfigError("--resume needs --out: the run directory to continue (e.g. --out runs/NAME)")
        config = stored_config(out).replace(**given)  # unspecified options: the run's own values
    else:
        config = TrainConfig(**given)
    start = time.perf_counter()
    run_dir = run_training(config, resume=resume, progress=not quiet)
    s = read_summary(run_dir)
    sizes = s["split_sizes"]
    acc = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    click.echo(f"trained {s['arch']} on {s['dataset']}/{s['target']} ({sizes['train']:,} train / {sizes['val']:,} val"
               f" / {sizes['test']:,} test images): {s['epochs_run']} epochs, {s['steps']} steps, "
               f"{s['train_time_s']:.1f} s of training ({time.perf_counter() - start:.1f} s in this call)")
    click.echo(f"best val acc {acc(s['best_val_acc'])} (epoch {s['best_epoch']}), final val acc {acc(s['val_acc'])}, "
               f"test acc {acc(s['test_acc'])}; stopped: {s['stop_reason']}")
    click.echo(f"checkpoint: {s['checkpoint']}  (held-out split: {run_dir}/split.npz)")
    click.echo(f"next: {s['extract_command']}")
