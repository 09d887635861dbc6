#!/usr/bin/env bash
# Every benchmark table in one command: bash bench/run.sh [--quick | --smoke] [--only a,b,...]
# Add --litellm to put LiteLLM's proxy side by side in (a), (b) and (c) (its venv is made on first use).
# Progress (scenario, step, time left) goes to stderr; the tables to stdout and bench/out/<time>/results.md.
# Then the tables are drawn as PNG charts into bench/out/<time>/ and bench/charts/ (shown by RESULTS.md),
# with matplotlib from a venv of its own (bench/.plot-venv, git-ignored): a benchmark-only dependency.
# --no-charts skips them (the smoke run in .ci/run draws none).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
MATPLOTLIB_VERSION="3.11.2"
PLOT_VENV=bench/.plot-venv
args=()
charts=1
for arg in "$@"; do
    case "$arg" in
        --litellm)
            bash bench/litellm.sh --venv-only
            args+=(--litellm-venv bench/.litellm-venv)
            ;;
        --no-charts|--smoke)
            charts=0
            [ "$arg" = "--smoke" ] && args+=(--smoke)
            ;;
        *) args+=("$arg") ;;
    esac
done
started=$(date +%s)
.venv/bin/python -m bench "${args[@]}"
[ "$charts" = 1 ] || exit 0
tables=$(find bench/out -name tables.json -newermt "@$started" -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2)
if [ -z "$tables" ]; then
    echo "no tables.json from this run: no charts" >&2
    exit 0
fi
if ! "$PLOT_VENV/bin/python" -c "import sys; from importlib.metadata import version; sys.exit(version('matplotlib') != '$MATPLOTLIB_VERSION')" 2>/dev/null; then
    echo "making $PLOT_VENV with matplotlib==$MATPLOTLIB_VERSION ..." >&2
    python3 -m venv "$PLOT_VENV"
    "$PLOT_VENV/bin/pip" install -q "matplotlib==$MATPLOTLIB_VERSION"
fi
"$PLOT_VENV/bin/python" bench/charts.py "$tables" "$(dirname "$tables")" bench/charts
