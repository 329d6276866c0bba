"""One place for every setting, read from the environment with the ``DAIBAN_`` prefix.

Every number of the domain (windows, thresholds, default rating) lives here or in the catalog
data file, never in code. Secrets are refused when they are still placeholders outside development.
"""

from __future__ import annotations

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

    # Database: SQLite under var/ by default, PostgreSQL (postgresql+psycopg://...) in production.
    database_url: str = "sqlite:///var/daiban.db"

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_bytes: int = 64 * 1024
    # The codec endpoint decodes whole workflow states for the Temporal Web UI.
    codec_max_body_bytes: int = 4 * 1024 * 1024

    # Clocks (DESIGN §2): the office's time zone and closing time.
    timezone: str = "Asia/Shanghai"
    closing_time: time = time(17, 0)

    # Windows of DESIGN §5, in working days unless the name says natural days.
    agent_handoff_days: int = Field(2, ge=0)
    acceptance_window_days: int = Field(5, ge=0)
    township_step_days: int = Field(5, ge=0)
    township_step_statutory_days: int = Field(20, ge=0)
    delivery_days: int = Field(2, ge=0)
    supplement_window_natural_days: int = Field(30, ge=0)
    rating_window_natural_days: int = Field(7, ge=0)
    rectification_days: int = Field(5, ge=0)

    # Escalation ladder of DESIGN §3.
    reminder_working_days_before: int = Field(1, ge=0)
    yellow_fraction: float = Field(0.9, gt=0, lt=1)

    # Ratings of DESIGN §4.
    default_rating: int = Field(3, ge=1, le=5)

    # Written notices (文书) are printed as PDF with this font, embedded: Noto Serif CJK of
    # Debian's fonts-noto-cjk, face 2 of the collection (Simplified Chinese). Checked at start-up.
    notice_font: Path = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
    notice_font_index: int = Field(2, ge=0)

    # Catalog replacement file (DAIBAN_CATALOG); None means the shipped demo catalog.
    catalog: Path | None = None

    # Secrets
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_jwks_url: str | None = None
    jwt_ttl_seconds: int = 8 * 3600
    # Comma-separated "key_id:base64key" pairs; the first one encrypts, all of them decrypt.
    codec_keys: SecretStr = SecretStr(f"dev1:{DEV_CODEC_KEY}")
    codec_cors_origin: str = "http://localhost:8233"
    # Development only (refused in production): the local Temporal UI of `daiban run` has no
    # sign-in and sends no token, so let it decode without one. Production UIs pass an OIDC token.
    codec_dev_ui_without_token: bool = False

    # Submit rate limit per token (requests per minute).
    submit_rate_per_minute: int = Field(120, ge=1)

    # Notifications: POSTed as JSON to this gateway URL; unset, they are written to the log.
    notify_webhook_url: str | None = None
    # How often the worker retries notifications whose delivery failed.
    notify_relay_seconds: float = Field(30.0, gt=0)

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment != "production":
            return self
        secret = self.jwt_secret.get_secret_value()
        if secret.lower() in PLACEHOLDER_SECRETS or "change" in secret.lower() or len(secret) < 32:
            raise ValueError(
                "DAIBAN_JWT_SECRET must be set to a real secret (32+ characters) in production"
            )
        if self.codec_dev_ui_without_token:
            raise ValueError("DAIBAN_CODEC_DEV_UI_WITHOUT_TOKEN is for development only")
        if DEV_CODEC_KEY in self.codec_keys.get_secret_value():
            raise ValueError("DAIBAN_CODEC_KEYS must not use the development key in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
