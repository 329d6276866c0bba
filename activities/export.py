"""Delivery of the export outbox to the province's rating system (docs/export.md).

The recording queues the records (``daiban.store.exports``); the exporter, a relay like the
notification courier, sends each to an adapter and marks it sent. A send whose mark is lost (the
worker dies between the two) is sent again, so each adapter makes a second delivery of a key a
no-op downstream: the file adapter appends a key at most once; the webhook sends the key as its
``Idempotency-Key`` for the receiver to dedupe by.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import Engine

from activities.notify import Relay
from daiban.core.logs import get_logger
from daiban.core.settings import Settings
from models.db import ExportRow

log = get_logger("daiban.export")

SIGNATURE_HEADER = "X-Daiban-Signature"


class ExportAdapter(Protocol):
    def send(self, key: str, record: dict[str, Any]) -> None:
        """Deliver one record under its key; raise to have it tried again."""
        ...


def _json(record: dict[str, Any]) -> bytes:
    """A record as it leaves: UTF-8 JSON, keys sorted (a receiver may compare or sign bytes)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True).encode()


class JsonLinesFile:
    """Appends each record as one JSON line to a file the province's uploader collects.

    The append is idempotent: the keys already in the file are known (read once, then from the
    bytes other writers appended since), and a key found there is not written again. A line torn
    by a crash mid-write is cut off before the next append, so every line stays a whole record.
    An exclusive lock on the file makes check and append one step for the workers of one host.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._keys: set[str] = set()
        self._read_to = 0  # the bytes of the file whose keys are in ``_keys``
        self._file: tuple[int, int] | None = None  # (device, inode) of the file they are from

    def send(self, key: str, record: dict[str, Any]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path, "a+b") as file:
            fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes
            self._catch_up(file)
            if key in self._keys:
                log.info("export already in file", key=key, path=str(self._path))
                return
            file.seek(0, os.SEEK_END)
            file.write(_json(record) + b"\n")
            file.flush()
            os.fsync(file.fileno())
            self._keys.add(key)
            self._read_to = file.tell()

    def _catch_up(self, file: Any) -> None:
        """Learn the keys of the lines written since the last look; cut a torn last line."""
        stat = os.fstat(file.fileno())
        if (stat.st_dev, stat.st_ino) != self._file or stat.st_size < self._read_to:
            # A new file (the uploader moved the last one away) or a shorter one: start over.
            self._keys.clear()
            self._read_to = 0
            self._file = (stat.st_dev, stat.st_ino)
        file.seek(self._read_to)
        data = file.read(stat.st_size - self._read_to)
        whole = data.rfind(b"\n") + 1  # the end of the last whole line
        for line in data[:whole].splitlines():
            self._learn(line)
        if whole < len(data):
            torn = len(data) - whole
            log.warning("export file: torn last line cut", path=str(self._path), bytes=torn)
            file.truncate(self._read_to + whole)
        self._read_to += whole

    def _learn(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            self._keys.add(str(json.loads(line)["key"]))
        except (ValueError, KeyError, TypeError):  # not ours: the export goes on beside it
            log.warning("export file: a line that is no record", path=str(self._path))


class Webhook:
    """POSTs each record as JSON, with its key as ``Idempotency-Key`` (the receiver keeps one
    record per key) and, when a secret is set, an HMAC-SHA256 of the body in
    ``X-Daiban-Signature`` (``sha256=<hex>``). A non-2xx answer, a network error or a timeout
    raises, so the record stays pending and is tried again."""

    def __init__(self, url: str, *, secret: str | None = None, timeout: float = 10.0) -> None:
        self._url, self._secret = url, secret
        self._client = httpx.Client(timeout=timeout)

    def send(self, key: str, record: dict[str, Any]) -> None:
        body = _json(record)
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if self._secret:
            digest = hmac.new(self._secret.encode(), body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        self._client.post(self._url, content=body, headers=headers).raise_for_status()

    def close(self) -> None:
        self._client.close()


def adapter_for(settings: Settings) -> ExportAdapter | None:
    """The adapter ``DAIBAN_EXPORT`` names; None when export is off (records wait in the
    outbox until it is turned on)."""
    if settings.export == "webhook":
        assert settings.export_webhook_url is not None  # the settings refuse webhook without it
        secret = settings.export_webhook_secret
        return Webhook(
            settings.export_webhook_url,
            secret=secret.get_secret_value() if secret is not None else None,
            timeout=settings.export_timeout_seconds,
        )
    if settings.export == "file":
        return JsonLinesFile(settings.export_file)
    return None


class Exporter(Relay[ExportRow]):
    """Delivers the export outbox through an adapter, oldest record first. A record that failed
    waits twice as long before each new try (from one relay interval up to ``backoff_max``
    seconds); after ``max_attempts`` it is marked failed for an operator (``daiban export``)."""

    table = ExportRow
    what = "export"

    def __init__(
        self,
        engine: Engine,
        adapter: ExportAdapter,
        *,
        backoff_max: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(engine, **kwargs)
        self._adapter = adapter
        self._backoff_max = backoff_max

    @classmethod
    def with_settings(cls, engine: Engine, adapter: ExportAdapter, settings: Settings) -> Exporter:
        """The exporter the worker runs: intervals and attempts as the settings say."""
        return cls(
            engine,
            adapter,
            interval=settings.export_relay_seconds,
            backoff_max=settings.export_backoff_max_seconds,
            max_attempts=settings.export_max_attempts,
        )

    def send(self, row: ExportRow) -> None:
        try:
            self._adapter.send(row.key, row.record)
        except Exception as error:
            log.warning("export failed", key=row.key, attempt=row.attempts, error=str(error))
            raise
        log.info("exported", key=row.key, kind=row.kind, attempt=row.attempts)

    def backoff(self, attempts: int) -> float:
        if self._interval <= 0:
            return 1.0
        return min(2.0 ** max(attempts - 1, 0), max(self._backoff_max / self._interval, 1.0))
