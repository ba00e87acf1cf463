#!/usr/bin/env bash
# Regenerates every generated file in the tree by running the //go:generate
# lines: defaulters (defaulter-gen, apis/<group>/<version>) and OpenAPI
# definitions (openapi-gen, apis/openapi). The generators are pinned in
# hack/tools.go, so their versions come from go.mod.
#
# Usage: hack/update-codegen.sh [generator-regexp]
#   e.g. hack/update-codegen.sh defaulter-gen   # defaulters only
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ $# -gt 0 ]]; then
	go generate -run "$1" ./...
else
	go generate ./...
fi
