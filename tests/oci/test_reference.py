"""Reference parsing: layouts, registries, the default store."""

from __future__ import annotations

from pathlib import Path

import pytest

from nameplate.errors import NameplateError
from nameplate.oci.reference import parse

D = "sha256:" + "a" * 64


def test_layout_with_name_and_digest() -> None:
    r = parse(f"oci:/tmp/store:myapp:1.0@{D}")
    assert (r.kind, r.path, r.name, r.digest) == ("layout", Path("/tmp/store"), "myapp:1.0", D)
    assert parse("oci:rel/dir").name is None


@pytest.mark.parametrize(
    ("text", "host", "repo", "tag", "digest"),
    [
        ("localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1", None),
        ("docker://127.0.0.1:5000/app", "127.0.0.1:5000", "app", "latest", None),
        (f"ghcr.io/org/app@{D}", "ghcr.io", "org/app", None, D),
        (f"localhost/app:v2@{D}", "localhost", "app", "v2", D),
    ],
)
def test_registry(text: str, host: str, repo: str, tag: str | None, digest: str | None) -> None:
    r = parse(text)
    assert (r.kind, r.registry, r.repository, r.name, r.digest) == (
        "registry",
        host,
        repo,
        tag,
        digest,
    )


def test_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMEPLATE_STORE", str(tmp_path))
    r = parse("myapp:1.0")
    assert (r.kind, r.path, r.name) == ("layout", tmp_path, "myapp:1.0")
    assert parse("team/app").name == "team/app:latest"
    assert parse(f"app@{D}").name is None
    assert parse("app:1", store="/x").path == Path("/x")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "oci:",
        "Upper/Case:1",
        "host.io/repo:bad tag",
        "localhost:5000/a@sha256:12",
        "docker://noslash",
        "oci:/x:bad name",
    ],
)
def test_bad(text: str) -> None:
    with pytest.raises(NameplateError):
        parse(text)


def test_str_round_trip() -> None:
    for text in ["localhost:5000/a/b:v1", f"oci:/s:n@{D}"]:
        assert str(parse(text)) == text
