#!/usr/bin/env bash
# Regenerate the Python messages and grpclib stubs of proto/ai_service.proto with
# betterproto2's compiler, using grpcio-tools as protoc (no system protoc needed).
#
#   proto/generate.sh            writes entrypoints/grpc/generated/ (commit the result)
#   proto/generate.sh OUT_DIR    writes into OUT_DIR instead (used by check_generated.sh)
#
# PYTHON selects the interpreter (default: the project's .venv); its bin/ must hold
# protoc-gen-python_betterproto2, which the betterproto2-compiler package installs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
OUT="${1:-$ROOT/entrypoints/grpc/generated}"
BIN_DIR="$(dirname "$PYTHON")"

if [[ ! -x "$BIN_DIR/protoc-gen-python_betterproto2" ]]; then
    echo "generate.sh: $BIN_DIR has no protoc-gen-python_betterproto2; install the test extra (betterproto2-compiler)" >&2
    exit 2
fi

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

PATH="$BIN_DIR:$PATH" "$PYTHON" -m grpc_tools.protoc \
    -I "$ROOT/proto" \
    --python_betterproto2_out="$STAGE" \
    --python_betterproto2_opt=client_generation=async,server_generation=async,google_protobuf_descriptors \
    "$ROOT/proto/ai_service.proto" >/dev/null

rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
cp -r "$STAGE" "$OUT"
echo "generated $OUT"
