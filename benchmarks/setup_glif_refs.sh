#!/usr/bin/env bash
# Create .venv-allensdk: the Allen SDK 2.16.2 (its GLIF simulator) in its own NumPy-1 environment
# (allensdk pins numpy<1.24, pandas==1.5.3, scipy<1.11), for the Euler-parity test
# tests/models/glif/test_references.py and benchmarks/glif.py. The Allen SDK carries a
# non-commercial licence: it is only run, never imported by patchatlas or copied.
# NEST (the other GLIF oracle) works with NumPy 2 and comes with the project's `dev` extra.
# Idempotent; ~2-3 min on 2 cores the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=".venv-allensdk"
STAMP="$VENV/.installed-allensdk-2.16.2"
if [ -f "$STAMP" ] && "$VENV/bin/python" -c "import allensdk.model.glif.glif_neuron" >/dev/null 2>&1; then
  echo "reference env ready: $VENV"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "allensdk==2.16.2"
"$VENV/bin/python" -c "import allensdk, numpy; from allensdk.model.glif.glif_neuron import GlifNeuron; print('allensdk', allensdk.__version__, 'numpy', numpy.__version__)"
touch "$STAMP"
echo "reference env ready: $VENV"
