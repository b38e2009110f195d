"""The ``calab`` command-line interface (click)."""

from calab.cli.main import main

__all__ = ["main"]
