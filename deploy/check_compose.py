"""Offline checks of the Docker side of deploy/, for machines without a Docker engine.

    check_compose.py compose      # deploy/docker-compose.yml: services, mounts, build, wiring
    check_compose.py dockerfile   # deploy/Dockerfile: every COPY source exists and .dockerignore lets it in
    check_compose.py workflow     # .github/workflows/ci.yml runs `bash .ci/run` and builds the image

`docker compose config` (run by validate.sh when the plugin exists) checks the
compose schema; this checks what it cannot: that mounted folders and the
Dockerfile exist, that the gateway is wired to the in-stack Redis, PostgreSQL
and Jaeger, and runs read-only as UID 1000. Needs PyYAML.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

DEPLOY_DIR = Path(__file__).resolve().parent
ROOT = DEPLOY_DIR.parent
SERVICES = {"gateway", "redis", "postgres", "prometheus", "grafana", "jaeger"}
# Variables the image sets for Python, pip and the shell rather than for the gateway.
RUNTIME_ENV = {
    "PATH",
    "HOME",
    "TMPDIR",
    "VIRTUAL_ENV",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}
GATEWAY_WIRING = {
    "CACHE_BACKEND": "redis",
    "SESSION_BACKEND": "postgres",
    "REDIS_URL": "redis://redis:6379/0",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318",
}


def compose_problems(path: Path = DEPLOY_DIR / "docker-compose.yml") -> Iterator[str]:
    compose: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    services = compose.get("services", {})
    for missing in sorted(SERVICES - set(services)):
        yield f"compose: no service {missing}"
    for name, service in services.items():
        if "image" not in service:
            yield f"compose: service {name} has no pinned image"
        elif str(service["image"]).endswith(":latest") or ":" not in str(service["image"]):
            yield f"compose: service {name} image {service['image']!r} needs a fixed tag"
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith(".") and not (path.parent / source).exists():
                yield f"compose: service {name} mounts {source}, which does not exist"
    gateway = services.get("gateway", {})
    yield from _gateway_problems(gateway, path.parent)


def _gateway_problems(gateway: dict[str, Any], base: Path) -> Iterator[str]:
    build = gateway.get("build", {})
    dockerfile = (base / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve()
    if not dockerfile.is_file():
        yield f"compose: gateway build points at {dockerfile}, which does not exist"
    environment = gateway.get("environment", {})
    for key, value in GATEWAY_WIRING.items():
        if environment.get(key) != value:
            yield f"compose: gateway {key} is {environment.get(key)!r}, expected {value!r}"
    if "@postgres:5432/" not in str(environment.get("POSTGRES_URL", "")):
        yield "compose: gateway POSTGRES_URL does not point at the postgres service"
    if gateway.get("read_only") is not True or not any(str(t).startswith("/tmp") for t in gateway.get("tmpfs", [])):
        yield "compose: gateway must run read_only with a /tmp tmpfs"
    if str(gateway.get("user", "")) != "1000:1000":
        yield "compose: gateway must run as 1000:1000"
    published = {str(port).rsplit(":", 1)[-1] for port in gateway.get("ports", [])}
    if not {"8090", "8091", "50051"} <= published:
        yield f"compose: gateway publishes {sorted(published)}, expected 8090, 8091 and 50051"


# -------------------------------------------------------------- dockerfile --
def dockerignore_patterns(path: Path = ROOT / ".dockerignore") -> list[tuple[bool, str]]:
    """(negated, pattern) in file order; the last matching pattern decides, as in Docker."""
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            patterns.append((negated, line.lstrip("!").strip().strip("/")))
    return patterns


def is_ignored(relative: str, patterns: list[tuple[bool, str]]) -> bool:
    """Docker's rule: a path is excluded when it or one of its parent folders is."""
    parts = relative.strip("/").split("/")
    ignored = False
    for negated, pattern in patterns:
        for depth in range(1, len(parts) + 1):
            if _match("/".join(parts[:depth]), pattern):
                ignored = not negated
                break
    return ignored


def _match(path: str, pattern: str) -> bool:
    if pattern.startswith("**/"):
        return any(_match("/".join(path.split("/")[i:]), pattern[3:]) for i in range(len(path.split("/"))))
    return path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern)


def copy_sources(dockerfile: Path = DEPLOY_DIR / "Dockerfile") -> list[str]:
    sources = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*COPY\s+(.*)$", line)
        if match and "--from=" not in match.group(1):
            words = [w for w in match.group(1).split() if not w.startswith("--")]
            sources += words[:-1]
    return sources


def env_names(dockerfile: Path = DEPLOY_DIR / "Dockerfile") -> list[str]:
    """Names set by ENV instructions (``ENV A=1 \\`` continuation lines included)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    return [
        name
        for line in text.splitlines()
        if (match := re.match(r"^\s*ENV\s+(.*)$", line))
        for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", match.group(1))
    ]


def dockerfile_problems() -> Iterator[str]:
    patterns = dockerignore_patterns()
    for source in copy_sources():
        if not (ROOT / source).exists():
            yield f"Dockerfile: COPY {source}: not in the repository (yet)"
        elif is_ignored(source, patterns):
            yield f"Dockerfile: COPY {source}: excluded from the build context by .dockerignore"
    sys.path.insert(0, str(ROOT))
    from entrypoints.config import Settings

    settings = {name.upper() for name in Settings.__struct_fields__}
    for name in env_names():
        if name not in settings | RUNTIME_ENV:
            yield f"Dockerfile: ENV {name} is neither a gateway setting nor a runtime variable"


# ---------------------------------------------------------------- workflow --
def workflow_problems(path: Path = ROOT / ".github" / "workflows" / "ci.yml") -> Iterator[str]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    commands = {
        job: " ".join(str(step.get("run", "")) for step in spec.get("steps", []))
        for job, spec in workflow.get("jobs", {}).items()
    }
    if not any("bash .ci/run" in run for run in commands.values()):
        yield "ci.yml: no job runs `bash .ci/run` (the README's test command)"
    if not any(re.search(r"docker build -f deploy/Dockerfile\b", run) for run in commands.values()):
        yield "ci.yml: no job runs `docker build -f deploy/Dockerfile`"


def main(argv: list[str]) -> int:
    checks = {"compose": compose_problems, "dockerfile": dockerfile_problems, "workflow": workflow_problems}
    if len(argv) != 1 or argv[0] not in checks:
        print(__doc__, file=sys.stderr)
        return 2
    problems = list(checks[argv[0]]())
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    if not problems:
        print(f"{argv[0]}: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
