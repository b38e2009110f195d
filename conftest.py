"""Shared by the tests and the doctests of ``calab/``."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _doctests_write_into_a_temporary_folder(request: pytest.FixtureRequest) -> None:
    """Examples that write files (``"rec.zarr"``, ``"out.zarr"``) do so in a fresh folder."""
    if isinstance(request.node, pytest.DoctestItem):
        tmp_path = request.getfixturevalue("tmp_path")
        request.getfixturevalue("monkeypatch").chdir(tmp_path)


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):  # type: ignore[no-untyped-def]
    """Run ``--doctest-modules`` over ``calab/`` only: the tests' own modules (their
    several ``conftest.py`` files above all) are not doctest modules."""
    collected = yield
    tests = parent.config.rootpath / "tests"
    if file_path.is_relative_to(tests):
        collected = [item for item in collected if type(item).__name__ != "DoctestModule"]
    return collected
