#!/bin/sh
# Compares skiff's printers with upstream Kubernetes 1.37's on random objects.
# Needs k8s.io/kubernetes@v1.37.0 and its staging modules in the module cache
# (no network: GOPROXY=off). Usage: run.sh [seed] [iterations]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=$(go env GOMODCACHE)/cache/download/k8s.io

mkdir -p "$work/printers" "$work/stub/sample-apiserver" "$work/stub/cri-streaming"
for f in "$here"/../../*.go; do
	case "$f" in *_test.go) ;; *) cp "$f" "$work/printers/" ;; esac
done
cat > "$work/printers/export.go" <<'GO'
package printers

import "k8s.io/apimachinery/pkg/runtime/schema"

func PrintedResources() map[schema.GroupResource]bool { return printedResources() }
GO
cp "$here"/*_test.go "$work/"
echo 'module k8s.io/sample-apiserver' > "$work/stub/sample-apiserver/go.mod"
echo 'module k8s.io/cri-streaming' > "$work/stub/cri-streaming/go.mod"
{
	printf 'module upstreamdiff\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v1.37.0\n\nreplace (\n'
	for m in $(ls "$cache"); do
		case $m in kubernetes | gengo | klog | utils | kube-openapi) continue ;; esac
		v=v0.37.0
		[ -f "$cache/$m/@v/v0.37.2.zip" ] && v=v0.37.2
		printf '\tk8s.io/%s => k8s.io/%s %s\n' "$m" "$m" "$v"
	done
	printf '\tk8s.io/sample-apiserver => ./stub/sample-apiserver\n\tk8s.io/cri-streaming => ./stub/cri-streaming\n)\n'
} > "$work/go.mod"
cd "$work"
GOPROXY=off GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1
SEED=${1:-1} ITERATIONS=${2:-500} GOPROXY=off go test -count=1 .
