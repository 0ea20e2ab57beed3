#!/usr/bin/env bash
# The BluePyOpt + NEURON baseline of benchmarks/biophys.py, in its own virtual environment
# (.venv-bluepyopt/ at the repository root): bluepyopt (which brings DEAP and eFEL) and NEURON.
# Idempotent: re-running with everything installed does nothing.
#
#   bash benchmarks/setup_biophys_ref.sh
#
# BluePyOpt is only RUN (by benchmarks/_bluepyopt_worker.py, as the baseline); its code is never
# imported by patchatlas.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=".venv-bluepyopt"
STAMP="$VENV/.installed-bluepyopt-neuron"

if [ -f "$STAMP" ] && "$VENV/bin/python" -c "import bluepyopt, efel, neuron" >/dev/null 2>&1; then
  echo "baseline env ready: $VENV"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "bluepyopt>=1.14" "efel>=5.7" "neuron>=9"
"$VENV/bin/python" -c "import bluepyopt, efel, neuron; print('bluepyopt', bluepyopt.__version__, 'efel', efel.__version__, 'neuron', neuron.__version__)"
touch "$STAMP"
echo "baseline env ready: $VENV"
