"""Settings: parsed once at startup from flags, the environment and ``.env`` (deploy/.env.example).

Precedence: command-line flags, then the process environment, then a ``.env``
file in the working directory, then the embedded defaults. Every field maps to
the environment variable of the same name in upper case. A wrong value stops
the start with a message that names the variable.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from dotenv import dotenv_values

from domain.images import DEFAULT_MAX_IMAGE_BYTES
from entrypoints.cors_policy import parse_cors
from entrypoints.setting_values import ConfigError, split_list

__all__ = ["ConfigError", "Settings", "load_settings", "split_list"]

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
OptionalPort = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
# A year at most: larger durations overflow the C timeouts of sockets and timers they end up in.
Seconds = Annotated[float, msgspec.Meta(gt=0, le=365 * 86_400)]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # Process and listeners
    host: str = "0.0.0.0"
    http_port: Port = 8090
    ws_port: OptionalPort = 8091
    grpc_port: OptionalPort = 50051
    metrics_port: OptionalPort = 0
    workers: Positive = 1
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_prompts: bool = False
    in_mode: str = ""
    shutdown_grace_seconds: Seconds = 20.0
    # The cyclic garbage collector (entrypoints/collector.py): freeze the start-up heap, collect the young
    # generation less often; GC_TUNING=false keeps Python's defaults
    gc_tuning: bool = True
    gc_young_threshold: Annotated[int, msgspec.Meta(ge=100, le=10_000_000)] = 10_000
    # Connections, on every HTTP/WebSocket listener (entrypoints/connection_limits.py)
    header_timeout_seconds: Seconds = 10.0
    body_timeout_seconds: Seconds = 30.0
    max_header_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 65_536
    max_connections: Positive = 4096
    client_write_timeout_seconds: Seconds = 30.0  # how long a send may wait on a client that stopped reading
    # Requests
    default_provider: str = ""
    max_tokens: Positive = 4096
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] = 0.7
    max_prompt_chars: Positive = 100_000
    max_request_bytes: Positive = 1_048_576
    batch_max_items: Positive = 1000
    batch_max_concurrency: NonNegative = 0  # 0: a quarter of POOL_MAX_CONCURRENT (see batch_fan_out)
    anthropic_ping_seconds: Seconds = 15.0  # a ping event on /v1/messages streams after this much silence
    # Worker pool
    pool_max_concurrent: Positive = 512
    pool_queue_size: NonNegative = 2048
    pool_max_wait_seconds: Seconds = 30.0
    # Cache
    cache_enabled: bool = True
    cache_ttl: Positive = 3600
    cache_backend: Literal["memory", "redis"] = "memory"
    cache_max_entries: Positive = 10_000
    redis_url: str = ""
    redis_timeout_seconds: Seconds = 0.5
    redis_key_prefix: str = ""
    # Sessions and persistence
    session_backend: Literal["memory", "redis", "postgres"] = "memory"
    use_redis_cache: bool = False
    postgres_url: str = ""
    postgres_pool_max: Positive = 10
    postgres_lock_connections: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    migrations_dir: str = ""
    examples_dir: str = ""
    session_max_messages: Positive = 100
    session_context_window: NonNegative = 50
    session_cache_ttl: Positive = 86_400
    session_memory_max: Positive = 10_000
    responses_retention_seconds: Positive = 30 * 86_400  # stored responses of /v1/responses (OpenAI keeps 30 days)
    enable_cache_feedback: bool = True
    feedback_min_reporters: Positive = 3  # distinct reporters whose complaints retire a cached answer
    feedback_reports_per_hour: Positive = 20  # complaints recorded per reporter per hour; more are dropped
    # Providers
    mock_provider_enabled: bool = True
    mock_latency_ms: Annotated[float, msgspec.Meta(ge=0)] = 20.0
    aws_enabled: bool = False
    aws_region: str = "us-east-1"
    aws_bedrock_endpoint_url: str = ""
    aws_bearer_token_bedrock: str = ""
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    aws_session_token: str = ""
    aws_default_model: str = ""
    azure_api_key: str = ""
    azure_ad_token: str = ""
    azure_endpoint: str = ""
    azure_api_version: str = "2024-10-21"
    azure_default_model: str = "gpt-4.1"
    azure_deployments: str = ""
    openai_base_url: str = ""
    openai_api_key: str = ""
    openai_models: str = ""
    openai_default_model: str = ""
    provider_max_retries: NonNegative = 2
    provider_connect_timeout: Seconds = 5.0
    provider_first_byte_timeout: Seconds = 60.0
    provider_idle_timeout: Seconds = 60.0
    upstream_client: Literal["fast", "sdk"] = "fast"  # Azure/OpenAI over the lean HTTP client, or the SDK
    circuit_failure_threshold: Positive = 5
    circuit_reset_seconds: Seconds = 30.0
    # Images by URL (docs/api.md#images-by-url): fetched for Bedrock only when enabled, behind the SSRF guard
    image_fetch_enabled: bool = False
    max_image_bytes: Positive = DEFAULT_MAX_IMAGE_BYTES  # one image, fetched or in a data URL
    image_fetch_timeout_seconds: Seconds = 10.0  # the whole fetch: lookup, connect, redirects, body
    image_fetch_allow_http: bool = False
    # Protection
    api_keys: str = ""
    metrics_auth: bool = False
    rate_limit_enabled: bool = False
    rate_limit_rps: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    rate_limit_burst: Positive = 20
    rate_limit_global_rps: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    rate_limit_global_burst: NonNegative = 0  # 0: one second's worth of the global rate
    rate_limit_backend: Literal["auto", "memory", "redis"] = "auto"  # auto: Redis when REDIS_URL is set
    trusted_proxies: str = ""  # whose X-Forwarded-For names the client on the HTTP port
    cors_allow_all_origins: bool = False
    cors_allowed_origins: str = ""
    cors_allow_methods: str = "GET,POST,PUT,DELETE,OPTIONS,PATCH"
    cors_allow_headers: str = (
        "Origin,Content-Type,Accept,Authorization,X-Request-ID,X-User-ID,X-Session-ID,X-API-Key,api-key,Cache-Control"
    )
    cors_expose_headers: str = "Content-Length,Content-Type,X-Request-ID,X-Gateway-Overhead-Ms,X-Cache,Retry-After"
    cors_allow_credentials: bool = False
    cors_max_age: NonNegative = 43_200
    enable_tls: bool = False
    tls_cert_path: str = ""
    tls_key_path: str = ""
    ws_max_frame_bytes: Positive = 1_048_576
    grpc_max_message_bytes: Positive = 16_777_216
    # MCP (docs/api.md#mcp): the /mcp surface and the upstream MCP servers
    mcp_servers: str = ""  # {"mcpServers": {...}} as JSON, or the path of a file holding it
    mcp_allowed_hosts: str = "localhost,localhost:*,127.0.0.1,127.0.0.1:*,[::1],[::1]:*"
    mcp_allowed_origins: str = (
        "http://localhost,http://localhost:*,http://127.0.0.1,http://127.0.0.1:*,http://[::1],http://[::1]:*"
    )
    mcp_health_interval_seconds: Seconds = 10.0  # how often a connected upstream MCP server is checked (tools/list)
    mcp_max_tool_rounds: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5  # MCP tool-call rounds of one generate
    mcp_allow_client_servers: bool = False  # a request may name an MCP server by URL (behind the SSRF guard)
    mcp_client_server_timeout_seconds: Seconds = 10.0  # connect and list, and each call, of such a server
    # Observability
    otel_exporter_otlp_endpoint: str = ""
    otel_service_name: str = "mcp-server-ai"
    access_log: bool = True  # one JSON line per request (docs/api.md#observability)

    @property
    def migrations_path(self) -> Path:
        """``MIGRATIONS_DIR``, else ``migrations/`` beside the packages (a source checkout)."""
        return Path(self.migrations_dir) if self.migrations_dir else Path(__file__).resolve().parents[1] / "migrations"

    @property
    def batch_fan_out(self) -> int:
        """Items of one batch in flight at once, so pool slots it may hold: never the whole pool by default."""
        if self.batch_max_concurrency:
            return min(self.batch_max_concurrency, self.pool_max_concurrent)
        return max(1, self.pool_max_concurrent // 4)

    @property
    def development(self) -> bool:
        return self.in_mode.lower() == "development"

    @property
    def azure_enabled(self) -> bool:
        return bool(self.azure_endpoint and (self.azure_api_key.strip() or self.azure_ad_token))

    @property
    def openai_enabled(self) -> bool:
        return bool(self.openai_base_url or self.openai_api_key)

    @property
    def bedrock_enabled(self) -> bool:
        return self.aws_enabled or bool(self.aws_access_key_id or self.aws_bearer_token_bedrock)


_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_FIELDS = {name.upper(): name for name in Settings.__struct_fields__}
_FLAGS = {"http": "HTTP_PORT", "ws": "WS_PORT", "grpc": "GRPC_PORT", "workers": "WORKERS"}


def parse_flags(argv: Sequence[str]) -> dict[str, str]:
    """Flags as env overrides; the single-dash spellings old scripts use (``-http=8090``) work too."""
    parser = argparse.ArgumentParser(prog="mcp-server-ai", add_help=True)
    for flag in _FLAGS:
        parser.add_argument(f"--{flag}", f"-{flag}", dest=flag)
    parser.add_argument("--debug", "-debug", action="store_true")
    args = parser.parse_args(list(argv))
    overrides = {env: str(getattr(args, flag)) for flag, env in _FLAGS.items() if getattr(args, flag)}
    if args.debug:
        overrides["LOG_LEVEL"] = "debug"
    return overrides


def load_settings(
    argv: Sequence[str] = (), environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Settings:
    values: dict[str, str | None] = {}
    if dotenv is not None and dotenv.is_file():
        values.update(dotenv_values(dotenv))
    values.update(os.environ if environ is None else environ)
    values.update(parse_flags(argv))
    # A variable set to nothing (``UPSTREAM_CLIENT=`` in an env file) means "use the default".
    raw = {field: value.strip() for env, field in _FIELDS.items() if (value := values.get(env)) and value.strip()}
    if "log_level" in raw:
        raw["log_level"] = raw["log_level"].lower()
    if "upstream_client" not in raw and any(values.get(name) for name in _PROXY_VARIABLES):
        # The lean client does not speak to proxies; the openai SDK (httpx) honours these variables.
        raw["upstream_client"] = "sdk"
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(exc, raw)) from None
    _check_finite(settings, raw)
    _check(settings)
    return settings


def _explain(exc: msgspec.ValidationError, raw: Mapping[str, str]) -> str:
    message = str(exc)
    field = message.rsplit("$.", 1)[-1].strip("`' ") if "$." in message else ""
    if field in raw:
        return f"{field.upper()}={raw[field]!r} is not valid: {message.split(' - at ')[0]}"
    return message


def _check_finite(settings: Settings, raw: Mapping[str, str]) -> None:
    """No number setting may be infinite or NaN: ``inf`` passes a ``> 0`` bound but breaks every use."""
    for field in Settings.__struct_fields__:
        value = getattr(settings, field)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{field.upper()}={raw[field]!r} is not valid: expected a finite number")


def _check(settings: Settings) -> None:
    _check_protection(settings)
    if settings.cache_backend == "redis" and not settings.redis_url:
        raise ConfigError("CACHE_BACKEND=redis needs REDIS_URL")
    if settings.session_backend == "redis" and not settings.redis_url:
        raise ConfigError("SESSION_BACKEND=redis needs REDIS_URL")
    if settings.session_backend == "postgres" and not settings.postgres_url:
        raise ConfigError("SESSION_BACKEND=postgres needs POSTGRES_URL")
    if settings.use_redis_cache and not settings.redis_url:
        raise ConfigError("USE_REDIS_CACHE=true needs REDIS_URL")
    for url_var in ("redis_url",):
        url = getattr(settings, url_var)
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"{url_var.upper()} must start with redis://, rediss:// or unix://")
    if settings.enable_tls:
        for var in ("tls_cert_path", "tls_key_path"):
            path = getattr(settings, var)
            if not path or not Path(path).is_file():
                raise ConfigError(f"ENABLE_TLS=true needs {var.upper()} to name a readable file, got {path!r}")
    _check_mcp(settings)
    ports = [p for p in (settings.http_port, settings.ws_port, settings.grpc_port, settings.metrics_port) if p]
    if len(ports) != len(set(ports)):
        raise ConfigError(f"HTTP_PORT, WS_PORT, GRPC_PORT and METRICS_PORT must differ, got {ports}")


def _check_mcp(settings: Settings) -> None:
    from entrypoints.mcp_servers import parse_mcp_servers

    parse_mcp_servers(settings.mcp_servers)
    if not split_list(settings.mcp_allowed_hosts):
        raise ConfigError("MCP_ALLOWED_HOSTS must name at least one host (the /mcp DNS-rebinding protection)")
    for host in split_list(settings.mcp_allowed_hosts):
        if "/" in host or any(char.isspace() for char in host):
            raise ConfigError(f"MCP_ALLOWED_HOSTS: {host!r} is not a host[:port] (a port may be *)")
    for origin in split_list(settings.mcp_allowed_origins):
        if not origin.startswith(("http://", "https://")):
            raise ConfigError(f"MCP_ALLOWED_ORIGINS: {origin!r} is not an http(s):// origin")


def _check_protection(settings: Settings) -> None:
    """API keys, CORS and the rate-limit backend, checked before any listener starts."""
    from domain.api_keys import parse_key_entries
    from entrypoints.http.shared.client_address import TrustedProxies

    try:
        parse_key_entries(settings.api_keys)
    except ValueError as exc:
        raise ConfigError(f"API_KEYS: {exc}; make entries with `mcp-server-ai hash-key`") from None
    parse_cors(settings)
    try:
        TrustedProxies.parse(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"TRUSTED_PROXIES: {exc}") from None
    if settings.rate_limit_backend == "redis" and not settings.redis_url:
        raise ConfigError("RATE_LIMIT_BACKEND=redis needs REDIS_URL")
    endpoint = settings.otel_exporter_otlp_endpoint
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s):// URL (OTLP/HTTP), got {endpoint!r}")
