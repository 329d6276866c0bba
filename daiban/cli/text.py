"""Plain-text tables and wrapped lines that fit a width, counting a Chinese character as two
columns.

The command line prints to terminals of 80 columns and to pipes. Rather than cut a cell short
(``姜 …``), a cell too wide for its column wraps onto the next lines, so every name, note and notice
is shown whole. In a pipe the width is ``COLUMNS`` or 80.
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_WIDTH = 80
GAP = "  "
MIN_COLUMN = 6


def width() -> int:
    """The terminal's width, or ``COLUMNS``, or 80 in a pipe."""
    if sys.stdout.isatty():
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    try:
        return int(os.environ.get("COLUMNS", DEFAULT_WIDTH))
    except ValueError:
        return DEFAULT_WIDTH


def cells(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide (CJK) characters take two, combining none."""
    total = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def wrap(text: str, limit: int) -> list[str]:
    """``text`` in lines of at most ``limit`` columns; breaks at a space when there is one in the
    line, else between characters (Chinese has no spaces to break at)."""
    limit = max(limit, 2)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, used = "", 0
        for char in paragraph:
            size = cells(char)
            if used + size > limit:
                cut = line.rfind(" ")
                if cut > 0:
                    lines.append(line[:cut])
                    line = line[cut + 1 :]
                else:
                    lines.append(line)
                    line = ""
                used = cells(line)
            line += char
            used += size
        lines.append(line)
    return lines


def pad(text: str, size: int) -> str:
    return text + " " * max(size - cells(text), 0)


@dataclass(frozen=True)
class Column:
    heading: str
    # A column that may be narrowed (its cells then wrap); the others keep their natural width.
    narrows: bool = True
    right: bool = False
    # The narrowest it may become (at least its heading and MIN_COLUMN).
    floor: int = 0


def table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], limit: int, gap: str = GAP
) -> str:
    """Rows under their headings within ``limit`` columns; the widest narrowable column gives
    way first. Cells may hold several lines."""
    natural = [
        max([cells(c.heading)] + [cells(line) for row in rows for line in row[i].split("\n")])
        for i, c in enumerate(columns)
    ]
    sizes = list(natural)
    room = limit - cells(gap) * (len(columns) - 1)
    while sum(sizes) > room:
        narrowable = [
            i
            for i, c in enumerate(columns)
            if c.narrows and sizes[i] > max(MIN_COLUMN, cells(c.heading), c.floor)
        ]
        if not narrowable:
            break  # wider than the terminal: lines run over rather than lose text
        widest = max(narrowable, key=lambda i: sizes[i])
        sizes[widest] -= 1
    out = [_line([c.heading for c in columns], sizes, columns, gap)]
    out.append(gap.join("-" * size for size in sizes).rstrip())
    for row in rows:
        wrapped = [wrap(cell, sizes[i]) for i, cell in enumerate(row)]
        for n in range(max(len(lines) for lines in wrapped)):
            parts = [lines[n] if n < len(lines) else "" for lines in wrapped]
            out.append(_line(parts, sizes, columns, gap))
    return "\n".join(out)


def _line(parts: Sequence[str], sizes: Sequence[int], columns: Sequence[Column], gap: str) -> str:
    shown = []
    for part, size, column in zip(parts, sizes, columns, strict=True):
        fill = " " * max(size - cells(part), 0)
        shown.append(fill + part if column.right else part + fill)
    return gap.join(shown).rstrip()


def facts(pairs: Sequence[tuple[str, str]], limit: int) -> str:
    """``label  value`` lines; a long value wraps under itself, never cut."""
    label_size = max(cells(label) for label, _ in pairs)
    indent = " " * (label_size + len(GAP))
    out = []
    for label, value in pairs:
        lines = wrap(value, limit - len(indent))
        out.append(pad(label, label_size) + GAP + lines[0])
        out += [indent + line for line in lines[1:]]
    return "\n".join(line.rstrip() for line in out)
