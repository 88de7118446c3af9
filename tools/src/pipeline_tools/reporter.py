"""One injected object through which the library talks to the user."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Reporter:
    """Writes progress, commands, tables and errors; tests pass their own streams."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    secrets: list[str] = field(default_factory=list)

    def hide(self, secret: str) -> None:
        """Mask every later occurrence of a secret value in what this reporter writes."""
        if secret:
            self.secrets.append(secret)

    def info(self, message: str) -> None:
        """A line of progress."""
        self._write(self.out, message)

    def command(self, argv: Sequence[str]) -> None:
        """Echo an external command before it runs."""
        self._write(self.out, "$ " + shlex.join(argv))

    def error(self, message: str) -> None:
        """One clear sentence about something the user must fix."""
        self._write(self.err, f"error: {message}")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A plain-text table, columns padded to their widest cell."""
        for line in format_table(headers, rows):
            self._write(self.out, line)

    def _write(self, stream: TextIO, text: str) -> None:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        stream.write(text + "\n")
        stream.flush()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lay out rows under headers with a ruler line, as lines of text."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [_join_cells(headers, widths), _join_cells(["-" * w for w in widths], widths)]
    lines.extend(_join_cells(row, widths) for row in rows)
    return lines


def _join_cells(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
