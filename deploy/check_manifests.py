"""Checks on the rendered Kubernetes manifests and the settings files that schemas cannot make.

    check_manifests.py split RENDERED.yaml OUTDIR     # one file per object, for kubernetes-validate
    check_manifests.py policy RENDERED.yaml [...]     # the gateway's deployment contract (below)
    check_manifests.py settings                       # .env.example and config.env know every setting

`policy` fails when: a container may run as root, write its root filesystem,
escalate privileges, keep capabilities or has no resource requests and limits;
the gateway lacks its three named ports, its /healthz liveness and /readyz
readiness probes or a writable /tmp; a Deployment under an HPA fixes `replicas`;
a Service, PDB, NetworkPolicy or HPA points at nothing; an Ingress other than the
gRPC one sets backend-protocol (which breaks HTTP and WebSocket); a
ConfigMap key is not a setting the gateway reads; an image has no tag or uses latest.

`settings` compares entrypoints.config.Settings with deploy/.env.example and
deploy/k8s/base/config.env, and loads each through the gateway's own validation.
Needs PyYAML; `settings` needs the package importable.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

DEPLOY_DIR = Path(__file__).resolve().parent
GATEWAY_PORTS = {"http": 8090, "websocket": 8091, "grpc": 50051}
EXTERNAL_SECRETS = {"mcp-server-secrets", "mcp-server-external"}  # created out of band, never rendered
Obj = dict[str, Any]


def load(paths: Iterable[Path]) -> list[Obj]:
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def split(rendered: Path, out_dir: Path, prefix: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, obj in enumerate(load([rendered])):
        path = out_dir / f"{prefix}-{index:02d}-{obj['kind']}-{obj['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
        written.append(path)
    return written


# ------------------------------------------------------------------ policy --
def policy_problems(objects: list[Obj], settings: set[str] | None) -> Iterator[str]:
    by_kind: dict[str, dict[str, Obj]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    deployments = by_kind.get("Deployment", {})
    for name, deployment in deployments.items():
        yield from _pod_problems(f"Deployment/{name}", deployment["spec"]["template"]["spec"])
    gateway = deployments.get("mcp-server")
    if gateway is None:
        yield "no Deployment/mcp-server rendered"
    else:
        yield from _gateway_problems(gateway)
    yield from _reference_problems(by_kind)
    yield from _ingress_problems(by_kind.get("Ingress", {}))
    if settings is not None:
        for name, config_map in by_kind.get("ConfigMap", {}).items():
            if name.startswith("mcp-server-config"):
                for key in sorted(set(config_map.get("data", {})) - settings):
                    yield f"ConfigMap/{name}: {key} is not a setting of entrypoints/config.py"


def _pod_problems(where: str, pod: Obj) -> Iterator[str]:
    pod_security = pod.get("securityContext", {})
    if not pod_security.get("runAsNonRoot"):
        yield f"{where}: pod securityContext.runAsNonRoot is not true"
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        at = f"{where} container {container['name']}"
        security = container.get("securityContext", {})
        if security.get("readOnlyRootFilesystem") is not True:
            yield f"{at}: readOnlyRootFilesystem is not true"
        if security.get("allowPrivilegeEscalation") is not False:
            yield f"{at}: allowPrivilegeEscalation is not false"
        if "ALL" not in security.get("capabilities", {}).get("drop", []):
            yield f"{at}: capabilities are not all dropped"
        resources = container.get("resources", {})
        if not resources.get("requests") or not resources.get("limits"):
            yield f"{at}: needs resource requests and limits"
        image = container.get("image", "")
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            yield f"{at}: image {image!r} needs a fixed tag"


def _gateway_problems(gateway: Obj) -> Iterator[str]:
    pod = gateway["spec"]["template"]["spec"]
    container = next((c for c in pod["containers"] if c["name"] == "gateway"), None)
    if container is None:
        yield "Deployment/mcp-server: no container named gateway"
        return
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    if ports != GATEWAY_PORTS:
        yield f"gateway ports are {ports}, expected {GATEWAY_PORTS}"
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        got = container.get(probe, {}).get("httpGet", {}).get("path")
        if got != path:
            yield f"gateway {probe} checks {got!r}, expected {path!r}"
    tmp = [m for m in container.get("volumeMounts", []) if m.get("mountPath") == "/tmp"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
        yield "gateway: /tmp must be an emptyDir (the root filesystem is read-only)"
    if pod.get("securityContext", {}).get("runAsUser") != 1000:
        yield "gateway: pod must run as UID 1000 (the image's user)"


def _reference_problems(by_kind: dict[str, dict[str, Obj]]) -> Iterator[str]:
    pod_labels = {
        name: d["spec"]["template"]["metadata"].get("labels", {}) for name, d in by_kind.get("Deployment", {}).items()
    }

    def selects(selector: dict[str, str]) -> bool:
        return any(selector.items() <= labels.items() for labels in pod_labels.values())

    for kind, field in (
        ("Service", ("spec", "selector")),
        ("PodDisruptionBudget", ("spec", "selector", "matchLabels")),
        ("NetworkPolicy", ("spec", "podSelector", "matchLabels")),
    ):
        for name, obj in by_kind.get(kind, {}).items():
            selector = obj
            for key in field:
                selector = selector.get(key, {})
            if not selector or not selects(selector):
                yield f"{kind}/{name}: selector {selector} matches no Deployment's pods"
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        target = hpa["spec"]["scaleTargetRef"]
        deployment = by_kind.get(target["kind"], {}).get(target["name"])
        if deployment is None:
            yield f"HorizontalPodAutoscaler/{name}: target {target['kind']}/{target['name']} is not rendered"
        elif "replicas" in deployment["spec"]:
            yield f"Deployment/{target['name']}: sets replicas although an HPA scales it"
    for name, deployment in by_kind.get("Deployment", {}).items():
        for ref_kind, ref in _env_references(deployment["spec"]["template"]["spec"]):
            rendered = by_kind.get(ref_kind, {})
            if ref not in rendered and not (ref_kind == "Secret" and ref in EXTERNAL_SECRETS):
                yield f"Deployment/{name}: refers to {ref_kind}/{ref}, which is not rendered"


def _env_references(pod: Obj) -> Iterator[tuple[str, str]]:
    for container in pod.get("containers", []):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                yield "ConfigMap", source["configMapRef"]["name"]
            if "secretRef" in source:
                yield "Secret", source["secretRef"]["name"]
        for variable in container.get("env", []):
            value_from = variable.get("valueFrom", {})
            if "secretKeyRef" in value_from:
                yield "Secret", value_from["secretKeyRef"]["name"]
            if "configMapKeyRef" in value_from:
                yield "ConfigMap", value_from["configMapKeyRef"]["name"]


def _ingress_problems(ingresses: dict[str, Obj]) -> Iterator[str]:
    protocol_key = "nginx.ingress.kubernetes.io/backend-protocol"
    grpc_seen = False
    for name, ingress in ingresses.items():
        backends = {
            path["backend"]["service"]["port"].get("name")
            for rule in ingress["spec"].get("rules", [])
            for path in rule.get("http", {}).get("paths", [])
        }
        protocol = ingress["metadata"].get("annotations", {}).get(protocol_key)
        if "grpc" in backends:
            grpc_seen = True
            if backends != {"grpc"} or protocol != "GRPC":
                yield f"Ingress/{name}: the gRPC Ingress must route only to port grpc with backend-protocol GRPC"
        elif protocol is not None:
            yield f"Ingress/{name}: backend-protocol {protocol} would break HTTP and WebSocket"
    if ingresses and not grpc_seen:
        yield "no Ingress routes to the grpc port"


# ---------------------------------------------------------------- settings --
def setting_names() -> set[str]:
    sys.path.insert(0, str(DEPLOY_DIR.parent))
    from entrypoints.config import Settings

    return {name.upper() for name in Settings.__struct_fields__}


def env_file_keys(path: Path) -> set[str]:
    keys = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            keys.add(line.split("=", 1)[0].strip())
    return keys


def settings_problems(settings: set[str]) -> Iterator[str]:
    compose_only = {"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
    example = env_file_keys(DEPLOY_DIR / ".env.example")
    for key in sorted(settings - example):
        yield f"deploy/.env.example does not explain {key}"
    for key in sorted(example - settings - compose_only):
        yield f"deploy/.env.example lists {key}, which entrypoints/config.py does not read"
    for key in sorted(env_file_keys(DEPLOY_DIR / "k8s" / "base" / "config.env") - settings):
        yield f"deploy/k8s/base/config.env sets {key}, which entrypoints/config.py does not read"
    yield from _load_problems(DEPLOY_DIR / ".env.example", DEPLOY_DIR / "k8s" / "base" / "config.env")


def _load_problems(*env_files: Path) -> Iterator[str]:
    """Each file, alone, must pass the gateway's own settings validation."""
    from entrypoints.config import ConfigError, load_settings

    for path in env_files:
        try:
            load_settings([], environ={}, dotenv=path)
        except ConfigError as exc:
            yield f"{path.relative_to(DEPLOY_DIR.parent)} is rejected by the gateway: {exc}"


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "split":
        written = split(Path(argv[1]), Path(argv[2]), argv[3])
        print(f"{len(written)} objects written to {argv[2]}")
        return 0
    if len(argv) >= 2 and argv[0] == "policy":
        settings = _optional_settings()
        problems = list(policy_problems(load(Path(p) for p in argv[1:]), settings))
    elif argv == ["settings"]:
        problems = list(settings_problems(setting_names()))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


def _optional_settings() -> set[str] | None:
    try:
        return setting_names()
    except ImportError:
        print("note: entrypoints.config not importable; ConfigMap keys not checked", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
