"""Connecting to Temporal with the settings: one place for the address, namespace, TLS and
converter.

Clients (the API, the CLI) decode leniently: they read what the workers wrote. Workers decode
strictly (``worker_client``): a command that is not encrypted with our keys never reaches the
workflow (docs/design.md §6, the trust boundary).

With ``DAIBAN_TEMPORAL_TLS_CERT``/``_KEY``/``_CA`` set, the connection is mutual TLS: the frontend
proves itself with a certificate signed by the CA (under ``DAIBAN_TEMPORAL_TLS_SERVER_NAME`` when
that differs from the address), and we prove ourselves with ours. The development stack stays on
loopback without TLS.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from daiban.core.codec import data_converter
from daiban.core.settings import Settings


def converter(settings: Settings, *, strict: bool = False) -> DataConverter:
    """The data converter of every client (``strict=False``) and worker (``strict=True``):
    payloads encrypted with the codec keys."""
    return data_converter(settings.codec_keys.get_secret_value(), strict=strict)


def tls_config(settings: Settings) -> TLSConfig | None:
    """The client side of mutual TLS, read from the settings' files; None without TLS."""
    if settings.temporal_tls_cert is None:
        return None
    return TLSConfig(
        server_root_ca_cert=_read(settings.temporal_tls_ca),
        domain=settings.temporal_tls_server_name,
        client_cert=_read(settings.temporal_tls_cert),
        client_private_key=_read(settings.temporal_tls_key),
    )


def _read(path: Path | None) -> bytes | None:
    return None if path is None else path.read_bytes()


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter(settings),
        tls=tls_config(settings) or False,
    )


def worker_client(client: Client, settings: Settings) -> Client:
    """The same connection, decoding as a worker must: unencrypted inbound payloads (workflow
    input, update and signal arguments) are refused."""
    config = client.config()
    config["data_converter"] = dataclasses.replace(
        client.data_converter,
        payload_codec=converter(settings, strict=True).payload_codec,
    )
    return Client(**config)
