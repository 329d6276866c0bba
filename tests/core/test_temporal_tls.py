"""Mutual TLS to the Temporal frontend, end to end with the settings.

The dev server speaks no TLS, so a TLS terminator stands in front of it, as the frontend's own
TLS would: it presents a certificate for ``temporal-frontend`` signed by a test CA, requires a
client certificate of the same CA, and passes the HTTP/2 stream on to the dev server. A client
connected with the settings' certificate gets through; one without, or expecting another name,
does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio.testing import WorkflowEnvironment

from daiban.core.settings import Settings
from daiban.core.temporal import connect, tls_config
from tests.temporal_helpers import start_dev_server, target_of

SERVER_NAME = "temporal-frontend"
Key = ec.EllipticCurvePrivateKey


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str,
    key: Key,
    issuer: tuple[str, Key] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False
        )
    if not ca:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, stem: str, cert: x509.Certificate, key: Key) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pki")
    ca_key, server_key, client_key, other_key = (
        ec.generate_private_key(ec.SECP256R1()) for _ in range(4)
    )
    ca = _certificate("daiban test CA", ca_key, None, ca=True)
    ca_path, _ = _write(directory, "ca", ca, ca_key)
    server = _certificate(SERVER_NAME, server_key, ("daiban test CA", ca_key), server=True)
    client = _certificate("daiban-worker", client_key, ("daiban test CA", ca_key))
    # A client certificate of another CA: not one of ours.
    stranger = _certificate("stranger", other_key, None)
    server_cert, server_key_path = _write(directory, "server", server, server_key)
    client_cert, client_key_path = _write(directory, "client", client, client_key)
    stranger_cert, stranger_key = _write(directory, "stranger", stranger, other_key)
    return {
        "ca": ca_path, "server_cert": server_cert, "server_key": server_key_path,
        "client_cert": client_cert, "client_key": client_key_path,
        "stranger_cert": stranger_cert, "stranger_key": stranger_key,
    }  # fmt: skip


@contextlib.asynccontextmanager
async def tls_front(pki: dict[str, Path], backend: str) -> AsyncIterator[str]:
    """A mutual-TLS terminator on a free port in front of ``backend`` (host:port)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki["ca"]))
    context.load_cert_chain(pki["server_cert"], pki["server_key"])
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    host, port = backend.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    async with server:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    async with env:
        yield env


def settings_for(address: str, pki: dict[str, Path], **overrides: object) -> Settings:
    values: dict[str, object] = {
        "temporal_address": address,
        "temporal_tls_cert": pki["client_cert"],
        "temporal_tls_key": pki["client_key"],
        "temporal_tls_ca": pki["ca"],
        "temporal_tls_server_name": SERVER_NAME,
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[arg-type]


def test_without_tls_settings_the_connection_is_plain() -> None:
    assert tls_config(Settings(_env_file=None)) is None


async def test_the_settings_connect_through_mutual_tls(
    dev_server: WorkflowEnvironment, pki: dict[str, Path]
) -> None:
    async with tls_front(pki, target_of(dev_server)) as address:
        client = await connect(settings_for(address, pki))
        assert await client.service_client.check_health()
        # The frontend's name is checked: a certificate for another name is refused.
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(
                connect(settings_for(address, pki, temporal_tls_server_name="elsewhere")), 20
            )
        # And the frontend wants our certificate: another CA's is refused.
        stranger = settings_for(
            address,
            pki,
            temporal_tls_cert=pki["stranger_cert"],
            temporal_tls_key=pki["stranger_key"],
        )
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(connect(stranger), 20)
