"""Settings of the trust boundary: the public development secret never on a non-loopback
listener, mutual TLS to Temporal all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from daiban.core.settings import Settings, is_loopback

REAL_SECRET = "s3cr3t-" + "x" * 40


@pytest.mark.parametrize("environment", ["development", "test"])
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "api.example.gov.cn"])
def test_the_development_secret_is_refused_on_a_non_loopback_address(
    environment: str, host: str
) -> None:
    with pytest.raises(ValidationError, match="not a loopback address"):
        Settings(environment=environment, api_host=host)  # type: ignore[arg-type]
    # With a real secret any address will do; on loopback the development secret still does.
    Settings(environment=environment, api_host=host, jwt_secret=SecretStr(REAL_SECRET))  # type: ignore[arg-type]
    Settings(environment=environment, api_host="127.0.0.1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("localhost.evil.com", False),
     ("10.0.0.1", False), ("", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_temporal_tls_files_go_together_and_must_exist(tmp_path: Path) -> None:
    cert, key, ca = (tmp_path / name for name in ("client.pem", "client.key", "ca.pem"))
    for path in (cert, key, ca):
        path.write_text("-----BEGIN-----\n")
    with pytest.raises(ValidationError, match="go together"):
        Settings(temporal_tls_cert=cert, temporal_tls_key=key)
    with pytest.raises(ValidationError, match="needs the TLS files"):
        Settings(temporal_tls_server_name="temporal-frontend")
    with pytest.raises(ValidationError, match="does not exist"):
        Settings(temporal_tls_cert=cert, temporal_tls_key=key, temporal_tls_ca=tmp_path / "no")
    settings = Settings(
        temporal_tls_cert=cert,
        temporal_tls_key=key,
        temporal_tls_ca=ca,
        temporal_tls_server_name="temporal-frontend",
    )
    assert settings.temporal_tls_ca == ca
