"""``probekit models`` and ``probekit datasets``: what can be named on the command line."""
from __future__ import annotations

import click


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Also list every torchvision classification model.")
def models(show_all):
    """List backbone names (torchvision names, timm:<name>, random:<name>, pixels, ckpt:<dir>, ...)."""
    from ..backbones import BACKBONES

    described = BACKBONES.describe()
    tv = [n for n, h in described.items() if h == "torchvision classification model"]
    for name, text in described.items():
        if name not in tv:
            click.echo(f"{name:<24} {text}")
    if show_all:
        click.echo("torchvision: " + ", ".join(tv))
    else:
        click.echo(f"...and {len(tv)} torchvision models (resnet18, resnet50, vit_b_16, convnext_tiny, ...): --all lists them")


@click.command()
def datasets():
    """List dataset names and their factors."""
    from ..data import DATASETS, create_dataset

    for name, text in DATASETS.describe().items():
        click.echo(f"{name:<20} {text}")
        if not name.endswith("<...>"):
            try:
                ds = create_dataset(name)
            except Exception:  # file-backed datasets need a root; skip their factor listing
                continue
            facts = ", ".join(f"{f.name} ({f.kind}, {f.n_values})" for f in ds.factors)
            click.echo(f"{'':<20} {len(ds):,} images {ds.image_shape}; factors: {facts}")
