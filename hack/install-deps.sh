#!/usr/bin/env bash
# Installs what building and testing skiff needs on a fresh Debian machine.
set -euo pipefail
command -v go >/dev/null || { echo "skiff needs Go 1.26 on PATH" >&2; exit 1; }
if ! command -v kubectl >/dev/null; then
  echo "note: stock kubectl is not on PATH; the kubectl tests need it" >&2
fi
