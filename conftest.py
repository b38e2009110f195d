"""Shared by the tests and the doctests of ``calab/``."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _doctests_write_into_a_temporary_folder(request: pytest.FixtureRequest) -> None:
    """Examples that write files (``"rec.zarr"``, ``"out.zarr"``) do so in a fresh folder."""
    if isinstance(request.node, pytest.DoctestItem):
        tmp_path = request.getfixturevalue("tmp_path")
        request.getfixturevalue("monkeypatch").chdir(tmp_path)
