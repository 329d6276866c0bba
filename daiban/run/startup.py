"""One clear line instead of a traceback when a process cannot start.

A bad catalog file, a missing notice font, an unreachable database, a schema not migrated,
malformed codec keys, invalid settings or an unreachable Temporal server are operator errors: each
is reported as one line naming what is wrong, and the process exits with status 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from daiban.core.codec import CodecKeyError, data_converter
from daiban.core.settings import Settings
from daiban.domain.catalog import CatalogError, catalog_from_settings
from daiban.domain.notice_render import NoticeFontError, check_notice_font
from daiban.store.db import DatabaseUnavailable, SchemaOutOfDate

EXIT_STARTUP = 2


class TemporalUnavailable(Exception):
    """The Temporal server could not be reached at start."""


def describe(error: BaseException) -> str | None:
    """The one-line message for a known start-up error, or None for anything else."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        return f"invalid setting DAIBAN_{field.upper()}: {first['msg']}"
    if isinstance(
        error,
        CatalogError
        | CodecKeyError
        | DatabaseUnavailable
        | NoticeFontError
        | SchemaOutOfDate
        | TemporalUnavailable,
    ):
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    return None


@contextmanager
def clear_startup_errors(process: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        message = describe(error)
        if message is None:
            raise
        sys.stderr.write(f"{process}: cannot start: {message}\n")
        sys.stdout.flush()
        sys.stderr.flush()
        # Not SystemExit: interpreter teardown after a Temporal client can abort (exit 134).
        os._exit(EXIT_STARTUP)


def check_configuration(settings: Settings) -> None:
    """What the API and the stack read from files and secrets, checked before anything starts:
    the catalog (DAIBAN_CATALOG), the codec keys and the notices' font (DAIBAN_NOTICE_FONT)."""
    catalog_from_settings(settings)
    data_converter(settings.codec_keys.get_secret_value())
    check_notice_font(settings.notice_font, settings.notice_font_index)
