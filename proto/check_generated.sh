#!/usr/bin/env bash
# Fail when entrypoints/grpc/generated/ does not match what proto/ai_service.proto generates.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FRESH="$(mktemp -d)"
trap 'rm -rf "$FRESH"' EXIT

"$ROOT/proto/generate.sh" "$FRESH/generated" >/dev/null
if ! diff -r -x __pycache__ "$FRESH/generated" "$ROOT/entrypoints/grpc/generated"; then
    echo "check_generated.sh: entrypoints/grpc/generated/ is stale; run proto/generate.sh and commit the result" >&2
    exit 1
fi
echo "generated gRPC code matches proto/ai_service.proto"
