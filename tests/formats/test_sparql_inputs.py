"""``nameplate sparql``: query files are read bounded and decoded with one-line errors that
name the file; deep record files are one-line errors too."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from nameplate.cli import cli
from tests.formats import _support as S

FILES = sorted(str(p) for p in S.EXAMPLES.glob("*.json"))


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def _one_line(err: str, *parts: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for part in parts:
        assert part in err, err


def test_query_file_not_utf8(tmp_path: Path) -> None:
    query = tmp_path / "x.rq"
    query.write_bytes(b"\xff\xfe")
    code, out, err = _run("sparql", str(query), FILES[0])
    assert code == 3 and out == ""
    _one_line(err, f"{query}: not UTF-8 text")


def test_huge_query_file_is_refused_unread(tmp_path: Path) -> None:
    query = tmp_path / "huge.rq"
    with query.open("wb") as f:  # sparse: 3 GiB that take no disk
        f.truncate(3 << 30)
    code, _, err = _run("sparql", str(query), FILES[0])
    assert code == 3
    _one_line(err, f"{query}:", "over the 1048576-byte limit")
    query.write_bytes(b"#" * ((1 << 20) + 1))
    code, _, err = _run("sparql", str(query), FILES[0])
    assert code == 3
    _one_line(err, f"{query}:", "limit")


def test_missing_and_bad_query_files_name_the_file(tmp_path: Path) -> None:
    code, _, err = _run("sparql", str(tmp_path / "missing.rq"), FILES[0])
    assert code == 3
    _one_line(err, "missing.rq: no such file")
    bad = tmp_path / "bad.rq"
    bad.write_text("SELEC ?x")
    code, _, err = _run("sparql", str(bad), FILES[0])
    assert code == 3
    _one_line(err, f"{bad}: SPARQL query failed")
    folder = tmp_path / "d.rq"
    folder.mkdir()
    code, _, err = _run("sparql", str(folder), FILES[0])
    assert code == 3
    _one_line(err, "d.rq")


def test_query_file_still_works(tmp_path: Path) -> None:
    query = tmp_path / "q.rq"
    query.write_text("ASK { ?s ?p ?o }", encoding="utf-8")
    code, out, _ = _run("sparql", str(query), FILES[0])
    assert code == 0 and out.splitlines() == ["ask", "true"]


def test_deep_record_file_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    nested = tmp_path / "nested.json"
    nested.write_text('{"schema_version": ' + "[" * 200_000 + "]" * 200_000 + "}")
    for path in (deep, nested):
        code, _, err = _run("sparql", "ASK { ?s ?p ?o }", str(path))
        assert code == 3, err
        _one_line(err, str(path))
