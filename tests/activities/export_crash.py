"""A worker that dies between writing an export record and marking it sent (``os._exit``: no
``finally``, no rollback, no flush), the one crash point that makes a record go out twice.

``python -m tests.activities.export_crash <database url> <file>`` exits with ``CRASHED``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from activities.export import Exporter, JsonLinesFile
from daiban.store.db import make_engine

CRASHED = 75


class CrashAfterWriting(JsonLinesFile):
    def send(self, key: str, record: dict[str, Any]) -> None:
        super().send(key, record)
        os._exit(CRASHED)


def main(url: str, path: str) -> None:
    engine = make_engine(url)
    Exporter(engine, CrashAfterWriting(Path(path)), interval=0).deliver_round()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    sys.exit(1)  # never reached: the first send ends the process
