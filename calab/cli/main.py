"""The ``calab`` command group.

Subcommands live in their own modules and are imported only when invoked, so
``calab --help`` stays fast and a broken optional layer cannot break the rest.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from calab._version import __version__

# command name -> "module:attribute"
SUBCOMMANDS: dict[str, str] = {
    "deconvolve": "calab.cli.deconvolve:deconvolve",
    "info": "calab.cli.info:info",
    "demo": "calab.cli.demo:demo",
    "tune": "calab.cli.tune:tune",
    "app": "calab.cli.tune:app",
    "convert": "calab.cli.convert:convert",
    "serve": "calab.cli.serve:serve",
    "jobs": "calab.cli.jobs:jobs",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy_subcommands: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            module_name, attr = self.lazy_subcommands[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; an error of the user's making becomes ``Error: ...``."""
        from calab.cli.options import USER_ERRORS, user_error  # loaded with the first command

        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except USER_ERRORS as error:
            raise user_error(error) from None


@click.group(cls=LazyGroup, lazy_subcommands=SUBCOMMANDS)
@click.version_option(__version__, prog_name="calab")
def main() -> None:
    """calab: deconvolve calcium-imaging traces, from one trace to a Dask cluster."""
