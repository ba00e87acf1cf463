#!/usr/bin/env bash
# Installs what building and testing skiff needs on a fresh Debian machine.
set -euo pipefail
command -v go >/dev/null || { echo "skiff needs Go 1.26 on PATH" >&2; exit 1; }
if ! command -v kubectl >/dev/null; then
  echo "note: stock kubectl is not on PATH; the kubectl tests need it" >&2
fi
# conformance/images fetches Debian packages with apt-get download (it never
# installs them) and unpacks them with dpkg-deb: apt needs its package lists.
if command -v apt-cache >/dev/null && ! apt-cache show busybox-static >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
  else
    echo "note: run 'apt-get update' as root so conformance/images can fetch Debian packages" >&2
  fi
fi
for tool in apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || echo "note: $tool is missing; conformance/images needs it" >&2
done
