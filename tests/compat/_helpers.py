"""Shared helpers: real records and host fixtures, variants, and image layouts written at test time."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nameplate import normalize
from nameplate.compat.profile import (
    Host,
    HostCxx,
    HostGpu,
    HostLibc,
    HostMpi,
    NvidiaDriver,
    cpu_from_cpuinfo,
    host_from_json,
)
from nameplate.record import Gpu, Mpi, Record
from tests.conftest import DATA

HOSTS = DATA / "hosts"
RECORDS = DATA / "compat" / "records"


def real_record(name: str) -> Record:
    record: Record = Record.load(RECORDS / f"{name}.record.json")
    return record


def hypre() -> Record:
    return real_record("spack-hypre-x86_64_v3-openmpi-cuda12")


def hdf5() -> Record:
    return real_record("spack-hdf5-icelake-openmpi")


def cpu_host(name: str, **extra: Any) -> Host:
    """A host whose CPU is a real cpuinfo dump; other facts as given."""
    cpu = cpu_from_cpuinfo((HOSTS / f"{name}.cpuinfo").read_text())
    defaults: dict[str, Any] = {
        "name": name,
        "libc": HostLibc(family="glibc", version="2.36"),
        "cxx": HostCxx(glibcxx="3.4.30", cxxabi="1.3.13"),
    }
    defaults.update(extra)
    return Host(cpu=cpu, **defaults)


def h200() -> Host:
    path = HOSTS / "linux-h200-icelake.host.json"
    return host_from_json(path.read_bytes(), where=str(path))


OPENMPI = HostMpi(soname="libmpi.so.40", abi="openmpi", implementation="openmpi", version="5.0.10")
MPICH = HostMpi(soname="libmpi.so.12", abi="mpich", implementation="mpich", version="4.2.1")


def variant(
    base: Record,
    *,
    target: str,
    mpi: str | None = None,
    cuda: str | None = None,
    sass: Sequence[str] = (),
    created: str = "2026-01-01T00:00:00Z",
    mode: str | None = None,
) -> Record:
    """``base`` rebuilt for another target / MPI / CUDA (its components follow the target)."""
    t = normalize.cpu_target(target)
    comps = tuple(
        dataclasses.replace(c, target=t) if c.target is not None else c for c in base.components
    )
    hpc = dataclasses.replace(base.hpc, target=t, gpu=())
    if mpi is not None:
        abi = normalize.mpi_abi_family(mpi)
        hpc = dataclasses.replace(
            hpc,
            mpi=Mpi(
                implementation=mpi,
                version="4.2.1" if mpi == "mpich" else "5.0.10",
                abi=abi,
                soname="libmpi.so.12" if abi == "mpich" else "libmpi.so.40",
            ),
        )
    else:
        hpc = dataclasses.replace(hpc, mpi=None)
    if cuda is not None:
        hpc = dataclasses.replace(
            hpc,
            gpu=(Gpu(vendor="nvidia", runtime="cuda", version=cuda, architectures=tuple(sass)),),
        )
    annotations = dict(base.annotations)
    if mode:
        annotations["org.supercontainers.mpi.portability.mode"] = mode
    prov = dataclasses.replace(base.provenance, extracted_at=created, built_at=created)
    return dataclasses.replace(
        base,
        serial=normalize.serial_for(base.serial, target, str(mpi), str(cuda)),
        components=comps,
        hpc=hpc,
        annotations=annotations,
        provenance=prov,
    )


# -- OCI image layouts written with the stdlib (no Docker) -----------------------------------

_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_INDEX = "application/vnd.oci.image.index.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put(layout: Any, data: bytes) -> dict[str, Any]:
    digest = _digest(data)
    layout.put_blob(io.BytesIO(data), digest, len(data))
    return {"digest": digest, "size": len(data)}


def _layer(text: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = text.encode()
        info = tarfile.TarInfo("opt/app/VARIANT")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image_manifest(layout: Any, variant_name: str, arch: str) -> bytes:
    config = json.dumps(
        {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}},
        sort_keys=True,
    ).encode()
    c = _put(layout, config)
    layer = _layer(variant_name)
    lay = _put(layout, layer)
    doc = {
        "schemaVersion": 2,
        "mediaType": _MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **c},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **lay}],
    }
    return json.dumps(doc, sort_keys=True).encode()


def write_image(layout: Any, tag: str, variant_name: str, arch: str = "amd64") -> str:
    """A one-layer image under ``tag``; returns the manifest digest."""
    data = image_manifest(layout, variant_name, arch)
    desc = layout.put_manifest(data, _MANIFEST, tag=tag)
    return str(desc.digest)


def write_index(layout: Any, tag: str, variants: Sequence[tuple[str, str]]) -> list[str]:
    """A multi-platform index under ``tag`` of (variant, arch) images; returns their digests."""
    manifests = []
    digests = []
    for name, arch in variants:
        data = image_manifest(layout, name, arch)
        desc = layout.put_manifest(data, _MANIFEST)
        digests.append(str(desc.digest))
        manifests.append(
            {
                "mediaType": _MANIFEST,
                "digest": desc.digest,
                "size": len(data),
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": _INDEX, "manifests": manifests}, sort_keys=True
    ).encode()
    layout.put_manifest(index, _INDEX, tag=tag)
    return digests


def with_gpu(host: Host, *, cuda: str, driver: str, cc: str, name: str) -> Host:
    return dataclasses.replace(
        host,
        nvidia=NvidiaDriver(driver_version=driver, cuda_version=cuda),
        gpus=(HostGpu(vendor="nvidia", index=0, name=name, compute_capability=cc),),
    )


def data_path(*parts: str) -> Path:
    return DATA.joinpath(*parts)
