"""Connecting to Temporal with the settings: one place for the address, namespace and converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.converter import DataConverter

from daiban.core.codec import data_converter
from daiban.core.settings import Settings


def converter(settings: Settings) -> DataConverter:
    """The data converter of every client and worker: payloads encrypted with the codec keys."""
    return data_converter(settings.codec_keys.get_secret_value())


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter(settings),
    )
