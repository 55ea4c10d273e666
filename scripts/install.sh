#!/usr/bin/env bash
# Install the workbench into .venv (created if missing).
#   scripts/install.sh          runtime: torch, diffusers, streamlit ... (requirements.txt)
#   scripts/install.sh --test   also the test tools (requirements-test.txt), Debian's chromium (browser test)
#                               and postgresql (the store tests run on SQLite and on a PostgreSQL server)
# torch is installed first, with pip's own options when you give them:
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu scripts/install.sh    # CPU-only torch (~200 MB)
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 scripts/install.sh  # a given CUDA build
#   TORCH_SPEC="torch==2.13.0" scripts/install.sh                              # a version (or any pip spec)
#   TORCH_PIP_ARGS="--extra-index-url URL --no-cache-dir" scripts/install.sh   # any other pip options
# Without them pip takes PyPI's default torch (on Linux x86_64 the CUDA build, several GB).
# pip shows its download progress; PIP_QUIET=1 hides it.
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

quiet=()
[ "${PIP_QUIET:-0}" = 1 ] && quiet=(-q)
torch_args=()
[ -n "${TORCH_INDEX_URL:-}" ] && torch_args+=(--index-url "$TORCH_INDEX_URL")
# shellcheck disable=SC2206  # TORCH_PIP_ARGS is a list of pip options, split on spaces on purpose
[ -n "${TORCH_PIP_ARGS:-}" ] && torch_args+=(${TORCH_PIP_ARGS})

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install "${quiet[@]}" --progress-bar on --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "Installing ${TORCH_SPEC:-torch}${torch_args[*]:+ with pip options: ${torch_args[*]}}"
  .venv/bin/python -m pip install "${quiet[@]}" --progress-bar on "${torch_args[@]}" "${TORCH_SPEC:-torch}"
fi
if [ "$with_tests" = 1 ]; then
  .venv/bin/python -m pip install "${quiet[@]}" --progress-bar on -r requirements-test.txt
else
  .venv/bin/python -m pip install "${quiet[@]}" --progress-bar on -r requirements.txt
fi
# The project itself, editable: `core` and `dashboard` import from anywhere (pages, scripts, tests).
.venv/bin/python -m pip install "${quiet[@]}" --no-deps --no-build-isolation -e .
