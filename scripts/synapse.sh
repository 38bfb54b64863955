#!/usr/bin/env bash
# Install the Matrix homeserver (Synapse) that innobot's Matrix tests run against, in a virtual
# environment of its own (it must not share innobot's dependencies). Idempotent: a second run with
# the same pinned version does nothing. Prints the environment's directory.
#
#   scripts/synapse.sh            # installs into .venv-synapse next to this repository's root
#   SYNAPSE_VENV=/path scripts/synapse.sh
set -euo pipefail

SYNAPSE_VERSION="1.163.2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SYNAPSE_VENV:-$ROOT/.venv-synapse}"
STAMP="$VENV/.innobot-synapse-$SYNAPSE_VERSION"

if [[ -f "$STAMP" && -x "$VENV/bin/python" ]]; then
    echo "$VENV"
    exit 0
fi

# The interpreter innobot runs on (Python 3.11+); Synapse supports it too.
PYTHON="${SYNAPSE_PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then
            PYTHON="$(command -v "$candidate")"
            break
        fi
    done
fi
if [[ -z "$PYTHON" ]]; then
    echo "synapse.sh: no python3 found to create $VENV" >&2
    exit 1
fi

echo "synapse.sh: installing matrix-synapse $SYNAPSE_VERSION into $VENV" >&2
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "matrix-synapse==$SYNAPSE_VERSION" >&2
"$VENV/bin/python" -c "import synapse; print('synapse', synapse.__version__)" >&2
touch "$STAMP"
echo "$VENV"
