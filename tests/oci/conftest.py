"""Fixtures of the OCI tests: records, images written through our own stores, registries."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nameplate.oci import Transport, open_store
from nameplate.oci import manifest as m
from nameplate.record import CpuTarget, Hpc, Libc, Mpi, Provenance, Record, Subject, Tool
from tests.conftest import need

from . import registries as regs

RecordFactory = Callable[..., Record]


def make_record(n: int = 0, *, name: str = "hello") -> Record:
    """A small valid record; ``n`` changes the extraction time (newer for larger ``n``)."""
    return Record(
        serial=f"urn:uuid:{uuid.UUID(int=n + 1)}",
        subject=Subject(kind="image", name=name, version=f"1.{n}"),
        hpc=Hpc(
            target=CpuTarget(name="zen3", family="x86_64", generic="x86_64_v3"),
            mpi=Mpi(implementation="mpich", version="4.2.1", abi="mpich", soname="libmpi.so.12"),
            libc=Libc(family="glibc", min_version="2.34"),
        ),
        provenance=Provenance(
            generator=Tool(name="nameplate", version="0.1.0"),
            extracted_at=f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z",
        ),
    )


@pytest.fixture
def record() -> Record:
    return make_record(0)


def _layer(seed: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = f"hello from {seed}\n".encode()
        info = tarfile.TarInfo("opt/app/README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def push_image(
    ref: str,
    *,
    transport: Transport | None = None,
    arches: tuple[str, ...] = ("amd64",),
    seed: str = "x",
) -> str:
    """Write a tiny image (or a multi-platform index when several ``arches``) through our own
    store API; returns the digest that ``ref``'s tag names."""
    st, r = open_store(ref, transport=transport)
    children = []
    for arch in arches:
        layer = _layer(f"{seed}-{arch}")
        st.put_blob(io.BytesIO(layer), m.digest_of(layer), len(layer))
        config = m.canonical_json(
            {
                "architecture": arch,
                "os": "linux",
                "created": "2026-01-01T00:00:00Z",
                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]},
                "config": {},
                "history": [{"created": "2026-01-01T00:00:00Z"}],
            }
        )
        st.put_blob(io.BytesIO(config), m.digest_of(config), len(config))
        doc = {
            "schemaVersion": 2,
            "mediaType": m.MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": m.digest_of(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": m.digest_of(layer),
                    "size": len(layer),
                }
            ],
        }
        data = m.canonical_json(doc)
        tag = r.name if len(arches) == 1 else None
        desc = st.put_manifest(data, m.MANIFEST, tag=tag)
        children.append(dataclasses.replace(desc, platform={"architecture": arch, "os": "linux"}))
    if len(arches) == 1:
        return children[0].digest
    index = m.empty_index(children)
    return st.put_manifest(index, m.INDEX, tag=r.name).digest


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _registry(factory: pytest.TempPathFactory, kind: str) -> Iterator[regs.Registry]:
    if kind == "ggcr":
        need(regs.GGCR is not None, "ggcr-registry not built (scripts/setup.d/20-oci.sh)")
        reg = regs.start_ggcr(factory.mktemp("ggcr"))
    else:
        need(
            regs.DOCKER_REGISTRY is not None,
            "docker-registry not installed (scripts/apt.d/oci.txt)",
        )
        if kind == "htpasswd":
            need(regs.HTPASSWD is not None, "htpasswd not installed (apache2-utils)")
        reg = regs.start_distribution(factory.mktemp(f"dist-{kind}"), auth=kind)
    yield from regs.running(reg)


@pytest.fixture(scope="session")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    yield from _registry(tmp_path_factory, "none")


@pytest.fixture(scope="session")
def distribution_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    yield from _registry(tmp_path_factory, "htpasswd")


@pytest.fixture(scope="session")
def distribution_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    yield from _registry(tmp_path_factory, "token")


@pytest.fixture(scope="session")
def ggcr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    yield from _registry(tmp_path_factory, "ggcr")


@pytest.fixture(params=["distribution", "distribution_tls", "distribution_token", "ggcr"])
def any_registry(request: pytest.FixtureRequest) -> regs.Registry:
    reg: regs.Registry = request.getfixturevalue(request.param)
    return reg


@pytest.fixture
def repo() -> str:
    """A fresh repository name per test."""
    return f"test/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def oras_cli() -> Callable[..., object]:
    need(regs.ORAS is not None, "oras CLI not installed (scripts/setup.d/20-oci.sh)")
    return regs.oras


def read_json(path: Path) -> object:
    return json.loads(path.read_text())
