"""The ``probekit`` command line: a thin click layer, one public API call per command.

Commands live in their own modules and are imported only when run, so ``probekit --help`` stays
instant (no torch import). A :class:`probekit.errors.ProbekitError` becomes one line on stderr and
exit status 2, never a traceback.
"""
from __future__ import annotations

import importlib

import click

from ..errors import ProbekitError

# command name -> "module:attribute" (module relative to probekit.cli)
COMMANDS = {
    "extract": "extract:extract",
    "probe": "probe:probe",
    "report": "report:report",
    "train": "train:train",
    "simulate": "simulate:simulate",
    "quickstart": "quickstart:quickstart",
    "models": "listing:models",
    "datasets": "listing:datasets",
}


class _UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None):
        click.echo(f"probekit: error: {self.message}", err=True)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use; probekit errors print as one line."""

    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx, name):
        return self._load(name)

    @staticmethod
    def _load(name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{module}":
                return None  # command not built in this version
            raise
        return getattr(mod, attr)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ProbekitError as e:
            raise _UserError(str(e).splitlines()[0] if str(e) else type(e).__name__) from e
        except KeyboardInterrupt:
            click.echo("probekit: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="probekit")
def cli():
    """probekit: how well can each factor of variation be read out of a vision model's features?

    \b
    Typical session (offline, on the procedural color-dSprites):
      probekit extract resnet18 --weights none     # features -> features/<model>__<dataset>.h5
      probekit probe --factors color,scale         # linear decoders -> table, JSON, CSV, plot
      probekit quickstart                          # train, extract, probe: the paper's story
    """


def main(argv=None):
    """Console-script entry point."""
    cli.main(args=argv, prog_name="probekit")
