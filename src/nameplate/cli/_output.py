"""Where command output goes (``-o FILE|DIR/|-``), and progress on a terminal.

Files are written whole or not at all (:func:`nameplate._io.atomic_write`); a folder receives
files named by :mod:`nameplate._filenames` (cleaned, unique within the run); ``-`` is standard
output. Progress bars go to standard error, and only when it is a terminal.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from ._options import Destination

if TYPE_CHECKING:
    from ..record import Record

__all__ = [
    "emit",
    "emit_records",
    "emit_stream",
    "load_record",
    "note",
    "progress",
    "read_input",
    "record_json",
]


def _stdout_bytes(data: bytes) -> None:
    stream = sys.stdout.buffer
    stream.write(data)
    stream.flush()


def read_input(arg: str | Path) -> tuple[bytes, str]:
    """The bytes of a FILE argument, and its name for messages; ``-`` is standard input (read
    bounded, as a file is)."""
    from .._io import read_bounded
    from ..errors import InputTooLarge
    from ..tree import DEFAULT_LIMIT

    if str(arg) != "-":
        return read_bounded(arg), str(arg)
    data = sys.stdin.buffer.read(DEFAULT_LIMIT + 1)
    if len(data) > DEFAULT_LIMIT:
        raise InputTooLarge(f"standard input: over the {DEFAULT_LIMIT}-byte limit")
    return data, "standard input"


def load_record(arg: str | Path) -> Record:
    """The record in a FILE argument (``-``: standard input), validated. A regular file is
    read a component at a time (:mod:`nameplate._streamload`: bounded memory); whatever that
    reader does not take is read whole, which reports any error."""
    from .. import _streamload
    from ..record import Record
    from ..tree import DEFAULT_LIMIT

    if str(arg) != "-" and Path(arg).is_file():
        with contextlib.suppress(_streamload.Fallback):
            return _streamload.load(Path(arg), limit=DEFAULT_LIMIT)
    data, where = read_input(arg)
    return Record.loads(data, where=where)


def note(message: str) -> None:
    """A status line for people, on standard error (``wrote records/``)."""
    from .._terminal import escape

    click.echo(escape(message), err=True)


def emit(dest: Destination, data: bytes | str, *, name: str | None = None) -> Path | None:
    """Write one output to ``dest``: standard output, the file, or ``name`` in the folder.
    Returns the file written (None for standard output)."""
    from .._io import atomic_write

    raw = data.encode() if isinstance(data, str) else data
    target = _target(dest, name)
    if target is None:
        _stdout_bytes(raw)
        return None
    atomic_write(target, raw)
    return target


def emit_stream(
    dest: Destination, write: Callable[[BinaryIO], None], *, name: str | None = None
) -> Path | None:
    """:func:`emit` for output made a piece at a time: ``write`` writes it to the stream it is
    given (a file is still replaced whole, or not at all)."""
    from .._io import atomic_writer

    target = _target(dest, name)
    if target is None:
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return None
    with atomic_writer(target) as out:
        write(out)
    return target


def _target(dest: Destination, name: str | None) -> Path | None:
    if dest.path is None:
        return None
    if not dest.folder:
        return dest.path
    if name is None:
        raise click.UsageError(
            f"-o {dest.given}: a folder, and this command writes one file: name the file"
        )
    return dest.path / name


def record_json(record: Record | dict[str, Any]) -> str:
    """The canonical JSON text of a record (sorted keys, two-space indent, newline)."""
    doc = record if isinstance(record, dict) else record.to_dict()
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def emit_records(
    dest: Destination, records: Sequence[Record], docs: Sequence[dict[str, Any]] | None = None
) -> None:
    """Write records: one JSON object (one record) or array (several) to standard output, one
    file, or one file per record in a folder (names cleaned and unique within this run).
    ``docs``: the records' JSON data, when the caller has it already."""
    from .._filenames import record_stem, unique
    from .._io import atomic_write
    from ..errors import NameplateError

    if docs is None:
        docs = [r.to_dict() for r in records]
    if dest.path is None:
        if len(docs) == 1:
            _stdout_bytes(record_json(docs[0]).encode())
        else:
            text = json.dumps(docs, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            _stdout_bytes(text.encode())
        return
    several_into_a_new_path = (
        len(docs) > 1 and not dest.path.exists() and not dest.path.name.endswith(".json")
    )
    if not dest.folder and not several_into_a_new_path:  # -o records: a folder, as before
        if len(docs) != 1:
            raise NameplateError(
                f"{dest.given}: {len(docs)} records: -o needs a folder here (end it with /), "
                "or choose one with --root, or join them with --combined"
            )
        atomic_write(dest.path, record_json(docs[0]).encode())
        note(f"wrote {dest.path}")
        return
    names = unique(record_stem(r) for r in records)
    with progress(len(docs), f"writing {len(docs)} records") as bar:
        for doc, name in zip(docs, names, strict=True):
            atomic_write(dest.path / name, record_json(doc).encode())
            if bar is not None:
                bar(1)
    shown = dest.given if dest.given.endswith("/") else dest.given + "/"
    note(f"wrote {len(docs)} record{'s' if len(docs) != 1 else ''} to {shown}")


def on_terminal() -> bool:
    """Whether standard error is a terminal (progress is shown only there)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """A bar with counts on standard error, drawn on the first step (so a phase that never
    reports progress prints nothing) and at most ten times a second."""

    def __init__(self, label: str, total: int | None) -> None:
        self.label, self.total, self.done = label, total, 0
        self._drawn = 0.0

    def __call__(self, n: int) -> None:
        """Advance by ``n`` steps."""
        self.done += n
        self._draw()

    def update(self, done: int, total: int | None = None) -> None:
        """Set the count (and the total, when it becomes known)."""
        self.done = done
        if total is not None:
            self.total = total
        self._draw()

    def _draw(self, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._drawn < 0.1 and self.done != self.total:
            return
        self._drawn = now
        if self.total:
            filled = min(30, 30 * self.done // self.total)
            bar = f"[{'#' * filled}{'-' * (30 - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done}"
        sys.stderr.write(f"\r{self.label} {bar}\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        """End the line, if anything was drawn."""
        if self._drawn:
            self._draw(final=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


@contextlib.contextmanager
def progress(total: int | None, label: str, *, minimum: int = 2) -> Iterator[Progress | None]:
    """A :class:`Progress` on standard error when it is a terminal (and at least ``minimum``
    steps are known to come); otherwise None, and nothing is printed."""
    if not on_terminal() or (total is not None and total < minimum):
        yield None
        return
    from .._terminal import printable

    bar = Progress(printable(label), total)
    try:
        yield bar
    finally:
        bar.close()
