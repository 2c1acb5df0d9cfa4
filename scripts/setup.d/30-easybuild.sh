#!/usr/bin/env bash
# EasyBuild 5.4.1 (framework, easyblocks and the 11,896-easyconfig collection) in the project venv,
# for the real `eb` build test, the EasyConfigParser agreement sample and benchmarks/easyconfigs.py.
# Lmod and the compilers come from scripts/apt.d/easybuild.txt. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
EB_VERSION=5.4.1
if .venv/bin/python - "$EB_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if all(version(p) == sys.argv[1] for p in
                  ("easybuild-framework", "easybuild-easyblocks", "easybuild-easyconfigs")) else 1)
PY
then
  exit 0
fi
.venv/bin/python -m pip install -q "easybuild-framework==$EB_VERSION" \
  "easybuild-easyblocks==$EB_VERSION" "easybuild-easyconfigs==$EB_VERSION"
