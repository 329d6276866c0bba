"""Settings refuse placeholder secrets outside development."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from daiban.core.codec import new_key
from daiban.core.settings import Settings
from daiban.domain.intake import policy

REAL_SECRET = "s3cr3t-" + "x" * 40


@pytest.mark.parametrize("secret", ["change-me", "CHANGE-ME-please-0000000000000000000", "short"])
def test_production_refuses_placeholder_jwt_secrets(secret: str) -> None:
    with pytest.raises(ValidationError, match="DAIBAN_JWT_SECRET"):
        Settings(
            environment="production",
            jwt_secret=SecretStr(secret),
            codec_keys=SecretStr(f"k1:{new_key()}"),
        )


def test_production_refuses_the_development_codec_key() -> None:
    with pytest.raises(ValidationError, match="DAIBAN_CODEC_KEYS"):
        Settings(environment="production", jwt_secret=SecretStr(REAL_SECRET))


def test_production_accepts_real_secrets_and_development_accepts_defaults() -> None:
    Settings(
        environment="production",
        jwt_secret=SecretStr(REAL_SECRET),
        codec_keys=SecretStr(f"k1:{new_key()}"),
    )
    assert Settings().environment == "development"


def test_the_county_ladder_settings_reach_the_policy_snapshot() -> None:
    settings = Settings(opening_time="09:00", warning_share=0.75, order_response_days=3)
    ladder = policy(settings).ladder
    assert ladder is not None
    assert (ladder.opening, ladder.warning_share, ladder.order_response_days) == ("09:00", 0.75, 3)
    default = policy(Settings()).ladder
    assert default is not None and (default.opening, default.warning_share) == ("08:30", None)
    with pytest.raises(ValueError, match="OPENING_TIME"):
        Settings(opening_time="18:00")
