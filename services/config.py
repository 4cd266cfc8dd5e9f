"""Configuration: every environment variable the platform reads, read here and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg.conninfo import conninfo_to_dict

APPLICATION_NAME = "methodical"


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on", "y")


class ConfigurationError(RuntimeError):
    """Raised when the environment lacks a setting the platform cannot run without."""


@dataclass(frozen=True)
class Settings:
    """The platform's settings, read once from the environment."""

    database_url: str
    redis_url: str | None = None
    operator_token: str | None = None
    port: int = 8000
    max_body_bytes: int = 1_000_000
    min_position_timeout: float = 5.0
    web_workers: int = 2
    web_threads: int = 4
    pool_size: int = 5
    db_connect_timeout: int = 2
    # Email notices of delivered circulars (no notice is sent while SMTP_HOST is unset).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    # Circular delivery (ADR 006): the rq queue, a job's time limit, its retries, the dispatcher's sweep.
    delivery_queue: str = "circulars"
    delivery_timeout: int = 120
    delivery_retries: int = 3
    delivery_retry_intervals: tuple[int, ...] = (10, 60, 300)
    dispatch_interval: float = 1.0
    # Reminders (ADR 023): the rq queues of the daily passes and of the emails they leave.
    reminders_queue: str = "reminders"
    mail_queue: str = "mail"
    # Tamper evidence: the Ed25519 key that signs chain checkpoints (none: unsigned), and their spacing.
    audit_signing_key: str | None = None
    checkpoint_interval: int = 1000
    # Under load, the projector's batch waits this long (seconds) from its first event for more (runner.py).
    projector_linger: float = 0.01
    # Failed authentications allowed per client address before it gets 429 (limits' notation).
    auth_failure_limit: str = "20 per minute"
    # The role the web process acts as (services/database.py); empty: the connecting user's own rights.
    web_role: str = ""
    # People's sign-in in the browser (services/web, ADR 021).
    secret_key: str | None = None  # signs the form cookie (CSRF, messages); sessions themselves are server-side
    web_cookie_secure: bool = True  # off only to serve plain HTTP on loopback
    public_url: str | None = None  # where links in emails point; unset: the address the request came to
    invitation_days: int = 7
    password_reset_hours: int = 2
    session_hours: int = 12
    # Failed sign-ins allowed per login and per client address before the form refuses to try (limits' notation).
    signin_login_limit: str = "5 per 15 minutes"
    signin_address_limit: str = "50 per 15 minutes"
    # Operations (ADR 024): where the gunicorn master serves /metrics (0: nowhere), and the projection lag past which
    # a web process says it is not ready.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9120
    ready_max_lag: float = 60.0
    # More than one host (deploy/scale-out.md): a streaming standby the read models may be read from; where the
    # event store's connections go (prepared statements, LISTEN), and the singletons' locks (a session each), when
    # DATABASE_URL goes through PgBouncer in transaction mode; whether DATABASE_URL's connections may prepare
    # statements (not through PgBouncer before 1.21 in transaction mode).
    read_database_url: str | None = None
    event_store_url: str | None = None
    lock_database_url: str | None = None
    prepared_statements: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from the process environment (or the given mapping)."""
        env = os.environ if environ is None else environ
        database_url = env.get("DATABASE_URL")
        if not database_url:
            raise ConfigurationError(
                "DATABASE_URL is not set: name a PostgreSQL server, or start the platform with ./scripts/run"
            )
        return cls(
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            # No default: without OPERATOR_TOKEN nobody can act as the operator.
            operator_token=env.get("OPERATOR_TOKEN") or None,
            port=int(env.get("PORT", "8000")),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", "1000000")),
            min_position_timeout=float(env.get("MIN_POSITION_TIMEOUT", "5")),
            web_workers=int(env.get("WEB_WORKERS", "2")),
            web_threads=int(env.get("WEB_THREADS", "4")),
            pool_size=int(env.get("DB_POOL_SIZE", "5")),
            db_connect_timeout=int(env.get("DB_CONNECT_TIMEOUT", "2")),
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=int(env.get("SMTP_PORT", "25")),
            smtp_from=env.get("SMTP_FROM") or None,
            # No defaults: a relay that needs credentials gets them from the environment only.
            smtp_user=env.get("SMTP_USER") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_starttls=_flag(env.get("SMTP_STARTTLS", "")),
            smtp_timeout=float(env.get("SMTP_TIMEOUT", "10")),
            delivery_queue=env.get("DELIVERY_QUEUE", "circulars"),
            delivery_timeout=int(env.get("DELIVERY_TIMEOUT", "120")),
            delivery_retries=int(env.get("DELIVERY_RETRIES", "3")),
            delivery_retry_intervals=tuple(
                int(v) for v in env.get("DELIVERY_RETRY_INTERVALS", "10,60,300").split(",") if v.strip()
            ),
            dispatch_interval=float(env.get("DISPATCH_INTERVAL", "1")),
            reminders_queue=env.get("REMINDERS_QUEUE", "reminders"),
            mail_queue=env.get("MAIL_QUEUE", "mail"),
            audit_signing_key=env.get("AUDIT_SIGNING_KEY") or None,
            checkpoint_interval=int(env.get("CHECKPOINT_INTERVAL", "1000")),
            projector_linger=float(env.get("PROJECTOR_LINGER_MS", "10")) / 1000,
            auth_failure_limit=env.get("AUTH_FAILURE_LIMIT", "20 per minute"),
            web_role=env.get("DATABASE_WEB_ROLE", "methodical_app"),
            # No default: without it the key is derived from OPERATOR_TOKEN (web_secret_key).
            secret_key=env.get("SECRET_KEY") or None,
            web_cookie_secure=_flag(env.get("WEB_COOKIE_SECURE", "1")),
            public_url=(env.get("PUBLIC_URL") or "").rstrip("/") or None,
            invitation_days=int(env.get("INVITATION_DAYS", "7")),
            password_reset_hours=int(env.get("PASSWORD_RESET_HOURS", "2")),
            session_hours=int(env.get("SESSION_HOURS", "12")),
            signin_login_limit=env.get("SIGNIN_LOGIN_LIMIT", "5 per 15 minutes"),
            signin_address_limit=env.get("SIGNIN_ADDRESS_LIMIT", "50 per 15 minutes"),
            metrics_host=env.get("METRICS_HOST", "127.0.0.1"),
            metrics_port=int(env.get("METRICS_PORT", "9120")),
            ready_max_lag=float(env.get("READY_MAX_LAG", "60")),
            read_database_url=env.get("READ_DATABASE_URL") or None,
            event_store_url=env.get("EVENT_STORE_URL") or None,
            lock_database_url=env.get("LOCK_DATABASE_URL") or None,
            prepared_statements=_flag(env.get("DATABASE_PREPARED_STATEMENTS", "1")),
        )

    def lock_url(self) -> str:
        """Return where the singletons' advisory locks are held (services/singleton.py): a session of their own."""
        return self.lock_database_url or self.event_store_url or self.database_url

    def web_secret_key(self) -> str:
        """Return the key that signs the web's form cookie: SECRET_KEY, else one derived from OPERATOR_TOKEN (the
        secret every worker already shares), else a random one (forms then work only within one worker)."""
        if self.secret_key:
            return self.secret_key
        if self.operator_token:
            import hashlib
            import hmac

            return hmac.new(self.operator_token.encode(), b"methodical web forms", hashlib.sha256).hexdigest()
        import secrets

        return secrets.token_hex(32)

    def signing_key(self) -> Any:
        """Return the Ed25519 key that signs chain checkpoints, or None."""
        from projections.chain import load_signing_key

        return load_signing_key(self.audit_signing_key)

    def eventsourcing_env(self, create_tables: bool = True) -> dict[str, str]:
        """Return the settings of the event store in the form eventsourcing reads them.

        The web process passes create_tables=False: its role may not create anything (the migration does).
        """
        params = conninfo_to_dict(self.event_store_url or self.database_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            # eventsourcing's recorder, with a large save split into statements (services/persistence.py).
            "APPLICATION_RECORDER_TOPIC": "services.persistence:Recorder",
            "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
            "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(params.get("port", "5432")),
            "POSTGRES_USER": str(params.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(params.get("password", "")),
            "POSTGRES_POOL_SIZE": str(self.pool_size),
            "POSTGRES_MAX_OVERFLOW": "10",
            # 0 would wait forever for the table lock; a stuck writer must not hang every request.
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
            # A new connection may take this long to open (eventsourcing's default, 30 s, outlasts gunicorn's
            # timeout); it is also the pool's wait, shortened per attempt by POOL_WAIT_SECONDS below.
            "POSTGRES_CONNECT_TIMEOUT": str(self.db_connect_timeout),
            # Check each pooled connection before use: after a restart the pool's connections are dead.
            "POSTGRES_PRE_PING": "y",
            # Per attempt of eventsourcing's retries (services/applications.py): about 3 s in all when down.
            "POOL_WAIT_SECONDS": "0.1",
            "CREATE_TABLE": "y" if create_tables else "n",
        }

    def sqlalchemy_url(self, url: str | None = None) -> str:
        """Return the database URL (or the one given) in the form SQLAlchemy's psycopg 3 dialect takes."""
        url = url or self.database_url
        for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        # A key=value conninfo string: pass it through as the query of an empty URL.
        from urllib.parse import quote

        return "postgresql+psycopg:///?" + "&".join(
            f"{k}={quote(str(v))}" for k, v in conninfo_to_dict(url).items()
        )
