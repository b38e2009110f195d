"""Speed of two revisions of calab side by side in one process (A/B for solver changes).

Machine speed here drifts by 10-30% within minutes and differs between processes, so
two versions timed in separate runs (or even separate processes) cannot resolve a 5%
change. This script copies the ``calab`` package of each revision (a git revision, or
``WORKTREE`` for the checkout as it is) under its own package name, imports both into
one interpreter and alternates their runs on the reference cases. It prints per case
the median times and the median of the paired ratios (A / B; above 1 means B is
faster). Two copies of one revision agree to about 1.5%.

Compiled revisions (those with ``src/solver/``, the C++ core): the copy gets its own
build of the extension ``calab.core._solver`` (its module name does not depend on the
package's, so ``calab_a.core._solver`` and ``calab_b.core._solver`` load side by
side). ``WORKTREE`` takes the extension installed in this environment (run
``pip install -e .`` after changing ``src/solver/``); a git revision is built with
``pip wheel`` (one to three minutes) and its extension taken from the wheel. Older
numba revisions need ``pip install numba`` in this environment.

Usage::

    python benchmarks/ab_revisions.py HEAD~1 WORKTREE [--mode banded] [--repeats 15]
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMPORT = re.compile(r"\b(from|import) calab\b|\bcalab\.(?=[a-z_]+\b)")


def copy_revision(revision: str, name: str, into: Path) -> None:
    """The ``calab`` package of ``revision`` as package ``name`` under ``into``."""
    target = into / name
    if revision == "WORKTREE":
        shutil.copytree(ROOT / "calab", target, ignore=shutil.ignore_patterns("__pycache__"))
        if (ROOT / "src" / "solver").is_dir():
            import calab.core._solver as installed

            shutil.copy2(installed.__file__, target / "core")
    else:
        archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        source = into / f"_extract_{name}"
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(source, filter="data")
        if (source / "src" / "solver").is_dir():
            _extract_extension(source, target.parent / f"_wheel_{name}")
        (source / "calab").rename(target)
    for path in target.rglob("*.py"):
        text = path.read_text()
        path.write_text(IMPORT.sub(lambda m: _renamed(m, name), text))


def _extract_extension(source: Path, wheel_dir: Path) -> None:
    """Build the revision in ``source`` as a wheel and put its compiled core in place."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(wheel_dir), str(source)], check=True)
    wheel = next(wheel_dir.glob("calab-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith("calab/core/_solver"):
                (source / member).write_bytes(archive.read(member))


def _renamed(match: re.Match, name: str) -> str:
    return f"{match.group(1)} {name}" if match.group(1) else f"{name}."


def time_pair(packages: list, case: Path, mode: str, repeats: int) -> tuple[list, list]:
    """Alternating runs of both packages on one case (order swapped every round)."""
    traces = np.load(case / "traces.npy")
    times: tuple[list, list] = ([], [])
    for package in packages:
        package.deconvolve_from_export(traces, case / "export.json", conv_mode=mode)
    for round_ in range(repeats):
        for i in (0, 1) if round_ % 2 == 0 else (1, 0):
            start = time.perf_counter()
            packages[i].deconvolve_from_export(traces, case / "export.json", conv_mode=mode)
            times[i].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="git revision, or WORKTREE")
    parser.add_argument("b", help="git revision, or WORKTREE")
    parser.add_argument("--mode", default="banded", choices=["fft", "banded"])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        names = ["calab_a", "calab_b"]
        for revision, name in zip((args.a, args.b), names, strict=True):
            copy_revision(revision, name, Path(tmp))
        sys.path.insert(0, tmp)
        packages = [importlib.import_module(name) for name in names]
        cases = sorted(p.parent for p in (ROOT.parent / "shared" / "reference").glob("*/case.json"))
        print(f"{'case':<24}{'A':>10}{'B':>10}{'A/B (paired median)':>22}")
        for case in cases:
            a, b = time_pair(packages, case, args.mode, args.repeats)
            paired = statistics.median(x / y for x, y in zip(a, b, strict=True))
            print(f"{case.name:<24}{statistics.median(a) * 1e3:>8.1f}ms"
                  f"{statistics.median(b) * 1e3:>8.1f}ms{paired:>22.3f}")


if __name__ == "__main__":
    main()
