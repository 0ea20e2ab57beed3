#!/usr/bin/env bash
# Install the reference ("anchor") feature extractors into their own virtual environment,
# .venv-ipfx/ at the repository root: ipfx 2.1.2 (it pins pynwb==3.1.2, so it cannot share the
# project venv) and eFEL. Idempotent: re-running with everything installed does nothing.
#
#   bash benchmarks/setup_reference_envs.sh
#
# ipfx and eFEL are only RUN (as oracles by tests/ephys/test_ipfx_parity.py and by
# benchmarks/ephys_vs_anchors.py); their code is never imported by patchatlas.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=".venv-ipfx"
STAMP="$VENV/.installed-ipfx-2.1.2-efel"

if [ -f "$STAMP" ] && "$VENV/bin/python" -c "import ipfx, efel" >/dev/null 2>&1; then
  echo "reference env ready: $VENV"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# pyabf imports pytest at runtime (an ipfx dependency quirk), so it is listed explicitly.
"$VENV/bin/python" -m pip install --quiet "ipfx==2.1.2" "efel>=5.7" pytest
"$VENV/bin/python" -c "import ipfx.feature_extractor, efel; print('ipfx', ipfx.__version__ if hasattr(ipfx, '__version__') else '2.1.2', 'efel', efel.__version__)"
touch "$STAMP"
echo "reference env ready: $VENV"
