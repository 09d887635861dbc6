#!/usr/bin/env bash
# Deploy and operate the MCP Server AI gateway on Kubernetes.
#
#   deploy-all.sh deploy [dev|prod]        apply an overlay (secrets from env files, see below), wait for rollout
#   deploy-all.sh status                   pods, services, ingresses, HPA, PDB, recent events
#   deploy-all.sh logs [component] [-f]    logs of gateway (default), redis or postgres
#   deploy-all.sh forward [svc] [local] [remote]   port-forward (default: mcp-server 8090 8090)
#   deploy-all.sh test                     smoke test through a temporary port-forward
#   deploy-all.sh render [dev|prod]        print the manifests that deploy would apply
#   deploy-all.sh delete [dev|prod]        remove what the overlay created (not the Secrets)
#   deploy-all.sh help
#
# Environment:
#   NAMESPACE (mcp-server)   KUBECTL (kubectl)   OVERLAY (dev; the argument wins)
#   IMAGE          image to run instead of the overlay's (e.g. registry.example.com/mcp-server-ai:1.2.0)
#   SECRETS_FILE   KEY=value lines for Secret mcp-server-secrets (default deploy/k8s/secrets.env)
#   EXTERNAL_FILE  KEY=value lines for Secret mcp-server-external, prod only (default deploy/k8s/external.env)
#   API_KEY        sent by `test` when the gateway has API_KEYS configured
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAMESPACE=${NAMESPACE:-mcp-server}
KUBECTL=${KUBECTL:-kubectl}
SECRETS_FILE=${SECRETS_FILE:-$HERE/secrets.env}
EXTERNAL_FILE=${EXTERNAL_FILE:-$HERE/external.env}
APP_SELECTOR=app.kubernetes.io/name=mcp-server-ai,app.kubernetes.io/component=gateway
FAILURES=0

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
k() { "$KUBECTL" -n "$NAMESPACE" "$@"; }

overlay_name() {
  local overlay=${1:-${OVERLAY:-dev}}
  [[ -d "$HERE/overlays/$overlay" ]] || die "unknown overlay '$overlay' (dev or prod)"
  printf '%s\n' "$overlay"
}

# The overlay's manifests; with IMAGE, through a throw-away kustomization on top
# of a copy (kustomize only reads files below its own folder).
render() {
  local overlay wrapper status=0
  overlay=$(overlay_name "${1:-}")
  if [[ -z "${IMAGE:-}" ]]; then
    "$KUBECTL" kustomize "$HERE/overlays/$overlay"
    return
  fi
  wrapper=$(mktemp -d)
  cp -r "$HERE/base" "$HERE/overlays" "$wrapper/"
  cat >"$wrapper/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - overlays/$overlay
patches:
  - target: {kind: Deployment, name: mcp-server}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: ${IMAGE}
YAML
  "$KUBECTL" kustomize "$wrapper" || status=$?
  rm -rf "$wrapper"
  return "$status"
}

# Secrets live outside the manifests so that re-applying never wipes them.
apply_secret_from_file() {
  local name=$1 file=$2
  [[ -f "$file" ]] || return 1
  say "secret $name from $file"
  k create secret generic "$name" --from-env-file="$file" --dry-run=client -o yaml | k apply -f -
}

cmd_deploy() {
  local overlay
  overlay=$(overlay_name "${1:-}")
  # The Secrets must exist before the pods start, so the namespace comes first
  # (created, not applied: the overlay's apply then owns its labels).
  "$KUBECTL" get namespace "$NAMESPACE" >/dev/null 2>&1 || "$KUBECTL" create namespace "$NAMESPACE"
  apply_secret_from_file mcp-server-secrets "$SECRETS_FILE" ||
    say "no $SECRETS_FILE: provider keys come from an existing mcp-server-secrets, else only the mock provider runs"
  if [[ "$overlay" == prod ]]; then
    apply_secret_from_file mcp-server-external "$EXTERNAL_FILE" ||
      k get secret mcp-server-external >/dev/null 2>&1 ||
      die "prod needs Secret mcp-server-external (REDIS_URL, POSTGRES_URL): fill $EXTERNAL_FILE" \
        "or apply overlays/prod/external-secret.template.yaml"
  fi
  say "applying overlay $overlay${IMAGE:+ with image $IMAGE}"
  render "$overlay" | "$KUBECTL" apply -f -
  if [[ "$overlay" == dev ]]; then
    k rollout status deployment/redis --timeout=120s
    k rollout status deployment/postgres --timeout=180s
  fi
  k rollout status deployment/mcp-server --timeout=300s
  say "deployed; try: $0 test"
}

cmd_status() {
  k get deployments,pods,services,ingresses,hpa,pdb -o wide
  say "recent events"
  k get events --sort-by=.lastTimestamp | tail -n 20
}

cmd_logs() {
  local component=${1:-gateway}
  shift || true
  case "$component" in
    gateway | mcp-server) k logs -l "$APP_SELECTOR" --all-containers --prefix --tail=200 "$@" ;;
    redis | postgres) k logs "deployment/$component" --tail=200 "$@" ;;
    *) die "logs: component is gateway, redis or postgres" ;;
  esac
}

cmd_forward() {
  local service=${1:-mcp-server} local_port=${2:-8090}
  local remote_port=${3:-$local_port}
  say "forwarding localhost:$local_port -> service/$service:$remote_port (Ctrl-C to stop)"
  k port-forward "service/$service" "$local_port:$remote_port"
}

# check LABEL CURL-ARGS...: one smoke check, counted in FAILURES.
check() {
  local label=$1 out
  shift
  if out=$(curl -fsS --max-time 30 "$@" 2>&1); then
    printf 'ok    %s\n' "$label"
  else
    printf 'FAIL  %s: %s\n' "$label" "$out"
    FAILURES=$((FAILURES + 1))
  fi
}

cmd_test() {
  command -v curl >/dev/null || die "test needs curl"
  local port=${TEST_PORT:-18090} forward_pid base auth=()
  [[ -n "${API_KEY:-}" ]] && auth=(-H "Authorization: Bearer $API_KEY")
  base="http://127.0.0.1:$port"
  k port-forward service/mcp-server "$port:8090" >/dev/null 2>&1 &
  forward_pid=$!
  for _ in $(seq 1 30); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && break
    sleep 1
  done
  check "GET /healthz" "$base/healthz"
  check "GET /readyz (Redis/PostgreSQL reachable when configured)" "$base/readyz"
  check "GET /api/v1/models" "${auth[@]}" "$base/api/v1/models"
  check "GET /api/v1/status" "${auth[@]}" "$base/api/v1/status"
  check "POST /api/v1/generate (mock provider)" "${auth[@]}" -H 'Content-Type: application/json' \
    -d '{"prompt":"deployment smoke test","provider":"mock"}' "$base/api/v1/generate"
  if curl -fsS "${auth[@]}" "$base/metrics" 2>/dev/null | grep -q '^mcp_requests_total'; then
    printf 'ok    GET /metrics exports mcp_requests_total\n'
  else
    printf 'FAIL  GET /metrics has no mcp_requests_total\n'
    FAILURES=$((FAILURES + 1))
  fi
  kill "$forward_pid" 2>/dev/null || true
  ((FAILURES == 0)) || die "$FAILURES smoke check(s) failed"
  say "all smoke checks passed"
}

cmd_delete() {
  local overlay
  overlay=$(overlay_name "${1:-}")
  say "deleting overlay $overlay (Secrets mcp-server-secrets and mcp-server-external are kept)"
  render "$overlay" | "$KUBECTL" delete --ignore-not-found -f -
}

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

main() {
  local command=${1:-help}
  shift || true
  case "$command" in
    deploy) cmd_deploy "$@" ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    forward) cmd_forward "$@" ;;
    test) cmd_test ;;
    render) render "$@" ;;
    delete) cmd_delete "$@" ;;
    help | -h | --help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
