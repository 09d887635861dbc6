#!/usr/bin/env bash
# Every benchmark table in one command: bash bench/run.sh [--quick] [--only a,b,...]
# Add --litellm to put LiteLLM's proxy side by side in (a), (b) and (c) (its venv is made on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
args=()
for arg in "$@"; do
    if [ "$arg" = "--litellm" ]; then
        bash bench/litellm.sh --venv-only
        args+=(--litellm-venv bench/.litellm-venv)
    else
        args+=("$arg")
    fi
done
exec .venv/bin/python -m bench "${args[@]}"
