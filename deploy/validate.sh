#!/usr/bin/env bash
# Offline validation of everything in deploy/. Exits non-zero on any failure and
# prints what it checked. Run from anywhere: bash deploy/validate.sh
#
#   1. shell scripts parse (and pass shellcheck when it is installed)
#   2. deploy/.env.example and k8s/base/config.env name exactly the settings the gateway reads
#   3. kubectl kustomize renders base, overlays/dev and overlays/prod
#   4. kubernetes-validate --strict (Kubernetes $K8S_VERSION schemas) accepts every rendered object and the Secret templates
#   5. deployment policy: non-root, read-only, probes, ports, selectors, ingress protocols, ConfigMap keys
#   6. promtool: Prometheus config, alert rules, alert unit tests, and every dashboard query parses
#   7. Grafana dashboards are up to date with build_dashboards.py and list their metric names
#   8. docker-compose.yml, the Dockerfile's build context, the CI workflow (`docker compose config` when the plugin exists)
#   9. with METRICS_URL=http://host:8090/metrics: every dashboard/alert metric is exported by that server
#
# Environment: PYTHON (.venv/bin/python), KUBECTL (kubectl), K8S_VERSION (1.32.0),
# CI=true makes a missing promtool a failure instead of a skip.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
PY=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x "$PY" ]] || PY=python3
KV=${KUBERNETES_VALIDATE:-$(dirname "$PY")/kubernetes-validate}
command -v "$KV" >/dev/null 2>&1 || KV=kubernetes-validate
KUBECTL=${KUBECTL:-kubectl}
K8S_VERSION=${K8S_VERSION:-1.32.0}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

FAILED=()
SKIPPED=()
PASSED=0

# step LABEL COMMAND...: run one check, indent its output, record the result.
step() {
  local label=$1
  shift
  printf '==> %s\n' "$label"
  if "$@" >"$WORK/step.log" 2>&1; then
    sed 's/^/    /' "$WORK/step.log"
    PASSED=$((PASSED + 1))
  else
    sed 's/^/    /' "$WORK/step.log"
    printf '    FAILED: %s\n' "$label"
    FAILED+=("$label")
  fi
}

skip() {
  printf '==> %s: skipped (%s)\n' "$1" "$2"
  SKIPPED+=("$1")
}

# ------------------------------------------------------------------ 1. shell
shell_syntax() {
  local script
  for script in deploy/validate.sh deploy/k8s/deploy-all.sh; do
    bash -n "$script" && echo "bash -n $script: ok" || return 1
  done
  if command -v shellcheck >/dev/null 2>&1; then
    shellcheck deploy/validate.sh deploy/k8s/deploy-all.sh && echo "shellcheck: ok"
  else
    echo "shellcheck not installed: syntax only"
  fi
}
step "shell scripts parse" shell_syntax

# --------------------------------------------------------------- 2. settings
step "every setting is explained in deploy/.env.example; config.env sets only real settings" \
  "$PY" deploy/check_manifests.py settings

# ---------------------------------------------------- 3-5. kustomize, schemas
render_and_check() {
  local overlay=$1 dir=$2 out="$WORK/rendered-$1.yaml"
  "$KUBECTL" kustomize "$dir" >"$out" || return 1
  echo "kubectl kustomize $dir: $(grep -c '^kind:' "$out") objects"
  "$PY" deploy/check_manifests.py split "$out" "$WORK/objects-$overlay" "$overlay" || return 1
  "$KV" --strict --kubernetes-version "$K8S_VERSION" "$WORK/objects-$overlay"/*.yaml || return 1
  "$PY" deploy/check_manifests.py policy "$out" && echo "policy checks: ok"
}

if command -v "$KUBECTL" >/dev/null 2>&1 && command -v "$KV" >/dev/null 2>&1; then
  step "kustomize base renders and validates" render_and_check base deploy/k8s/base
  step "kustomize overlay dev renders and validates" render_and_check dev deploy/k8s/overlays/dev
  step "kustomize overlay prod renders and validates" render_and_check prod deploy/k8s/overlays/prod
  step "Secret templates validate" "$KV" --strict --kubernetes-version "$K8S_VERSION" \
    deploy/k8s/base/secret.template.yaml deploy/k8s/overlays/prod/external-secret.template.yaml
  step "deploy-all.sh render matches kubectl kustomize" \
    bash -c 'diff <(deploy/k8s/deploy-all.sh render dev) <(kubectl kustomize deploy/k8s/overlays/dev) && echo same'
else
  FAILED+=("kubectl ($KUBECTL) and kubernetes-validate ($KV) are required")
  echo "==> FAILED: kubectl or kubernetes-validate not found"
fi

# ------------------------------------------------------------- 6. promtool
ensure_promtool() {
  command -v promtool >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=()
  if [[ $(id -u) != 0 ]]; then
    sudo -n true 2>/dev/null || return 1
    sudo=(sudo -n)
  fi
  echo "==> installing promtool (Debian package prometheus)"
  "${sudo[@]}" apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  command -v promtool >/dev/null 2>&1
}

dashboard_queries_parse() {
  "$PY" deploy/check_metric_names.py --dump-promql-rules "$WORK/dashboard-queries.yml" &&
    promtool check rules "$WORK/dashboard-queries.yml"
}

if ensure_promtool; then
  step "promtool check config deploy/prometheus/prometheus.yml" promtool check config deploy/prometheus/prometheus.yml
  step "promtool check rules deploy/prometheus/alerts.yml" promtool check rules deploy/prometheus/alerts.yml
  step "promtool test rules deploy/prometheus/alerts_test.yml" promtool test rules deploy/prometheus/alerts_test.yml
  step "every Grafana query is valid PromQL" dashboard_queries_parse
elif [[ "${CI:-}" == true ]]; then
  FAILED+=("promtool missing and could not be installed")
  echo "==> FAILED: promtool missing and apt-get unusable (CI=true)"
else
  skip "promtool checks" "promtool missing and apt-get unusable; install the Debian package prometheus"
fi

# ------------------------------------------------------------ 7. dashboards
step "Grafana dashboards are up to date with build_dashboards.py" "$PY" deploy/grafana/build_dashboards.py --check
step "metric names used by dashboards and alerts" "$PY" deploy/check_metric_names.py

# ---------------------------------------------------------- 8. docker side
step "docker-compose.yml services, mounts and wiring" "$PY" deploy/check_compose.py compose
step "Dockerfile COPY sources exist and pass .dockerignore" "$PY" deploy/check_compose.py dockerfile
step "CI workflow runs the test command and the image build" "$PY" deploy/check_compose.py workflow
if docker compose version >/dev/null 2>&1; then
  step "docker compose config" docker compose -f deploy/docker-compose.yml config --quiet
else
  skip "docker compose config" "no docker compose plugin on this machine"
fi

# --------------------------------------------------------- 9. live metrics
if [[ -n "${METRICS_URL:-}" ]]; then
  step "every queried metric is exported by $METRICS_URL" \
    "$PY" deploy/check_metric_names.py --metrics "$METRICS_URL" ${METRICS_API_KEY:+--api-key "$METRICS_API_KEY"}
else
  skip "live /metrics check" "set METRICS_URL to a running server's /metrics; the e2e tests run it"
fi

# --------------------------------------------------------------- summary
printf '\n%d checks passed, %d failed, %d skipped\n' "$PASSED" "${#FAILED[@]}" "${#SKIPPED[@]}"
if ((${#FAILED[@]})); then
  printf 'FAILED: %s\n' "${FAILED[@]}"
  exit 1
fi
