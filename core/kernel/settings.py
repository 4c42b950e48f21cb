"""Settings: defaults in config/hub.toml, overridden by HUB_* environment variables.

Plugins contribute their own settings models through the `hub_config` hook; their
values live in the `[plugins.<name>]` table and are validated at start-up too.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "hub.toml"
PLUGIN_CORE_KEYS = ("enabled", "mount", "requires")
MAX_AUTO_WORKERS = 8


class SettingsError(Exception):
    """A setting has a bad value; the message names the key and the reason."""


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        value = item.get("input")
        shown = f" (got {value!r})" if not isinstance(value, dict) else ""
        lines.append(f"invalid setting {key}: {item['msg']}{shown}")
    return "\n".join(lines)


def _list_setting(value: Any) -> Any:
    """A list from the environment: JSON (`["a", "b"]`) or comma-separated (`a,b`)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise ValueError(f"looks like a JSON list but is not one ({error})") from None
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            raise ValueError("must be a JSON list of strings")
        return [item.strip() for item in parsed if item.strip()]
    return [part.strip() for part in text.split(",") if part.strip()]


# A list that an environment variable may give as JSON or as "a,b,c".
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_list_setting)]

_HOST_NAME = re.compile(
    r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$", re.IGNORECASE
)


def _network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry.strip().removeprefix("[").removesuffix("]"), strict=False)
    except ValueError:
        return False
    return True


def _hosts_or_networks(entries: list[str]) -> list[str]:
    for entry in entries:
        if not (_network(entry) or _HOST_NAME.match(entry.strip())):
            raise ValueError(f"{entry!r} is neither a host name (or *.domain), an IP address nor a network")
    return entries


def _networks(entries: list[str]) -> list[str]:
    for entry in entries:
        if not _network(entry):
            raise ValueError(f"{entry!r} is not an IP address or network")
    return entries


def _redis_url(value: str | None) -> str | None:
    if value and not re.match(r"^rediss?://", value):
        raise ValueError("must start with redis:// or rediss://")
    return value or None


RedisUrl = Annotated[str | None, AfterValidator(_redis_url)]

# Host names ("hooks.internal", "*.corp.example"), IP addresses or CIDR networks.
HostList = Annotated[CommaList, AfterValidator(_hosts_or_networks)]
# IP addresses or CIDR networks.
NetworkList = Annotated[CommaList, AfterValidator(_networks)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Unset: one per CPU (at most MAX_AUTO_WORKERS) when redis_url is set; one without Redis,
    # where WebSocket fan-out, rate limits and in-process jobs live in one process's memory.
    workers: int | None = Field(None, ge=1, le=64)
    # Connections the kernel queues before accepting: past it, new connections are refused at
    # once instead of waiting seconds in line behind a busy server.
    backlog: int = Field(128, ge=1, le=65535)
    # hypercorn (the default) or uvicorn (`pip install 'the-hub[uvicorn]'`: uvloop and httptools,
    # about 1.5x the requests/s of hypercorn on a bare route: bench/request_path.py --server).
    asgi_server: Literal["hypercorn", "uvicorn"] = "hypercorn"

    def workers_for(self, redis_url: str | None) -> int:
        if self.workers is not None:
            return self.workers
        return max(1, min(os.cpu_count() or 1, MAX_AUTO_WORKERS)) if redis_url else 1


class AuthSettings(_Section):
    access_token_minutes: int = Field(30, ge=1, le=24 * 60)
    refresh_token_days: int = Field(7, ge=1, le=365)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    api_key_prefix: str = Field("hub_", pattern=r"^[A-Za-z][A-Za-z0-9]{0,15}_$")
    # Per email and client address: past this many failures in a row, each further one doubles
    # the wait (up to login_max_lockout_seconds).
    login_max_failures: int = Field(5, ge=1, le=100)
    login_max_lockout_seconds: int = Field(900, ge=1, le=86400)
    # Per email over all addresses: this many failures within login_failure_window_seconds lock
    # the email for the rest of the window, except from addresses it logged in from before
    # (within login_known_client_days).
    login_max_failures_per_email: int = Field(50, ge=1, le=100_000)
    login_failure_window_seconds: int = Field(3600, ge=60, le=7 * 86400)
    login_known_client_days: int = Field(90, ge=0, le=3650)
    # argon2id's cost (argon2-cffi's RFC 9106 low-memory profile: 3 passes over 64 MiB, 4 lanes).
    # Lower it only for tests (the test kit does, as Django's test runner uses a fast hasher).
    password_time_cost: int = Field(3, ge=1, le=20)
    password_memory_kib: int = Field(65_536, ge=64, le=4_194_304)
    password_parallelism: int = Field(4, ge=1, le=64)
    # Each process remembers who a token or key belongs to this long (never past its expiry); a
    # logout, revocation, demotion or removal made through the Hub drops it everywhere at once.
    principal_cache_seconds: float = Field(60.0, ge=0, le=3600)


def _origins(entries: list[str]) -> list[str]:
    for entry in entries:
        if entry != "*" and not re.fullmatch(r"https?://[^/\s]+", entry):
            raise ValueError(f"{entry!r} is not an origin: scheme://host[:port] without a path, or *")
    return entries


class HttpSettings(_Section):
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # A view taking longer answers 504 REQUEST_TIMEOUT (0: no bound); streamed bodies are not bounded.
    request_timeout_seconds: float = Field(60.0, ge=0, le=3600)
    # Browser apps on these origins may call the API (CORS, core/http/cors.py); empty: CORS off.
    # ["https://app.example.com", "http://localhost:3000"], or ["*"] for any origin.
    cors_origins: Annotated[CommaList, AfterValidator(_origins)] = []


class PaginationSettings(_Section):
    default_limit: int = Field(50, ge=1)
    max_limit: int = Field(100, ge=1, le=10_000)


class WebSocketSettings(_Section):
    """The WebSocket gateway (core/websocket.py): keep-alive, limits, per-plan connections."""

    ping_interval_seconds: float = Field(25.0, gt=0)  # the server sends {"type":"ping"} this often
    pong_timeout_seconds: float = Field(20.0, gt=0)  # silent this long after a ping: closed (4408)
    auth_timeout_seconds: float = Field(5.0, gt=0)  # for the first-message {"type":"auth"} form
    max_message_bytes: int = Field(65_536, ge=256)  # larger client messages: closed (1009)
    send_queue_size: int = Field(1_000, ge=1)  # undelivered messages per socket before it is closed (1013)
    # Open sockets per organization, by Organization.plan (seed 004); other plans get the default.
    connection_limits: dict[str, Annotated[int, Field(ge=0)]] = {"free": 5, "starter": 5, "pro": 25, "enterprise": 100}
    default_connection_limit: int = Field(5, ge=0)


class WebhookSettings(_Section):
    """Outbound webhooks (core/webhooks.py) and the SSRF guard for user-given URLs (core/ssrf.py)."""

    # Hosts ("hooks.internal", "*.corp.example"), IPs or CIDRs reachable despite the SSRF
    # rules (loopback, private, link-local, metadata, ...). HUB_WEBHOOKS__ALLOWLIST=a,b
    allowlist: HostList = []
    timeout_seconds: float = Field(10.0, gt=0, le=300)  # one whole attempt, connect to last byte
    max_attempts: int = Field(6, ge=1, le=50)
    backoff_base_seconds: float = Field(30.0, ge=0)  # wait before retry n: base * 2**(n-1), +0-20% jitter
    backoff_max_seconds: float = Field(3600.0, ge=0)  # the longest wait between attempts
    max_response_chars: int = Field(1024, ge=0, le=65_536)  # response body kept per attempt



RateLimitScope = Literal["user", "organization", "global", "ip"]


class RateLimitRule(_Section):
    """One rule (core/ratelimit.py, GCRA): `burst_size` requests at once, refilled at
    `requests_per_minute`; `requests_per_minute = 0` switches limiting off for the pattern.
    Scope user/organization falls back to the client IP on routes without a principal."""

    requests_per_minute: int = Field(ge=0, le=10_000_000)
    burst_size: int | None = Field(None, ge=1, le=10_000_000)  # default: requests_per_minute
    scope: RateLimitScope = "user"


def _rule(requests_per_minute: int, burst_size: int | None = None, scope: str = "user") -> RateLimitRule:
    return RateLimitRule(requests_per_minute=requests_per_minute, burst_size=burst_size, scope=scope)


class RateLimitSettings(_Section):
    """Rate limits per endpoint pattern (fnmatch on the path; the most specific pattern wins),
    overridable per plan by the `hub_rate_limits` hook. Memory, or Redis when redis_url is set."""

    enabled: bool = True
    backend: Literal["auto", "memory"] = "auto"  # auto: Redis when a Redis URL is set, else memory
    redis_url: RedisUrl = None  # default: the Hub's redis_url
    on_redis_error: Literal["open", "closed"] = "open"  # Redis down: let requests through, or 503
    redis_timeout_seconds: float = Field(0.5, gt=0, le=30)
    redis_retry_seconds: float = Field(1.0, ge=0, le=300)  # after a Redis error, skip Redis this long
    key_prefix: str = Field("hub:ratelimit", pattern=r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*$")
    trusted_proxies: NetworkList = []  # IPs/CIDRs whose X-Forwarded-For is believed
    memory_max_keys: int = Field(100_000, ge=100)
    rules: dict[str, RateLimitRule] = {
        "*": _rule(6000, 1000),
        "/api/*": _rule(3000, 500),
        "/api/auth/*": _rule(10, 5),  # seed 001; by client IP for login, register, refresh
        "/api/v1/auth/*": _rule(10, 5),  # seed 003's login and refresh paths
        "/api/auth/me": _rule(3000, 500),
        "/api/workflows/*/execute": _rule(60, 10, "organization"),  # seed 001
        "/api/ai/*": _rule(30, 5, "organization"),  # seed 001
        "/api/agents/*/execute": _rule(30, 5, "organization"),  # model time, like /api/ai/*
        "/v1/*": _rule(100, 20),  # seed 000: "100 requests/minute per service" (OpenAI-compatible API)
        "/health": _rule(0),
        "/healthz": _rule(0),
        "/ready": _rule(0),
        "/metrics": _rule(0),
    }


    @field_validator("rules")
    @classmethod
    def _patterns(cls, value: dict[str, RateLimitRule]) -> dict[str, RateLimitRule]:
        for pattern in value:
            if not pattern or not (pattern.startswith("/") or pattern.startswith("*")):
                raise ValueError(f"pattern {pattern!r} must start with / or *")
        return value


class ObservabilitySettings(_Section):
    """Metrics, logs and trace context (core/observability.py)."""

    service_name: str = Field("hub", pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # `service` metric label and log field
    # "auto": readable text lines on a terminal, else one JSON object per line (seed 003 §7).
    log_format: Literal["auto", "json", "text"] = "auto"
    json_logs: bool | None = None  # the former switch: true means log_format "json", false "text"
    access_log: bool = True  # one log line per request (logger "hub.access")
    metrics_enabled: bool = True  # GET /metrics in the Prometheus text format
    # Who may read /metrics. With a token: anyone sending `Authorization: Bearer <token>`.
    # Without: only clients on this machine (loopback; behind a reverse proxy on the same host,
    # set [rate_limits] trusted_proxies so the real client address counts), unless
    # metrics_public = true opens it to everyone. Tenants appear only as keyed hashes.
    metrics_token: SecretStr | None = None
    metrics_public: bool = False

    @model_validator(mode="after")
    def _former_json_logs(self) -> "ObservabilitySettings":
        if self.json_logs is not None and self.log_format == "auto":
            self.log_format = "json" if self.json_logs else "text"
        return self


class QuotaSettings(_Section):
    """Monthly quotas per plan and metered unit (core/metering.py), overridden per plan by the
    hub_plan_limits hook. A unit without a limit is unlimited; over a limit: 429 QUOTA_EXCEEDED."""

    enabled: bool = True
    plans: dict[str, dict[str, Annotated[int, Field(ge=0)]]] = {
        "free": {"api_calls": 100_000},
        "starter": {"api_calls": 2_000_000},
        "pro": {"api_calls": 10_000_000},
        "enterprise": {},
    }
    default: dict[str, Annotated[int, Field(ge=0)]] = {"api_calls": 2_000_000}  # plans not listed
    # Without Redis, other processes' usage is seen this late (with Redis, at once).
    totals_cache_seconds: float = Field(2.0, ge=0, le=3600)
    key_prefix: str = Field("hub:usage", pattern=r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*$")


class EventSettings(_Section):
    """The event catalogue (core/events/catalogue.py)."""

    # How `emit` treats an unregistered type or a payload its model refuses: "strict" raises
    # (the default in development and tests), "log" logs and delivers (the default in production).
    validate_payloads: Literal["strict", "log"] | None = None
    # The outbox (core/events/outbox.py): an event's process has this long to dispatch it
    # before any other process may (at least once: a slow dispatch may then run twice) ...
    outbox_lease_seconds: float = Field(30.0, ge=1, le=3600)
    # ... and every process looks for such events this often.
    outbox_poll_seconds: float = Field(1.0, gt=0, le=300)
    # Events of one organization are dispatched in order, in one of this many lanes.
    dispatch_lanes: int = Field(4, ge=1, le=64)


class TenancySettings(_Section):
    """The per-process cache of organizations' plan, status and plugin switches
    (core/tenancy/context.py). Changes made through the Hub reach every process at once with
    Redis; without it, other processes see them within `cache_seconds`."""

    cache_seconds: float = Field(2.0, ge=0, le=3600)


class ApiVersionSettings(_Section):
    """Dated API versions (the API-Version header, core/versioning.py)."""

    default: str = "2024-01-15"  # used when a request sends no API-Version header
    # Accepted versions besides those plugins register through hub_api_versions.
    supported: CommaList = ["2024-01-15", "2023-12-01"]


    @field_validator("default")
    @classmethod
    def _valid_default(cls, value: str) -> str:
        return _api_version(value)

    @field_validator("supported")
    @classmethod
    def _valid_supported(cls, value: list[str]) -> list[str]:
        return [_api_version(item) for item in value]


def _api_version(value: str) -> str:
    import datetime

    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            datetime.date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")


class JobsSettings(_Section):
    """Background jobs (core/jobs.py): dramatiq on Redis with `hub worker`, or in process."""

    # Run jobs inside `hub serve`? Unset: yes without redis_url, no with it (`hub worker` runs them).
    run_in_server: bool | None = None
    worker_threads: int = Field(8, ge=1, le=512)  # jobs run at once per process (default of --threads)
    worker_processes: int = Field(1, ge=1, le=256)  # default of `hub worker --processes`
    # Messages a worker process takes ahead of its threads. Unset: 2 x threads (dramatiq's default),
    # so a process busy with long jobs does not hold back short ones others could run; raise it
    # (e.g. 64) for floods of tiny jobs with few threads.
    prefetch: int | None = Field(None, ge=1, le=65_535)
    namespace: str = Field("hub", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")  # Redis key prefix of the queues
    queue: str = Field("hub_jobs", pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
    default_timeout_seconds: float = Field(3600.0, gt=0)  # per attempt, unless the job type says otherwise
    retry_backoff_seconds: float = Field(2.0, ge=0)  # wait before retry n: base * 2**(n-1), with jitter
    retry_backoff_max_seconds: float = Field(600.0, ge=0, le=86_400)
    heartbeat_seconds: float = Field(5.0, gt=0, le=300)  # running jobs' heartbeat, and the recovery sweep
    stale_after_seconds: float = Field(30.0, gt=0)  # a running job silent this long is re-run elsewhere
    resend_pending_after_seconds: float = Field(300.0, gt=0)  # a pending job overdue this long is re-sent
    cancel_grace_seconds: float = Field(10.0, ge=0)  # then a job ignoring ctx.cancelled is cancelled by force
    shutdown_grace_seconds: float = Field(10.0, ge=0)  # running jobs may finish, then go back to pending
    retention_days: int = Field(30, ge=0)  # finished jobs are deleted after this; 0 keeps them

    @model_validator(mode="after")
    def _stale_after_heartbeats(self) -> "JobsSettings":
        if self.stale_after_seconds < 2 * self.heartbeat_seconds:
            raise ValueError("stale_after_seconds must be at least twice heartbeat_seconds")
        return self


DEFAULT_FILE_TYPES = [
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "text/csv",
    "application/json",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
]


class FileSettings(_Section):
    """The core's file storage (core/files): uploads, attachments, logos, exports."""

    backend: Literal["local", "s3"] = "local"
    path: Path | None = None  # the local backend's directory; default: <data_dir>/files
    max_upload_bytes: int = Field(25 * 1024 * 1024, ge=1024)  # one file through POST /api/files
    # What POST /api/files accepts, as detected from the content (never the client's word).
    allowed_types: CommaList = DEFAULT_FILE_TYPES
    # An S3-compatible store (AWS, MinIO, Ceph...): `pip install 'the-hub[s3]'` (boto3).
    s3_bucket: str | None = Field(None, min_length=3, max_length=63)
    s3_prefix: str = Field("hub-files/", max_length=200, pattern=r"^([A-Za-z0-9._-]+/)*$")
    s3_endpoint_url: str | None = Field(None, pattern=r"^https?://")  # unset: AWS
    s3_region: str | None = Field(None, max_length=64)
    s3_access_key_id: SecretStr | None = None  # unset: boto3's own chain (environment, instance role)
    s3_secret_access_key: SecretStr | None = None

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> "FileSettings":
        if self.backend == "s3" and not self.s3_bucket:
            raise ValueError("s3_bucket is required when backend = \"s3\"")
        return self


class PluginsSettings(BaseModel):
    """`disabled`, `required`, `entry_points`, plus one table per plugin (kept as extras)."""

    model_config = ConfigDict(extra="allow")

    disabled: CommaList = []
    required: CommaList = []
    entry_points: bool = True


    def section(self, plugin_name: str) -> dict[str, Any]:
        value = (self.model_extra or {}).get(plugin_name) or {}
        if not isinstance(value, dict):
            raise SettingsError(f"invalid setting plugins.{plugin_name}: must be a table of settings")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUB_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: RedisUrl = None
    secret_key: SecretStr | None = None
    # Earlier secret_keys: stored credentials encrypted with one still load until
    # `hub rotate-credentials` has re-encrypted them with secret_key (core.tenancy.credentials).
    previous_secret_keys: list[SecretStr] = []
    auto_migrate: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # HUB_DISABLED_PLUGINS=a,b is the short form of HUB_PLUGINS__DISABLED.
    disabled_plugins: CommaList = []
    # A folder of third-party plugin packages (each a package or module with hub_* functions),
    # loaded like entry-point plugins: how plugins are added to the one-file binary. Unset: none.
    plugins_path: Path | None = None

    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    http: HttpSettings = HttpSettings()
    pagination: PaginationSettings = PaginationSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    websocket: WebSocketSettings = WebSocketSettings()
    webhooks: WebhookSettings = WebhookSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    quotas: QuotaSettings = QuotaSettings()
    api_versions: ApiVersionSettings = ApiVersionSettings()
    events: EventSettings = EventSettings()
    tenancy: TenancySettings = TenancySettings()
    jobs: JobsSettings = JobsSettings()
    files: FileSettings = FileSettings()
    plugins: PluginsSettings = PluginsSettings()


    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not re.match(r"^(sqlite|postgres|postgresql|asyncpg)://", value):
            raise ValueError("must start with sqlite://, postgres:// or postgresql://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("HUB_CONFIG") or DEFAULT_CONFIG_FILE)
        if os.environ.get("HUB_CONFIG") and not toml_file.is_file():
            raise SettingsError(f"invalid setting HUB_CONFIG: no such file {str(toml_file)!r}")
        try:
            toml_settings = TomlConfigSettingsSource(settings_cls, toml_file=toml_file)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise SettingsError(f"invalid config file {str(toml_file)!r}: {error}") from None
        return (init_settings, env_settings, toml_settings)

    # -- derived values ---------------------------------------------------------------------

    @property
    def disabled(self) -> set[str]:
        return set(self.plugins.disabled) | set(self.disabled_plugins)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite://{self.data_dir / 'hub.sqlite3'}"

    def signing_key(self) -> str:
        """The JWT/HMAC secret. Without one configured, a random key is kept in data_dir
        so that an embedded Hub works out of the box and tokens survive restarts."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            if self.env == "production":
                raise SettingsError("invalid setting secret_key: required when env = production")
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from config file + environment (+ explicit overrides, used by tests)."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
