"""Fuzz what the command line reads from users and from records: option values (-o, --deptypes,
references), record text on standard input, and untrusted names printed on a terminal. Each
ends in a value, a click usage error or a NameplateError, nothing else."""

from __future__ import annotations

import contextlib

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from nameplate._filenames import clean, unique
from nameplate._terminal import escape, needs_quoting, printable
from nameplate.cli import cli
from nameplate.cli._options import OutputPath, ReferenceType
from nameplate.cli.record import DepTypes
from nameplate.errors import NameplateError
from nameplate.record import Record

pytestmark = pytest.mark.property

BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


@given(st.text())
def test_printable_and_escape_never_let_a_control_through(text: str) -> None:
    for shown in (printable(text), escape(text)):
        assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown
        assert not BIDI & set(shown)
        shown.encode("utf-8")  # no lone surrogate is left: it always prints
    if not needs_quoting(text):
        assert printable(text) == text


@given(st.text(max_size=300))
def test_file_names_stay_in_their_folder(text: str) -> None:
    name = clean(text)
    assert name and "/" not in name and "\0" not in name
    assert not name.startswith((".", "-")) and len(name) <= 200
    names = unique([name, name, name.upper()])
    assert len({n.lower() for n in names}) == 3


@given(st.text(max_size=40))
def test_option_values_end_in_a_value_or_a_usage_error(text: str) -> None:
    for param_type in (OutputPath(), DepTypes(), ReferenceType()):
        try:
            param_type.convert(text, None, None)
        except click.BadParameter:
            pass


@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_a_record_on_standard_input_is_a_record_or_one_line(data: bytes) -> None:
    with contextlib.suppress(NameplateError):
        Record.loads(data, where="standard input")
    result = CliRunner().invoke(cli, ["show", "-"], input=data, prog_name="nameplate")
    assert result.exit_code in (0, 1, 3), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 3:
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
