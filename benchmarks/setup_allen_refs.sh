#!/usr/bin/env bash
# Create .venv-allenmorph: the Allen Institute's neuron_morphology (with allensdk and its old
# numpy/pandas pins) for the Gouwens-set comparison in benchmarks/morphology_vs_anchors.py
# (worker: benchmarks/allen_reference.py). Non-commercial licence: run only, never copy.
# skeleton_keys itself is not on PyPI; the worker calls the neuron_morphology feature
# functions it is built on.
# Needs a Python 3.9 (allensdk 2.16 pins numpy<1.24 and pandas 1.5): set PYTHON=..., else the
# first of python3.9, pyenv's 3.9, is used. Takes ~3 min on 2 cores (gevent builds from
# source), so CI does not run it. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ALLEN_VENV:-.venv-allenmorph}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import neuron_morphology" 2>/dev/null; then
    echo "$VENV ready: neuron_morphology $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("neuron_morphology"))')"
    exit 0
fi
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    for c in python3.9 "$(pyenv root 2>/dev/null)/versions/3.9."*/bin/python3.9; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c "import sys; assert sys.version_info[:2] == (3, 9)" 2>/dev/null; then
            PYTHON="$c"
            break
        fi
    done
fi
if [ -z "$PYTHON" ]; then
    echo "no Python 3.9 found: set PYTHON=/path/to/python3.9" >&2
    exit 1
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "neuron_morphology==1.2.2"
"$VENV/bin/python" -c "import neuron_morphology; print('$VENV ready: neuron_morphology 1.2.2')"
