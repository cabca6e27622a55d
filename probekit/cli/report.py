"""``probekit report``: join results of several models/layers into one table and one plot."""
from __future__ import annotations

import click


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", default="results/report", show_default=True, type=click.Path(file_okay=False),
              help="Output folder for the joined results.json, results.csv, table.txt and figures.")
@click.option("--correction", default=None, type=click.Choice(["holm", "bonferroni", "none"]),
              help="Multiple-comparison correction (default: the one stored in the first results file).")
def report(results, out_dir, correction):
    """Join RESULTS (results.json files or their folders) of one dataset into one table and plot.

    \b
    Example:
      probekit report results/resnet18__color-dsprites results/vit_b_16__color-dsprites
    """
    from ..report import join_results, write_report

    joined = join_results(list(results))
    if correction:
        joined.meta["correction"] = correction
    click.echo(joined.format_table())
    written = write_report(joined, out_dir)
    files = [written["json"], written["csv"], *written["figures"]]
    click.echo("wrote " + ", ".join(str(p) for p in files))
