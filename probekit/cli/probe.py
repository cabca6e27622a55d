"""``probekit probe``: linear decoders on stored features -> table, results.json, results.csv, plot."""
from __future__ import annotations

import click


def _option_value(text: str):
    """Parse the VALUE of ``-o KEY=VALUE``: JSON when it parses (numbers, lists, true/null), else text."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def newest_store(root: str = "features"):
    """The most recently modified ``*.h5`` under ``root`` (the default when no --store is given)."""
    from pathlib import Path

    from ..errors import StoreError

    found = sorted(Path(root).rglob("*.h5"), key=lambda p: p.stat().st_mtime) if Path(root).is_dir() else []
    if not found:
        raise StoreError(f"no --store given and no *.h5 feature store under {root}/; run `probekit extract` "
                         "first or pass --store PATH")
    return found[-1]


@click.command()
@click.option("--store", "stores", multiple=True, type=click.Path(dir_okay=False),
              help="Feature store(s) (repeat for several models). Default: the newest *.h5 under features/.")
@click.option("--factors", default=None, help="Comma-separated factor names or aliases (default: all).")
@click.option("--layers", default=None, help="Comma-separated layers (default: every layer in the store).")
@click.option("--protocol", default="default", show_default=True,
              help="default | paper-imagenetx | paper-dislib")
@click.option("--backend", default="torch", show_default=True, help="torch | sklearn | cuml")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda")
@click.option("--seeds", default=5, show_default=True, type=int, help="Number of repeats (seeds 0..N-1).")
@click.option("--null", default=None, metavar="permutations:N",
              help="Label-permutation null: refit on N shuffled training labels per seed.")
@click.option("--correction", default="holm", show_default=True, type=click.Choice(["holm", "bonferroni", "none"]),
              help="Multiple-comparison correction of the significance markers.")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Protocol option, e.g. -o test_fraction=0.2 -o 'Cs=[0.1,1,10]' (repeatable).")
@click.option("--allow-partial", is_flag=True, help="Probe the committed rows of an incomplete store.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Output folder (default: results/<store stem>/).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def probe(stores, factors, layers, protocol, backend, device, seeds, null, correction, options, allow_partial,
          out_dir, quiet):
    """Decode factors of variation from stored features and report the scores.

    \b
    Examples:
      probekit probe --factors color,scale
      probekit probe --store features/resnet18__color-dsprites.h5 --null permutations:200
      probekit probe --store a.h5 --store b.h5 --protocol paper-dislib --seeds 3
    """
    from pathlib import Path

    from ..errors import ConfigError, ProbekitError
    from ..probes import probe_factors
    from ..report import write_report

    if not stores:
        stores = (str(newest_store()),)
        click.echo(f"store: {stores[0]} (newest under features/)", err=True)
    protocol_options = {}
    for text in options:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option must be KEY=VALUE, got {text!r}")
        protocol_options[key.strip()] = _option_value(value)
    results = probe_factors(list(stores), factors=factors, layers=layers, protocol=protocol, backend=backend,
                            device=device, seeds=seeds, null=null, allow_partial=allow_partial,
                            progress=not quiet, **protocol_options)
    results.meta["correction"] = correction
    skipped = {(r["factor"], r.get("note")) for r in results.rows if r.get("metric") == "skipped"}
    if all(r.get("metric") == "skipped" for r in results.rows):
        reasons = "; ".join(f"{f}: {note}" for f, note in sorted(skipped))
        raise ProbekitError(f"nothing was probed: every requested factor was skipped ({reasons}); "
                            "choose other --factors")
    for factor, note in sorted(skipped):
        click.echo(f"probekit: skipped factor {factor!r}: {note}", err=True)
    if out_dir is None:
        stems = [Path(s).stem for s in stores]
        out_dir = Path("results") / (stems[0] if len(stems) == 1 else "+".join(stems)[:120])
    click.echo(results.format_table())
    written = write_report(results, out_dir)
    files = [written["json"], written["csv"], *written["figures"]]
    click.echo("wrote " + ", ".join(str(p) for p in files))
