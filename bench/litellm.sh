#!/usr/bin/env bash
# The gateway and LiteLLM's proxy side by side, from one run: scenarios (a), (b) and (c) against the
# same fake upstream, both columns and their ratio.  bash bench/litellm.sh [--quick]
#
# LiteLLM gets its own virtual environment (bench/.litellm-venv, git-ignored): it pins boto3/openai
# versions the gateway's venv cannot have. The version is pinned; never 1.82.7 or 1.82.8 (compromised
# releases), and the 1.107.0 release was reported compromised too. Newer releases' [proxy] extra needs
# a litellm-proxy package that the registry here does not carry, hence 1.83.14.
# The master key comes from LITELLM_MASTER_KEY, else a random one is made for the run.
set -euo pipefail
cd "$(dirname "$0")/.."
LITELLM_VERSION="1.83.14"
VENV=bench/.litellm-venv
case "$LITELLM_VERSION" in 1.82.7|1.82.8|1.107.0) echo "refusing LiteLLM $LITELLM_VERSION" >&2; exit 2;; esac
if ! "$VENV/bin/python" -c "import litellm, sys; from importlib.metadata import version; sys.exit(version('litellm') != '$LITELLM_VERSION')" 2>/dev/null; then
    echo "making $VENV with litellm[proxy]==$LITELLM_VERSION ..."
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION"
fi
if [ "${1:-}" = "--venv-only" ]; then exit 0; fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec .venv/bin/python -m bench --only a,b,c --litellm-venv "$VENV" "$@"
