#!/usr/bin/env bash
# Times create, wake, cold start, stop, snapshot and duplicate through Particle beside the same
# steps with bare QEMU, plus host memory of sleeping and idle particles; see bench/lifecycle.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/lifecycle.py "$@"
