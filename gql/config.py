"""Configuration, read once from the environment at start-up and passed in (see the README's table)."""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Environment = Literal["development", "production"]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(f"{name} must be true or false, not {raw!r}")
    return raw in ("1", "true", "yes", "on")


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 3000
    max_body_bytes: int = 100_000
    # multipart/form-data (file uploads: importLibrary); every other request keeps max_body_bytes.
    max_upload_bytes: int = 50_000_000
    max_cost: int = 50_000
    rate_limit_per_minute: int = 600
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 20
    login_failure_window_seconds: int = 900
    login_backoff_seconds: float = 1.0
    api_tokens_per_user: int = 50
    # WebSocket subscriptions (gql/websocket.py, gql/live.py); connections count per server process.
    ws_connections_per_client: int = 20
    ws_subscriptions_per_connection: int = 50
    ws_queue_size: int = 64
    ws_init_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path(".data")
    demo_catalog: Path = Path(__file__).resolve().parent.parent / "data" / "demo_catalog.jsonl"
    host: str = "127.0.0.1"
    port: int = 8000
    environment: Environment = "development"
    cors_origins: tuple[str, ...] = ()
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    db_pool_size: int = 10
    db_pool_overflow: int = 5
    db_pool_timeout_seconds: float = 2.0
    statement_timeout_ms: int = 10_000
    session_idle_days: int = 30
    session_absolute_days: int = 90
    auth_history_days: int = 90
    trusted_proxies: tuple[str, ...] = ()
    # Worker processes of `serve`; None: one per available core.
    workers: int | None = None
    # Feed names, highest first: a feed takes over fields set by feeds ranked below it.
    source_precedence: tuple[str, ...] = ()
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 10.0
    introspection: bool | None = None
    embedded_as_root: bool = False
    ws_ping_interval_seconds: float = 20.0
    ws_credential_recheck_seconds: float = 60.0
    limits: Limits = field(default_factory=Limits)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def allows_introspection(self) -> bool:
        """OMT_INTROSPECTION; by default on in development, off in production."""
        return not self.is_production if self.introspection is None else self.introspection

    @classmethod
    def from_env(cls) -> "Settings":
        environment = os.environ.get("OMT_ENV", "development")
        if environment not in ("development", "production"):
            raise ValueError(f"OMT_ENV must be development or production, not {environment!r}")
        log_format = os.environ.get("OMT_LOG_FORMAT", "json" if environment == "production" else "text")
        if log_format not in ("text", "json"):
            raise ValueError(f"OMT_LOG_FORMAT must be text or json, not {log_format!r}")
        origins = tuple(o.strip() for o in os.environ.get("OMT_CORS_ORIGINS", "").split(",") if o.strip())
        proxies = tuple(p.strip() for p in os.environ.get("OMT_TRUSTED_PROXIES", "").split(",") if p.strip())
        precedence = tuple(
            s.strip() for s in os.environ.get("OMT_SOURCE_PRECEDENCE", "").split(",") if s.strip()
        )
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            data_dir=Path(os.environ.get("OMT_DATA_DIR", ".data")),
            demo_catalog=Path(os.environ.get("OMT_DEMO_CATALOG", "") or cls.demo_catalog),
            host=os.environ.get("OMT_HOST", "127.0.0.1"),
            port=_int("OMT_PORT", 8000),
            environment=environment,  # type: ignore[arg-type]
            cors_origins=origins,
            log_format=log_format,  # type: ignore[arg-type]
            log_level=os.environ.get("OMT_LOG_LEVEL", "INFO").upper(),
            db_pool_size=_int("OMT_DB_POOL_SIZE", 10),
            db_pool_overflow=_int("OMT_DB_POOL_OVERFLOW", 5),
            db_pool_timeout_seconds=_float("OMT_DB_POOL_TIMEOUT", 2.0),
            statement_timeout_ms=_int("OMT_STATEMENT_TIMEOUT_MS", 10_000),
            session_idle_days=_int("OMT_SESSION_IDLE_DAYS", 30),
            session_absolute_days=_int("OMT_SESSION_ABSOLUTE_DAYS", 90),
            auth_history_days=_int("OMT_AUTH_HISTORY_DAYS", 90),
            trusted_proxies=proxies,
            workers=_int("OMT_WORKERS", 0) or None,
            source_precedence=precedence,
            header_timeout_seconds=_float("OMT_HEADER_TIMEOUT_SECONDS", 10.0),
            body_timeout_seconds=_float("OMT_BODY_TIMEOUT_SECONDS", 10.0),
            embedded_as_root=_bool("OMT_EMBEDDED_AS_ROOT", False),
            introspection=_bool("OMT_INTROSPECTION", environment != "production"),
            ws_ping_interval_seconds=_float("OMT_WS_PING_INTERVAL_SECONDS", 20.0),
            ws_credential_recheck_seconds=_float("OMT_WS_CREDENTIAL_RECHECK_SECONDS", 60.0),
            limits=Limits(
                max_depth=_int("OMT_MAX_DEPTH", 12),
                max_aliases=_int("OMT_MAX_ALIASES", 30),
                max_tokens=_int("OMT_MAX_TOKENS", 3000),
                max_body_bytes=_int("OMT_MAX_BODY_BYTES", 100_000),
                max_upload_bytes=_int("OMT_MAX_UPLOAD_BYTES", 50_000_000),
                max_cost=_int("OMT_MAX_COST", 50_000),
                rate_limit_per_minute=_int("OMT_RATE_LIMIT_PER_MINUTE", 600),
                login_failures_per_account=_int("OMT_LOGIN_FAILURES_PER_ACCOUNT", 5),
                login_failures_per_ip=_int("OMT_LOGIN_FAILURES_PER_IP", 20),
                login_failure_window_seconds=_int("OMT_LOGIN_FAILURE_WINDOW_SECONDS", 900),
                login_backoff_seconds=_float("OMT_LOGIN_BACKOFF_SECONDS", 1.0),
                api_tokens_per_user=_int("OMT_API_TOKENS_PER_USER", 50),
                ws_connections_per_client=_int("OMT_WS_CONNECTIONS_PER_CLIENT", 20),
                ws_subscriptions_per_connection=_int("OMT_WS_SUBSCRIPTIONS_PER_CONNECTION", 50),
                ws_queue_size=_int("OMT_WS_QUEUE_SIZE", 64),
                ws_init_timeout_seconds=_float("OMT_WS_INIT_TIMEOUT_SECONDS", 10.0),
            ),
        )
