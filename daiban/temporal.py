"""Connecting to Temporal with the settings: one place for the address, namespace and converter."""

from __future__ import annotations

from temporalio.client import Client

from daiban.settings import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
