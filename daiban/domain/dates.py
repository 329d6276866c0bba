"""Reading a date people typed: strictly ``YYYY-MM-DD``.

Here rather than beside the calendar's tables so that the command line can check a date without
importing the database layer (its client commands import only the standard library).
"""

from __future__ import annotations

import re
from datetime import date

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(value: object, where: str = "") -> date:
    """An ISO date (YYYY-MM-DD) or ValueError with a one-line message, prefixed by ``where``."""
    # Strictly YYYY-MM-DD: date.fromisoformat also takes 20270101 and 2027-W01-1.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    prefix = f"{where}: " if where else ""
    raise ValueError(f"{prefix}{value!r} is not a date (expected YYYY-MM-DD)")
