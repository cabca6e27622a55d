"""``probekit extract``: features of a backbone over a factor dataset -> HDF5 store."""
from __future__ import annotations

import click

DEFAULT_LIMIT = 2000  # keep in sync with probekit.extract.DEFAULT_LIMIT (not imported: keeps --help instant)


def parse_options(pairs) -> dict:
    """``("split=test", "size=64")`` -> ``{"split": "test", "size": 64}`` (numbers parsed, text kept)."""
    import json

    from ..errors import ConfigError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"dataset option {pair!r} is not KEY=VALUE; write e.g. -O split=test")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@click.command()
@click.argument("model")
@click.option("--dataset", default="color-dsprites", show_default=True, help="Registered dataset name (see `probekit datasets`).")
@click.option("--data-root", default=None, type=click.Path(),
              help="Official file or folder of a file-backed dataset (shapes3d, mpi3d-*, cars3d, smallnorb, ...).")
@click.option("--dataset-option", "-O", "dataset_options", multiple=True, metavar="KEY=VALUE",
              help="Extra dataset option, repeatable (e.g. -O split=test -O size=64).")
@click.option("--weights", default="default", show_default=True,
              help="'default' (pretrained, from the library cache), 'none' (seeded random init), an enum name, or a weights FILE.")
@click.option("--layers", default=None, help="Comma-separated layer names or indices (-1 = penultimate, -2 = the block before). Default: penultimate.")
@click.option("--pool", default="auto", show_default=True, help="auto | avg | cls | mean | flatten.")
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--num-workers", default=0, show_default=True, type=int, help="DataLoader worker processes.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N].")
@click.option("--dtype", default="float32", show_default=True, type=click.Choice(["float32", "float16"]))
@click.option("--limit", default=None, type=int, help=f"Seeded random subset of N rows [default: {DEFAULT_LIMIT}].")
@click.option("--full", is_flag=True, help="Extract every row of the dataset (ignores the default subset).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the subset, random inits and projections.")
@click.option("--image-size", default=None, type=int, help="Resize images to this side instead of the model's input size.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Output file [default: features/<model>__<dataset>.h5].")
@click.option("--resume", is_flag=True, help="Continue an interrupted store with the same settings.")
@click.option("--overwrite", is_flag=True, help="Replace an existing store.")
@click.option("--list-layers", is_flag=True, help="Print the model's layer names and exit.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def extract(model, dataset, data_root, dataset_options, weights, layers, pool, batch_size, num_workers, device, dtype, limit, full, seed, image_size,
            out, resume, overwrite, list_layers, quiet):
    """Extract features of MODEL over a dataset into an HDF5 feature store.

    \b
    MODEL: a torchvision name (resnet50, vit_b_16, ...), timm:<name>, random:<name>,
    pixels, random-projection, or ckpt:<run dir> from `probekit train`.
    The default dataset is the offline color-dSprites, with a seeded subset of 2000 images
    (--limit N or --full to change it). Without --resume/--overwrite an existing output is never touched.
    """
    from ..backbones import create_backbone
    from ..errors import ConfigError
    from ..extract import extract_features

    if full and limit is not None:
        raise ConfigError("--full and --limit exclude each other; pick one")
    if limit is not None and limit <= 0:
        raise ConfigError(f"--limit must be a positive number of samples, got {limit}")
    backbone = create_backbone(model, weights=weights, seed=seed, image_size=image_size)
    options = parse_options(dataset_options)
    if data_root:
        options["root"] = data_root
    if options:
        from ..data import create_dataset

        dataset = create_dataset(dataset, **options)
    if list_layers:
        for i, name in enumerate(backbone.layer_names):
            click.echo(f"{i - len(backbone.layer_names):>4}  {name}")
        return
    path = extract_features(backbone, dataset, out=out, layers=layers, pool=pool, batch_size=batch_size,
                            num_workers=num_workers, device=device, dtype=dtype,
                            limit=None if full else (limit or DEFAULT_LIMIT), seed=seed, resume=resume,
                            overwrite=overwrite, progress=not quiet)
    from ..store import FeatureStore

    with FeatureStore.open(path) as store:
        dims = ", ".join(f"{l} ({store.layer_dim(l)})" for l in store.layers)
        click.echo(f"wrote {path}: {store.n_rows} rows of {store.model_name} on {store.dataset_name}; layers: {dims}")
    click.echo(f"next: probekit probe --store {path}")
