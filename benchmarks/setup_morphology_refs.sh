#!/usr/bin/env bash
# Create .venv-neurom (NeuroM + MorphIO, the permissive BSD/Apache anchors) for the cross-check
# test (tests/morphology/test_neurom_crosscheck.py) and benchmarks/morphology_vs_anchors.py.
# Idempotent: re-running it does nothing when the venv already imports neurom.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${NEUROM_VENV:-.venv-neurom}"
PYTHON="${PYTHON:-python3}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import neurom, morphio" 2>/dev/null; then
    echo "$VENV ready: neurom $("$VENV/bin/python" -c 'import neurom; print(neurom.__version__)')"
    exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "neurom>=4,<5" numpy
"$VENV/bin/python" -c "import neurom; print('$VENV ready: neurom', neurom.__version__)"
