"""Easyconfigs on their own: declared records, toolchains, and the never-execute guarantee."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import schema, sources
from nameplate.errors import NameplateError, SourceError
from nameplate.record import Record
from nameplate.sources import ExtractOptions
from nameplate.sources.easybuild.easyconfig import Unresolved, parse_easyconfig
from nameplate.sources.easybuild.modulefile import parse_modulefile
from tests.conftest import DATA, FIXED_TIME

ECS = DATA / "easybuild" / "easyconfigs"


def declared(path: Path, **kw: Any) -> list[Record]:
    records = sources.extract_all(
        path, kind="easybuild", options=ExtractOptions(clock=FIXED_TIME, **kw)
    )
    for r in records:
        schema.validate(r.to_dict())
        assert Record.from_dict(r.to_dict()) == r
    return records


def test_declared_record_of_one_easyconfig() -> None:
    (record,) = declared(ECS / "HDF5-1.14.6-gompi-2025a.eb")
    assert record.subject.kind == "easybuild-easyconfig"
    assert record.subject.status == "declared"
    root = record.component(record.roots[0])
    assert root is not None and root.status == "declared"
    assert root.id == "easybuild:HDF5/1.14.6-gompi-2025a"
    assert root.sources and root.sources[0].filename == "hdf5_1.14.6.tar.gz"
    assert root.sources[0].checksums[0].algorithm == "sha256"
    # the toolchain resolved to its parts, from the table of the 5.4.1 collection
    assert record.hpc.mpi is not None
    assert (record.hpc.mpi.implementation, record.hpc.mpi.version, record.hpc.mpi.abi) == (
        "openmpi",
        "5.0.7",
        "openmpi",
    )
    assert [(c.name, c.version) for c in record.hpc.compilers] == [("gcc", "14.2.0")]
    types = {d.dependency: d.types for d in record.dependencies if d.dependent == root.id}
    assert types["easybuild:gompi/2025a"] == ("build", "link", "run")
    assert any(t == ("link", "run") for t in types.values())


def test_foss_and_intel_toolchains() -> None:
    (foss,) = declared(ECS / "foss-2025a.eb")
    roles = {(m.role, m.name, m.version) for m in foss.hpc.math_libraries}
    assert ("blas", "FlexiBLAS", "3.4.5") in roles and ("scalapack", "ScaLAPACK", "2.2.2") in roles
    assert ("fft", "FFTW", "3.3.10") in roles
    assert foss.hpc.mpi is not None and foss.hpc.mpi.implementation == "openmpi"
    (intel,) = declared(ECS / "intel-2025a.eb")
    assert intel.hpc.mpi is not None
    assert (intel.hpc.mpi.implementation, intel.hpc.mpi.abi) == ("intel-mpi", "mpich")
    assert ("oneapi", "2025.1.1") in {(c.name, c.version) for c in intel.hpc.compilers}
    assert any(m.name == "imkl" for m in intel.hpc.math_libraries)


def test_templates_and_constants_resolved() -> None:
    (record,) = declared(ECS / "bzip2-1.0.8-GCCcore-12.2.0.eb")
    comp = record.component(record.roots[0])
    assert comp is not None
    assert comp.sources[0].filename == "bzip2-1.0.8.tar.gz"
    assert comp.sources[0].url == "https://sourceware.org/pub/bzip2/bzip2-1.0.8.tar.gz"
    assert comp.options["easyblock"] == "EB_bzip2"
    assert [p.name for p in comp.patches] == ["bzip2-1.0.8-pkgconfig.patch"]
    assert comp.patches[0].checksums[0].value.startswith("9299e8ee")


def test_folder_of_easyconfigs() -> None:
    records = declared(ECS)
    assert len(records) == len(list(ECS.glob("*.eb")))
    (all_in_one,) = declared(ECS, combined=True)
    assert all_in_one.subject.status == "declared"
    ids = {c.id for c in all_in_one.components}
    assert "easybuild:GROMACS/2025.2-foss-2025a" in ids


def test_arch_branches_follow_the_arch() -> None:
    text = "name='x'\nversion='1'\nif ARCH == 'aarch64':\n    configopts='arm'\nelse:\n    configopts='x86'\n"
    assert parse_easyconfig(text, where="x.eb").get("configopts") == "x86"
    assert parse_easyconfig(text, where="x.eb", arch="aarch64").get("configopts") == "arm"


# ---------------------------------------------------------------- never execute


HOSTILE = {
    "os_system": "import os\nos.system('touch {marker}')\nname='x'\nversion='1'\n",
    "open": "name='x'\nversion='1'\nopen('{marker}', 'w').write('pwned')\n",
    "dunder_import": "name=__import__('os').system('touch {marker}')\nversion='1'\n",
    "exec": "exec(\"open('{marker}','w')\")\nname='x'\nversion='1'\n",
    "while_true": "while True:\n    pass\nname='x'\nversion='1'\n",
    "huge_loop": "name='x'\nversion='1'\nfor i in range(10**12):\n    configopts = 'a'\n",
    "nested_comprehension": "name='x'\nversion='1'\nv=[[a*b for a in range(9999)] for b in range(9999)]\n",
    "string_bomb": "name='x'\nversion='1'\ndescription='a' * 10**12\n",
    "format_bomb": "name='x'\nversion='1'\ndescription='%999999999s' % 'x'\n",
    "format_attr": "name='x'\nversion='1'\ndescription='{0.__class__.__mro__}'.format('')\n",
    "replace_bomb": "name='x'\nversion='1'\nd='a'*999999\ndescription=d.replace('a', d)\n",
    "lambda": "name='x'\nversion='1'\nf = lambda: open('{marker}', 'w')\nsources=[f()]\n",
    "attribute": "name='x'\nversion='1'\nsources=''.__class__.__subclasses__()\n",
    "def": "def f():\n    open('{marker}', 'w')\nname='x'\nversion='1'\nsources=[f()]\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_easyconfig_has_no_effect(case: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    eb = tmp_path / f"{case}.eb"
    eb.write_text(HOSTILE[case].replace("{marker}", str(marker)))
    start = time.monotonic()
    outcome = ""
    try:
        (record,) = declared(eb)
        outcome = record.components[0].id
    except NameplateError as exc:
        outcome = str(exc)
    assert outcome.startswith(("easybuild:x/1", str(eb)))
    assert time.monotonic() - start < 10
    assert not marker.exists()
    assert not os.path.exists("pwned")


def test_unresolved_values_become_unknowns(tmp_path: Path) -> None:
    eb = tmp_path / "odd-1.0.eb"
    eb.write_text("name='odd'\nversion='1.0'\nsources=[local_fn()]\ntoolchain=SYSTEM\n")
    ec = parse_easyconfig(eb.read_text(), where=str(eb))
    assert isinstance(ec.get("sources"), Unresolved)
    (record,) = declared(eb)
    assert any(u.field == "sources" and u.path == str(eb) for u in record.unknowns)


# ---------------------------------------------------------------- module files


def test_tcl_and_lua_module_files() -> None:
    tcl = """#%Module
proc ModulesHelp { } { puts stderr {x} }
module-whatis {Description: tinyhello library}
module-whatis {Homepage: https://example.org/tinyhello}
set root /apps/software/tinyhello/1.0-GCCcore-12.2.0
conflict tinyhello
depends-on GCCcore/12.2.0
module load zlib/1.2.12-GCCcore-12.2.0
setenv EBROOTTINYHELLO "$root"
setenv EBVERSIONTINYHELLO "1.0"
# Built with EasyBuild version 5.4.1
"""
    mod = parse_modulefile(tcl, where="x")
    assert mod.syntax == "Tcl"
    assert mod.root == "/apps/software/tinyhello/1.0-GCCcore-12.2.0"
    assert mod.depends_on == ("GCCcore/12.2.0", "zlib/1.2.12-GCCcore-12.2.0")
    assert mod.env["EBVERSIONTINYHELLO"] == "1.0"
    assert mod.easybuild_version == "5.4.1"
    assert mod.homepage == "https://example.org/tinyhello"
    lua_path = DATA / "easybuild/install/modules/all/tinygreet/2.1-GCCcore-12.2.0-demo.lua"
    lua = parse_modulefile(lua_path.read_bytes(), where=str(lua_path))
    assert lua.syntax == "Lua" and lua.depends_on == (
        "GCCcore/12.2.0",
        "tinyhello/1.0-GCCcore-12.2.0",
    )
    with pytest.raises(SourceError, match="not an EasyBuild module file"):
        parse_modulefile("hello", where="plain.txt")


# ---------------------------------------------------------------- fuzz


@pytest.mark.property
@given(st.text(max_size=400))
def test_fuzz_easyconfig_text(text: str) -> None:
    with contextlib.suppress(NameplateError):
        parse_easyconfig(text, where="fuzz.eb")


_PIECES = st.sampled_from([
    "name", "version", "'x'", "1", "[", "]", "(", ")", "{", "}", ":", ",", "+", "*", "%", "=",
    "\n", "if ", "for i in ", "range(3)", "SYSTEM", "ARCH", "'%(name)s'", ".join", ".format",
    "dependencies", "sources", "toolchain", "local_x", "   ", "True", "x.append(", "9" * 6,
])  # fmt: skip


@pytest.mark.property
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_fuzz_easyconfig_tokens(text: str) -> None:
    try:
        ec = parse_easyconfig("name='x'\nversion='1'\n" + text, where="fuzz.eb")
        from nameplate.sources.easybuild.declared import facts_from_easyconfig

        facts_from_easyconfig(ec, where="fuzz.eb")
    except NameplateError:
        pass


@pytest.mark.property
@given(st.text(max_size=400))
def test_fuzz_modulefile(text: str) -> None:
    for prefix in ("", "#%Module\n", 'setenv("EBROOTX", root)\n'):
        with contextlib.suppress(NameplateError):
            parse_modulefile(prefix + text + "\n-- Built with EasyBuild version 5", where="fuzz")
