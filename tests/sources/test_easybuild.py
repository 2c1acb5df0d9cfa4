"""The EasyBuild source on a real EasyBuild 5.4.1 install tree, against its expected.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from nameplate import schema, sources
from nameplate.errors import SourceError
from nameplate.record import Component, Record
from nameplate.sources import ExtractOptions, easybuild
from nameplate.sources.easybuild import extract as eb_extract
from nameplate.sources.easybuild import install as eb_install
from nameplate.tree import DirectoryTree
from tests.conftest import DATA, FIXED_TIME

EB = DATA / "easybuild"
INSTALL = EB / "install"
EXPECTED = json.loads((EB / "expected.json").read_text())["installs"]


def opts(**kw: Any) -> ExtractOptions:
    return ExtractOptions(clock=FIXED_TIME, **kw)


def extract_all(path: Path, **kw: Any) -> list[Record]:
    records = sources.extract_all(path, kind="easybuild", options=opts(**kw))
    for r in records:
        schema.validate(r.to_dict())
        assert Record.from_dict(r.to_dict()) == r
    return records


def combined() -> Record:
    (record,) = extract_all(INSTALL, combined=True)
    return record


def _comp(record: Record, name: str) -> Component:
    (comp,) = [c for c in record.components if c.name == name and c.status == "installed"]
    return comp


def test_detect() -> None:
    assert easybuild.detect(INSTALL)
    assert easybuild.detect(INSTALL / "software" / "bzip2" / "1.0.8-GCCcore-12.2.0")
    assert easybuild.detect(INSTALL / "modules" / "all" / "bzip2" / "1.0.8-GCCcore-12.2.0.lua")
    assert easybuild.detect(EB / "easyconfigs" / "foss-2025a.eb")
    assert easybuild.detect(EB / "easyconfigs")
    assert not easybuild.detect(DATA)
    assert sources.detect(INSTALL) == "easybuild"


@pytest.mark.parametrize("exp", EXPECTED, ids=[e["name"] for e in EXPECTED])
def test_fixture_equals_expected(exp: dict[str, Any]) -> None:
    record = combined()
    comp = _comp(record, exp["name"])
    tc = exp["toolchain"]
    suffix = exp["versionsuffix"]
    assert comp.version == exp["version"]
    assert (comp.versionsuffix or "") == suffix
    assert comp.toolchain is not None
    assert (comp.toolchain.name, comp.toolchain.version) == (tc["name"], tc["version"])
    assert comp.id == "easybuild:" + exp["module_name"]
    assert comp.status == "installed" and comp.ecosystem == "easybuild"
    assert comp.options["easyblock"] == exp["easyblock"]
    tcopts = {
        k.split(".", 1)[1]: v for k, v in comp.options.items() if k.startswith("toolchainopts.")
    }
    assert tcopts == exp["toolchainopts"]
    assert comp.options.get("configopts", "") == exp["configopts"]
    assert comp.prefix == exp["installdir"].replace(
        "software", "/tmp/eb-offline/fixture/software", 1
    )
    assert comp.homepage == exp["homepage"]
    assert comp.moduleclass == exp["moduleclass"]
    assert comp.module_name == exp["module_name"]
    # runtime deps = the module's depends_on, as typed edges
    runtime = sorted(
        d.dependency.removeprefix("easybuild:")
        for d in record.dependencies
        if d.dependent == comp.id and "run" in d.types
    )
    assert runtime == sorted(exp["module_depends_on"])
    declared = {(d["name"], d["version"]) for d in exp["dependencies_declared"]}
    for name, version in declared:
        assert any(
            e.dependent == comp.id
            and e.dependency.startswith(f"easybuild:{name}/{version}")
            and e.types == ("link", "run")
            for e in record.dependencies
        )
    filtered = exp["builddependencies_filtered_out"]
    assert comp.properties.get("filtered_dependencies", "") == ",".join(filtered)
    assert [s.filename for s in comp.sources] == exp["sources"]
    assert [p.name for p in comp.patches] == exp["patches"]
    for url, src in zip(exp["source_urls"], comp.sources, strict=True):
        assert src.url == url + (src.filename or "")
    computed = {c["file"]: c["sha256"] for c in exp["sha256_computed_in_log"]}
    for item in [*comp.sources, *comp.patches]:
        fname = item.filename if hasattr(item, "filename") else item.name  # type: ignore[union-attr]
        assert [h.value for h in item.checksums if h.algorithm == "sha256"] == [computed[fname]]
    target = comp.target
    if exp["optarch_in_log"] is None:
        assert target is None
    else:
        assert target is not None and target.flags == exp["optarch_in_log"]
        assert target.name == exp["buildstats"]["cpu_arch_name"]
    stats = exp["buildstats"]
    assert comp.installed_at is not None
    assert record.provenance.builder is not None
    assert record.provenance.builder.version == stats["easybuild-framework_version"]
    for key in ("cpu_arch", "cpu_arch_name", "cpu_model", "os_name", "os_version", "glibc_version"):
        assert record.provenance.build_host[key] == str(stats[key])
    assert "hostname" not in record.provenance.build_host


def test_combined_record_shape() -> None:
    record = combined()
    assert record.subject.kind == "easybuild-installation"
    assert record.subject.name == "/tmp/eb-offline/fixture"
    assert set(record.roots) == {
        "easybuild:bzip2/1.0.8-GCCcore-12.2.0",
        "easybuild:tinygreet/2.1-GCCcore-12.2.0-demo",
    }
    assert record.hpc.libc is not None and record.hpc.libc.version == "2.36"
    assert record.hpc.os is not None and (record.hpc.os.name, record.hpc.os.version) == (
        "debian",
        "12",
    )
    (gcc,) = record.hpc.compilers
    assert (gcc.name, gcc.version, gcc.component) == ("gcc", "12.2.0", "easybuild:GCCcore/12.2.0")
    assert record.hpc.target is not None and record.hpc.target.name == "icelake"
    assert record.hpc.mpi is None
    assert record.provenance.built_at == "2026-11-26T10:00:45Z"
    bzip2 = _comp(record, "bzip2")
    assert bzip2.explicit is True and _comp(record, "tinyhello").explicit is False
    assert bzip2.purl is not None and "checksum=sha256:ab5a0317" in bzip2.purl
    # the same serial on every extraction, wherever the tree was copied
    assert combined().serial == record.serial


def test_one_record_per_install_and_stable(tmp_path: Path) -> None:
    records = extract_all(INSTALL)
    assert sorted(r.subject.name for r in records) == sorted(e["module_name"] for e in EXPECTED)
    greet = next(r for r in records if r.subject.name.startswith("tinygreet"))
    assert greet.roots == ("easybuild:tinygreet/2.1-GCCcore-12.2.0-demo",)
    assert {c.name for c in greet.components} == {"tinygreet", "tinyhello", "GCCcore"}
    copy = tmp_path / "copy"
    shutil.copytree(INSTALL, copy)
    again = {r.subject.name: r for r in extract_all(copy)}
    assert again[greet.subject.name] == greet


def test_prefix_and_module_targets() -> None:
    prefix = INSTALL / "software" / "tinygreet" / "2.1-GCCcore-12.2.0-demo"
    (record,) = extract_all(prefix)
    assert record.subject.kind == "easybuild-prefix"
    assert record.roots == ("easybuild:tinygreet/2.1-GCCcore-12.2.0-demo",)
    assert {c.name for c in record.components} == {"tinygreet", "tinyhello", "GCCcore"}
    (module,) = extract_all(
        INSTALL / "modules" / "all" / "tinygreet" / "2.1-GCCcore-12.2.0-demo.lua"
    )
    assert module.subject.kind == "easybuild-module"
    assert "easybuild:tinyhello/1.0-GCCcore-12.2.0" in {d.dependency for d in module.dependencies}


def test_extract_tree_reads_only_through_the_tree() -> None:
    record = eb_extract.extract_tree(DirectoryTree(INSTALL), opts())
    assert record is not None and len(record.components) == 4
    assert eb_extract.extract_tree(DirectoryTree(EB / "easyconfigs"), opts()) is None
    assert all(not p.startswith("/") for p in record.provenance.read_from)
    assert eb_install.read_install(
        DirectoryTree(INSTALL), PurePosixPath("software/bzip2/1.0.8-GCCcore-12.2.0")
    )


def test_test_report_environment_never_copied() -> None:
    text = combined().to_json()
    report = next(INSTALL.glob("software/tinyhello/*/easybuild/*_test_report.md")).read_text()
    env = report.split("#### Environment", 1)[1]
    for line in env.splitlines():
        if " = " in line:
            value = line.split(" = ", 1)[1].strip()
            if len(value) > 12 and "/" not in value[:1]:
                assert value not in text, value
    assert "hostname" not in text and '"vm"' not in text


def test_missing_pieces_become_unknowns(tmp_path: Path) -> None:
    tree = tmp_path / "ip"
    shutil.copytree(INSTALL, tree)
    shutil.rmtree(tree / "ebfiles_repo")
    for log in tree.glob("software/tinyhello/*/easybuild/*.log"):
        log.unlink()
    record = next(r for r in extract_all(tree) if r.subject.name.startswith("tinyhello"))
    fields = {u.field for u in record.unknowns}
    assert {"provenance.build_host", "log", "hpc.target"} <= fields
    assert record.hpc.target is None


def test_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.eb"
    bad.write_text("name = 'x'\nversion = (\n")
    with pytest.raises(SourceError, match=r"bad\.eb: not a readable easyconfig"):
        extract_all(bad)
    noname = tmp_path / "noname.eb"
    noname.write_text("version = '1'\n")
    with pytest.raises(SourceError, match=r"noname\.eb: easyconfig has no literal 'name'"):
        extract_all(noname)
    with pytest.raises(SourceError, match=r"nothing: no such file or directory"):
        extract_all(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"empty: no EasyBuild install"):
        extract_all(tmp_path / "empty")


def test_root_selection_by_name_version_and_module() -> None:
    install = DATA / "easybuild" / "install"
    for query in ("tinyhello", "tinyhello@1.0", "tinyhello/1.0-GCCcore-12.2.0"):
        (record,) = sources.extract_all(
            install, kind="easybuild", options=ExtractOptions(roots=(query,))
        )
        assert record.roots == ("easybuild:tinyhello/1.0-GCCcore-12.2.0",)
    (both,) = sources.extract_all(
        install,
        kind="easybuild",
        options=ExtractOptions(roots=("tinyhello", "bzip2"), combined=True),
    )
    assert len(both.roots) == 2
    with pytest.raises(SourceError, match="no install matches nope"):
        sources.extract_all(install, kind="easybuild", options=ExtractOptions(roots=("nope",)))
