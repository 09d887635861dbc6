#!/usr/bin/env bash
# Builds the gateway image with podman and runs it the way deploy/docker-compose.yml does
# (read-only root, UID 1000, a 64 MiB /tmp tmpfs, no capabilities, no new privileges,
# the compose environment pointed at this host's Redis, PostgreSQL and an OTLP receiver),
# then checks it answers on every door and stops cleanly on SIGTERM.
#
#   bash deploy/test-image.sh            (root: debootstrap and podman's runc need it)
#
# No registry or package index is reachable from a build here, so:
#   - the base is made locally: a Debian bookworm minbase with Python (debootstrap),
#     imported as $BASE_IMAGE and kept in podman's storage (made once, reused);
#   - the pinned wheels are built on the host (pip wheel -r requirements.lock) into
#     $CACHE_DIR/wheels (rebuilt only when requirements.lock changes) and handed to the
#     Dockerfile as its `wheels` build context.
# Prints PASS/FAIL per check; exits 1 when one fails, 0 (with "skipped: ...") when podman is absent.
set -uo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR=${IMAGE_TEST_CACHE:-/var/cache/mcp-server-ai-image}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian-python:bookworm}
IMAGE=${IMAGE:-localhost/mcp-server-ai:test}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
STOP_GRACE=30 # the compose file's stop_grace_period
NAME="mcp-image-test-$$"
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

if ! command -v podman >/dev/null 2>&1; then
    echo "skipped: podman not installed"
    exit 0
fi
if ! command -v runc >/dev/null 2>&1; then
    # crun, podman's default here, cannot set rlimits or use hybrid cgroups in this kind of sandbox.
    echo "skipped: runc not installed (podman needs it here: apt-get install runc)"
    exit 0
fi

failures=()
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures+=("$1"); }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$CACHE_DIR"
# runc fails on podman's default ulimits in this sandbox: start from none.
printf '[containers]\ndefault_ulimits = []\n' >"$CACHE_DIR/containers.conf"
export CONTAINERS_CONF="$CACHE_DIR/containers.conf"
pod() { podman --runtime runc "$@"; }

# ---------------------------------------------------------------- the base --
base_image() {
    if podman image exists "$BASE_IMAGE"; then
        echo "base: $BASE_IMAGE (reused)"
        return 0
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        echo "debootstrap not installed (apt-get install debootstrap)"
        return 1
    fi
    local rootfs="$CACHE_DIR/rootfs" started
    started=$(now)
    rm -rf "$rootfs"
    # python3-venv: Debian's python3 has no ensurepip; python-is-python3: the Dockerfile calls `python`;
    # passwd: useradd. ca-certificates as python:3.11-slim has them.
    debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,passwd,ca-certificates \
        bookworm "$rootfs" "$DEBIAN_MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE_DIR/debootstrap.log"; return 1; }
    # Package lists and caches only make the base bigger.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc "$rootfs"/usr/share/man
    tar -C "$rootfs" -c . | podman import --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null 2>&1 || return 1
    rm -rf "$rootfs"
    echo "base: $BASE_IMAGE made in $(since "$started") s"
}

# -------------------------------------------------------------- the wheels --
wheels() {
    local dir="$CACHE_DIR/wheels" stamp="$CACHE_DIR/wheels/.lock-sha256" want started
    want=$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        echo "wheels: $dir (reused)"
        return 0
    fi
    started=$(now)
    mkdir -p "$dir"
    # setuptools and wheel: the build backend pip needs to install the package itself, offline.
    "$PYTHON" -m pip wheel -q --disable-pip-version-check -r requirements.lock "setuptools>=77" wheel -w "$dir" \
        2>"$CACHE_DIR/pip.log" || { tail -20 "$CACHE_DIR/pip.log"; return 1; }
    # Pins with a marker may hold for the image's Python (bookworm's 3.11.2) and not for the host's: fetch them too.
    grep ';' requirements.lock | cut -d';' -f1 | xargs -r "$PYTHON" -m pip wheel -q --no-deps -w "$dir" \
        2>>"$CACHE_DIR/pip.log" || { tail -20 "$CACHE_DIR/pip.log"; return 1; }
    echo "$want" >"$stamp"
    echo "wheels: $dir filled in $(since "$started") s"
}

# --------------------------------------------------------------- the image --
build_image() {
    local started
    started=$(now)
    # --format docker keeps the HEALTHCHECK (the OCI format has no such field).
    pod build --network host --format docker -f deploy/Dockerfile \
        --build-arg PYTHON_IMAGE="$BASE_IMAGE" \
        --build-context wheels="$CACHE_DIR/wheels" --build-arg PIP_OFFLINE=1 \
        --build-arg VERSION="$(grep -m1 '^version' pyproject.toml | cut -d'"' -f2)" \
        --build-arg VCS_REF="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        -t "$IMAGE" . >"$CACHE_DIR/build.log" 2>&1 || { tail -30 "$CACHE_DIR/build.log"; return 1; }
    build_seconds=$(since "$started")
}

free_ports() {
    "$PYTHON" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# The compose file's gateway environment, with the in-stack hosts replaced by this host's services.
compose_env() {
    "$PYTHON" - "$@" <<'EOF'
import os, re, sys
import yaml

redis_url, postgres_url, otlp_url = sys.argv[1:4]
env = yaml.safe_load(open("deploy/docker-compose.yml"))["services"]["gateway"]["environment"]
here = {"REDIS_URL": redis_url, "POSTGRES_URL": postgres_url, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_url}
for name, value in env.items():
    value = here.get(name, re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: os.environ.get(m[1], m[2]), str(value)))
    if value:
        print(f"{name}={value}")
EOF
}

# An OTLP/HTTP receiver on the host standing in for the compose file's Jaeger; it writes
# its address, then the number of spans received so far, to files. Called directly, not in $(...),
# which would wait for the background receiver to close its output.
start_otlp_receiver() {
    "$PYTHON" - "$CACHE_DIR/otlp.$$" >/dev/null <<'EOF' &
import signal, sys, time
sys.path.insert(0, ".")
from tests.support.otlp_receiver import OtlpReceiver

out = sys.argv[1]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with OtlpReceiver() as receiver:
    open(out + ".url", "w").write(receiver.url)
    while True:
        open(out + ".spans", "w").write(str(len(receiver.spans)))
        time.sleep(0.2)
EOF
    otlp_pid=$!
    for _ in $(seq 1 50); do [ -s "$CACHE_DIR/otlp.$$.url" ] && break; sleep 0.1; done
    OTLP_URL=$(cat "$CACHE_DIR/otlp.$$.url" 2>/dev/null)
}

cleanup() {
    podman rm -f "$NAME" >/dev/null 2>&1
    [ -n "${otlp_pid:-}" ] && kill "$otlp_pid" 2>/dev/null
    rm -f "$CACHE_DIR/otlp.$$".* "$CACHE_DIR/headers.$$" "$CACHE_DIR/drain.$$"
    [ -n "${PG_DB:-}" ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1
}
trap cleanup EXIT

total_started=$(now)
base_image || { echo "FAIL base image"; exit 1; }
wheels || { echo "FAIL wheels"; exit 1; }
if build_image; then
    pass "image built from $BASE_IMAGE in $build_seconds s"
else
    echo "FAIL image build (log: $CACHE_DIR/build.log)"
    exit 1
fi
size_mb=$(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f", $1 / 1048576 }')
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
if [ "$user" = "1000:1000" ]; then pass "image user is 1000:1000 (size $size_mb MiB)"; else fail "image user ($user)"; fi

# ------------------------------------------------------------------ the run --
read -r HTTP_PORT WS_PORT GRPC_PORT _ <<<"$(free_ports)"
REDIS_URL=redis://127.0.0.1:6379/0
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    fail "Redis is not answering on 127.0.0.1:6379 (the compose file's cache)"
fi
PG_DB="mcp_image_test_$$"
if psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $PG_DB" >/dev/null 2>&1; then
    POSTGRES_URL="postgresql://postgres@127.0.0.1:5432/$PG_DB"
else
    PG_DB=""
    POSTGRES_URL=""
    fail "PostgreSQL is not answering on 127.0.0.1:5432 (the compose file's session store)"
fi
start_otlp_receiver
env_args=()
while IFS= read -r line; do env_args+=(-e "$line"); done < <(compose_env "$REDIS_URL" "$POSTGRES_URL" "$OTLP_URL")

run_started=$(now)
# --no-healthcheck: podman would schedule the HEALTHCHECK with systemd timers, absent here; it is run by hand below.
pod run -d --name "$NAME" --network host --no-healthcheck \
    --user 1000:1000 --read-only --tmpfs /tmp:size=64m --cap-drop ALL --security-opt no-new-privileges \
    -e HOST=127.0.0.1 -e HTTP_PORT="$HTTP_PORT" -e WS_PORT="$WS_PORT" -e GRPC_PORT="$GRPC_PORT" \
    "${env_args[@]}" "$IMAGE" >/dev/null || { echo "FAIL podman run"; exit 1; }
BASE="http://127.0.0.1:$HTTP_PORT"

healthy=""
for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then healthy=$(since "$run_started"); break; fi
    [ "$(podman inspect --format '{{.State.Running}}' "$NAME")" = true ] || break
    sleep 0.1
done
if [ -n "$healthy" ]; then
    pass "/healthz answers 200, $healthy s after podman run"
else
    fail "/healthz"
    podman logs "$NAME" 2>&1 | tail -30
    exit 1
fi

echo "environment: ${env_args[*]}" | sed 's/-e //g'
if podman exec "$NAME" python /app/healthcheck.py; then pass "the image's HEALTHCHECK command"; else fail "HEALTHCHECK"; fi
if [ "$(podman exec "$NAME" id -u)" = 1000 ]; then pass "runs as UID 1000"; else fail "UID"; fi
if podman exec "$NAME" sh -c 'touch /app/x' 2>/dev/null; then fail "root filesystem is writable"; else
    pass "root filesystem is read-only"
fi
ready=$(curl -sS -w ' %{http_code}' "$BASE/readyz")
if [ "${ready##* }" = 200 ]; then pass "/readyz answers 200: ${ready% *}"; else fail "/readyz: $ready"; fi

# A prompt of this run only: Redis keeps the answers of earlier runs.
PROMPT="image test $$ $(date +%s)"
generate() {
    curl -sS -D "$CACHE_DIR/headers.$$" -H 'Content-Type: application/json' \
        -d "{\"prompt\":\"$PROMPT\",\"provider\":\"mock\"}" "$BASE/api/v1/generate"
}
answered_by() { "$PYTHON" -c 'import json,sys; a=json.load(sys.stdin); assert a["content"]; print(a["provider"])'; }
answer=$(generate)
if head -1 "$CACHE_DIR/headers.$$" | grep -q ' 200' && [ "$(echo "$answer" | answered_by 2>/dev/null)" = mock ]; then
    pass "POST /api/v1/generate answers"
else
    fail "POST /api/v1/generate: $(head -1 "$CACHE_DIR/headers.$$") $answer"
fi
again=$(generate)
if [ "$(echo "$again" | answered_by 2>/dev/null)" = cache ]; then pass "the same prompt again comes from the Redis cache"; else
    fail "second generate not cached: $again"
fi

stream=$(curl -sS -N --max-time 30 -H 'Content-Type: application/json' \
    -d '{"prompt":"image test stream","provider":"mock"}' "$BASE/api/v1/generate/stream")
if verdict=$(echo "$stream" | "$PYTHON" -c '
import json, sys
events = [json.loads(line[5:]) for line in sys.stdin.read().splitlines() if line.startswith("data:")]
assert len(events) >= 2 and all(not e["finished"] for e in events[:-1]), events
last = events[-1]
assert last["finished"] and "error" not in last and last["index"] == len(events) - 1, last
print(f"{len(events) - 1} content events, then the final one")
'); then
    pass "POST /api/v1/generate/stream: $verdict"
else
    fail "POST /api/v1/generate/stream: $stream"
fi

grpc=$("$PYTHON" tests/support/grpcurl_like.py "127.0.0.1:$GRPC_PORT" call proto.AIService/Generate \
    -d '{"prompt":"image test grpc","provider":"mock"}' 2>&1)
if echo "$grpc" | grep -q '"status": "OK"' && echo "$grpc" | grep -q '"reply"'; then
    pass "gRPC proto.AIService/Generate (through reflection) answers"
else
    fail "gRPC Generate: $grpc"
fi

SESSION="s-image-$$"
curl -sS -o /dev/null -H 'Content-Type: application/json' -H 'X-User-ID: image-test' -H "X-Session-ID: $SESSION" \
    -d '{"prompt":"remember this","provider":"mock"}' "$BASE/api/v1/generate"
history=$(curl -sS -H 'X-User-ID: image-test' "$BASE/api/v1/sessions/$SESSION")
tables=$(psql -h 127.0.0.1 -U postgres -d "${PG_DB:-postgres}" -tAc \
    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'" 2>/dev/null)
if [ -n "$PG_DB" ] && [ "${tables:-0}" -gt 0 ] && echo "$history" | grep -q '"messageCount":2'; then
    pass "a session turn stored in PostgreSQL and read back (migrations made $tables tables at start-up)"
else
    fail "session turn: $history"
fi

spans=0
for _ in $(seq 1 50); do
    spans=$(cat "$CACHE_DIR/otlp.$$.spans" 2>/dev/null)
    spans=${spans:-0}
    [ "$spans" -gt 0 ] && break
    sleep 0.2
done
if [ "$spans" -gt 0 ]; then pass "traces exported over OTLP/HTTP ($spans spans)"; else fail "no spans exported"; fi

sleep 2 # let the process settle before sampling what it holds at rest
pid=$(podman inspect --format '{{.State.Pid}}' "$NAME")
rss_mb=$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null)

# ----------------------------------------------------------------- the stop --
# A fresh stream of 150 words (MOCK_LATENCY_MS, 20 ms a word: about 3 s) is open when SIGTERM comes;
# draining means it still ends with its final event.
words="$PROMPT $(printf 'word%s ' $(seq 1 150))"
curl -sS -N --max-time 60 -H 'Content-Type: application/json' -H 'Cache-Control: no-cache' \
    -d "{\"prompt\":\"$words\",\"provider\":\"mock\",\"maxTokens\":1000}" \
    "$BASE/api/v1/generate/stream" >"$CACHE_DIR/drain.$$" 2>&1 &
drain_pid=$!
for _ in $(seq 1 100); do grep -q '^data:' "$CACHE_DIR/drain.$$" && break; sleep 0.05; done
stop_started=$(now)
pod stop -t "$STOP_GRACE" "$NAME" >/dev/null
stop_seconds=$(since "$stop_started")
wait "$drain_pid"
if grep '^data:' "$CACHE_DIR/drain.$$" | tail -1 | cut -c6- | "$PYTHON" -c \
    'import json,sys; e=json.load(sys.stdin); assert e["finished"] and "error" not in e and e["provider"] == "mock"' 2>/dev/null; then
    pass "a stream open at SIGTERM ran to its final event ($(grep -c '^data:' "$CACHE_DIR/drain.$$") events)"
else
    fail "the stream open at SIGTERM was cut: $(tail -c 300 "$CACHE_DIR/drain.$$")"
fi
code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
logs=$(podman logs "$NAME" 2>&1)
if { [ "$code" = 0 ] || [ "$code" = 143 ]; } && awk -v s="$stop_seconds" -v g="$STOP_GRACE" 'BEGIN { exit !(s < g) }'; then
    pass "SIGTERM: exit code $code after $stop_seconds s (grace $STOP_GRACE s)"
else
    fail "SIGTERM: exit code $code after $stop_seconds s (grace $STOP_GRACE s)"
fi
if echo "$logs" | grep -q 'shutting down' && echo "$logs" | tail -3 | grep -q '"stopped"\|stopped'; then
    pass "the logs show the drain: shutting down, then stopped"
else
    fail "drain not in the logs"
    echo "$logs" | tail -20
fi
if echo "$logs" | grep -qi 'traceback\|"level": *"error"\|"levelname": *"ERROR"'; then
    fail "errors in the container's logs"
    echo "$logs" | grep -i -B2 -A10 'traceback\|error' | head -40
else
    pass "no errors in the container's logs"
fi

echo
echo "figures: build ${build_seconds} s, image ${size_mb} MiB, RSS idle ${rss_mb:-?} MiB," \
    "/healthz after ${healthy} s, stop ${stop_seconds} s, whole run $(since "$total_started") s"
if [ "${#failures[@]}" -gt 0 ]; then
    echo "image test FAILED: ${failures[*]}"
    exit 1
fi
echo "image test passed"
