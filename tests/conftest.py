"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def reference_python() -> str:
    """Interpreter of the published calab 0.3.0 environment, or skip."""
    path = os.environ.get("CALAB_REFERENCE_PYTHON")
    if not path or not Path(path).exists():
        pytest.skip("reference environment not built (CALAB_REFERENCE_PYTHON unset)")
    return path


def reference_cases() -> list[Path]:
    """The case folders of ../shared/reference (empty when absent)."""
    if not REFERENCE_DIR.is_dir():
        return []
    return sorted(p for p in REFERENCE_DIR.iterdir() if (p / "case.json").is_file())
