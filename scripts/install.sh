#!/usr/bin/env bash
# Install the workbench into .venv (created if missing).
#   scripts/install.sh          runtime: torch, diffusers, streamlit ... (requirements.txt)
#   scripts/install.sh --test   also the test tools (requirements-test.txt), Debian's chromium (browser test)
#                               and postgresql (the store tests run on SQLite and on a PostgreSQL server)
# TORCH_SPEC picks the torch build, e.g. TORCH_SPEC="torch==2.13.0" for the CPU wheel on a CPU box;
# the default takes PyPI's torch (CUDA on Linux x86_64).
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

if [ "$with_tests" = 1 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  have_pg=0; ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && have_pg=1
  if ! command -v chromium >/dev/null 2>&1 || [ "$have_pg" = 0 ]; then
    $SUDO apt-get update -qq
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  if [ "$have_pg" = 0 ]; then
    # PostgreSQL for the store tests, which start their own throwaway server (tests/pgserver.py): no
    # default cluster is created or started, and nothing recommended is pulled in.
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/igcs-tests.conf >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "${TORCH_SPEC:-torch}"
if [ "$with_tests" = 1 ]; then
  .venv/bin/python -m pip install -q -r requirements-test.txt
else
  .venv/bin/python -m pip install -q -r requirements.txt
fi
# The project itself, editable: `core` and `dashboard` import from anywhere (pages, scripts, tests).
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
