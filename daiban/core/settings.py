"""One place for every setting, read from the environment with the ``DAIBAN_`` prefix.

Every number of the domain (windows, thresholds, default rating) lives here or in the catalog
data file, never in code. Secrets are refused when they are still placeholders outside development.
"""

from __future__ import annotations

import ipaddress
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "secret", "development-only-secret-not-for-production"}
)
DEV_JWT_SECRET = "development-only-secret-not-for-production"
# A fixed development key (32 bytes, base64) so that a fresh clone can run; refused in production.
DEV_CODEC_KEY = "ZGFpYmFuLWRldmVsb3BtZW50LWtleS0wMDAwMDAwMDA="


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DAIBAN_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "daiban"
    # Mutual TLS to the frontend (deploy/): our certificate and key, the CA that signed the
    # frontend's, and the name in the frontend's certificate when the address differs. All three
    # files or none; the development stack stays on loopback without TLS.
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_tls_server_name: str | None = None

    # Database: SQLite under var/ by default, PostgreSQL (postgresql+psycopg://...) in production.
    database_url: str = "sqlite:///var/daiban.db"

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_bytes: int = 64 * 1024
    # The codec endpoint decodes whole workflow states for the Temporal Web UI.
    codec_max_body_bytes: int = 4 * 1024 * 1024
    # What a codec call may inflate to, per payload and in total: compression turns megabytes of
    # zeros into kilobytes, and the answer is built in memory.
    codec_max_payload_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    codec_max_response_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    # Codec calls per minute per caller (the UI decodes a history page in a few calls).
    codec_rate_per_minute: int = Field(600, ge=1)

    # Clocks (docs/design.md §2): the office's time zone and closing time.
    timezone: str = "Asia/Shanghai"
    closing_time: time = time(17, 0)

    # Windows of docs/design.md §5, in working days unless the name says natural days.
    agent_handoff_days: int = Field(2, ge=0)
    acceptance_window_days: int = Field(5, ge=0)
    township_step_days: int = Field(5, ge=0)
    township_step_statutory_days: int = Field(20, ge=0)
    delivery_days: int = Field(2, ge=0)
    supplement_window_natural_days: int = Field(30, ge=0)
    rating_window_natural_days: int = Field(7, ge=0)
    rectification_days: int = Field(5, ge=0)
    # Rectification of a bad rating (docs/design.md §4): working days to call the resident back,
    # working days after the rating in which the rated office may appeal it, and the furthest a
    # scheduled fix (限期整改) may be promised, in natural days.
    callback_days: int = Field(1, ge=0)
    appeal_days: int = Field(5, ge=0)
    rectify_due_max_days: int = Field(30, ge=1, le=366)

    # Escalation ladder of docs/design.md §3.
    reminder_working_days_before: int = Field(1, ge=0)
    # The earlier ladder's yellow card, for requests submitted before the county ladder.
    yellow_fraction: float = Field(0.9, gt=0, lt=1)
    # Offices open at this time: a rung due while they are closed fires at the next opening.
    opening_time: time = time(8, 30)
    # The optional early warning (预警) at this share of a limit's office time; None: off.
    warning_share: float | None = Field(None, gt=0, lt=1)
    # Working days a supervision order (督办单) gives the addressed office to reply.
    order_response_days: int = Field(2, ge=1)

    # Ratings of docs/design.md §4.
    default_rating: int = Field(3, ge=1, le=5)
    # The one-time code sent to the resident's phone to confirm a rating on the agent's device:
    # how long it is good for, and how many wrong tries kill it.
    rating_code_minutes: int = Field(10, ge=1, le=1440)
    rating_code_attempts: int = Field(5, ge=1, le=20)
    # Where the console serves the resident's rating page: the rating link sent at delivery is
    # this address followed by /pj/ and a short code (a link must fit one SMS with its text).
    rating_link_base_url: str = "http://localhost:8000"

    # Written notices (文书) are printed as PDF with this font, embedded: Noto Serif CJK of
    # Debian's fonts-noto-cjk, face 2 of the collection (Simplified Chinese). Checked at start-up.
    notice_font: Path = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
    notice_font_index: int = Field(2, ge=0)

    # Catalog replacement file (DAIBAN_CATALOG); None means the shipped demo catalog.
    catalog: Path | None = None

    # Secrets
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_jwks_url: str | None = None
    # Required with a JWKS URL: a token of the identity provider for another audience or from
    # another issuer is not ours.
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_ttl_seconds: int = 8 * 3600
    # Rating links are minted here (HS256) with a key of their own, which JWKS mode still accepts
    # for the rating-link role only. Unset, the JWT secret signs them (HS256 mode only).
    rating_link_secret: SecretStr | None = None
    # Comma-separated "key_id:base64key" pairs; the first one encrypts, all of them decrypt.
    codec_keys: SecretStr = SecretStr(f"dev1:{DEV_CODEC_KEY}")
    codec_cors_origin: str = "http://localhost:8233"
    # Development only (refused in production): the local Temporal UI of `daiban run` has no
    # sign-in and sends no token, so let it decode without one. Production UIs pass an OIDC token.
    codec_dev_ui_without_token: bool = False

    # Submit rate limit per token (requests per minute).
    submit_rate_per_minute: int = Field(120, ge=1)
    # The public progress lookup, per client address (lookups per minute): a resident checks a
    # request now and then; a guesser of numbers and ID digits is slowed to a crawl.
    progress_rate_per_minute: int = Field(10, ge=1)

    # Notifications: POSTed as JSON to this gateway URL; unset, they are written to the log.
    notify_webhook_url: str | None = None
    # How often the worker retries notifications whose delivery failed.
    notify_relay_seconds: float = Field(30.0, gt=0)

    # Export to the province's rating system (docs/export.md): "file" appends JSON lines to
    # ``export_file``, "webhook" POSTs each record to ``export_webhook_url`` (signed with the
    # secret when one is set), "off" delivers nothing (records wait in the outbox).
    export: Literal["file", "webhook", "off"] = "file"
    export_file: Path = Path("var/export/ratings.jsonl")
    export_webhook_url: str | None = None
    export_webhook_secret: SecretStr | None = None
    export_timeout_seconds: float = Field(10.0, gt=0)
    # How often the worker tries pending records again; a record that failed waits twice as long
    # before each new try, up to the maximum, and is marked failed after the last attempt.
    export_relay_seconds: float = Field(30.0, gt=0)
    export_backoff_max_seconds: float = Field(3600.0, gt=0)
    export_max_attempts: int = Field(50, ge=1)

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        self._check_tls()
        self._check_jwks()
        if self.export == "webhook" and not self.export_webhook_url:
            raise ValueError("DAIBAN_EXPORT=webhook needs DAIBAN_EXPORT_WEBHOOK_URL")
        if not self.opening_time < self.closing_time:
            raise ValueError("DAIBAN_OPENING_TIME must be before DAIBAN_CLOSING_TIME")
        placeholder = self.placeholder_secret
        # The development secret is public: whoever reaches a non-loopback listener could mint
        # any token with it, whatever the environment says (the API also refuses to answer on
        # such a listener, for a host given on the command line: daiban.http.guards).
        if placeholder and not is_loopback(self.api_host):
            raise ValueError(
                f"DAIBAN_JWT_SECRET must be a real secret (32+ characters) when the API listens "
                f"on {self.api_host} (not a loopback address)"
            )
        if self.environment != "production":
            return self
        if placeholder:
            raise ValueError(
                "DAIBAN_JWT_SECRET must be set to a real secret (32+ characters) in production"
            )
        if self.codec_dev_ui_without_token:
            raise ValueError("DAIBAN_CODEC_DEV_UI_WITHOUT_TOKEN is for development only")
        if DEV_CODEC_KEY in self.codec_keys.get_secret_value():
            raise ValueError("DAIBAN_CODEC_KEYS must not use the development key in production")
        return self

    def _check_tls(self) -> None:
        files = (self.temporal_tls_cert, self.temporal_tls_key, self.temporal_tls_ca)
        if all(f is None for f in files):
            if self.temporal_tls_server_name is not None:
                raise ValueError("DAIBAN_TEMPORAL_TLS_SERVER_NAME needs the TLS files")
            return
        if any(f is None for f in files):
            raise ValueError(
                "DAIBAN_TEMPORAL_TLS_CERT, DAIBAN_TEMPORAL_TLS_KEY and DAIBAN_TEMPORAL_TLS_CA "
                "go together (mutual TLS)"
            )
        for path in files:
            assert path is not None
            if not path.is_file():
                raise ValueError(f"Temporal TLS file {path} does not exist")

    def _check_jwks(self) -> None:
        if self.jwt_jwks_url is None:
            return
        if not self.jwt_audience or not self.jwt_issuer:
            raise ValueError(
                "DAIBAN_JWT_AUDIENCE and DAIBAN_JWT_ISSUER are required with a JWKS URL"
            )
        link = self.rating_link_secret
        if link is None or len(link.get_secret_value()) < 32:
            raise ValueError(
                "DAIBAN_RATING_LINK_SECRET (32+ characters) is required with a JWKS URL"
            )

    @property
    def placeholder_secret(self) -> bool:
        """HS256 tokens would be checked with a public or guessable secret (JWKS mode refuses
        HS256 tokens, rating links aside, which have a key of their own)."""
        if self.jwt_jwks_url:
            return False
        secret = self.jwt_secret.get_secret_value()
        return (
            secret.lower() in PLACEHOLDER_SECRETS or "change" in secret.lower() or len(secret) < 32
        )

    @property
    def rating_link_key(self) -> str:
        """The key that signs and verifies rating links."""
        secret = self.rating_link_secret or self.jwt_secret
        return secret.get_secret_value()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: only processes of this machine reach it."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
