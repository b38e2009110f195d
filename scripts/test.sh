#!/usr/bin/env bash
# Installs everything the test suite needs and runs it: lint, docs, tests.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q --upgrade pip >/dev/null
# Builds the solver's compiled core (src/solver/, C++ through scikit-build-core) on the way;
# nothing compiles at run time.
python3 -m pip install -q -e ".[test,loaders,nwb,docs]"
python3 -c "import calab.core._solver as s; print('calab solver core:', s.isa())"

# Headless Chromium for the browser tests (Debian's package; no browser download).
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
fi

# The published reference package, in its own environment, for the compatibility tests.
if [ -x ../shared/tools/reference-env.sh ] || [ -f ../shared/tools/reference-env.sh ]; then
  CALAB_REFERENCE_PYTHON=$(bash ../shared/tools/reference-env.sh 2>/dev/null | tail -n 1) || true
  export CALAB_REFERENCE_PYTHON
fi

python3 -m ruff check calab tests benchmarks
python3 -m mypy  # configured in pyproject.toml: strict on calab.core, calab.io, errors, api
if [ -f mkdocs.yml ]; then
  python3 -m mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
fi
python3 -m pytest "$@"
