"""distribution 2.8.2 (Debian ``docker-registry``) on a free loopback port, configured with a
``notifications: endpoints:`` entry that posts to a ``nameplate serve`` with its token."""

from __future__ import annotations

import json
from pathlib import Path

from nameplate.oci import Transport
from tests.oci import registries as regs


def start_notifying(folder: Path, *, port: int, url: str, token: str) -> regs.Registry:
    """A plain-HTTP distribution on ``port`` that notifies ``url`` of pushes (pulls ignored)."""
    assert regs.DOCKER_REGISTRY is not None
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "test-only-secret"},
        "notifications": {
            "events": {"includereferences": True},
            "endpoints": [
                {
                    "name": "nameplate",
                    "url": url,
                    "headers": {"Authorization": [f"Bearer {token}"]},
                    "timeout": "5s",
                    "threshold": 3,
                    "backoff": "1s",
                    "ignoredmediatypes": ["application/octet-stream"],
                    "ignore": {"actions": ["pull"]},
                }
            ],
        },
    }
    path = folder / "config.yml"
    path.write_text(json.dumps(config))  # YAML is a superset of JSON
    log = folder / "registry.log"
    proc = regs._spawn([regs.DOCKER_REGISTRY, "serve", str(path)], log)
    regs._wait_listening(port, proc, log)
    return regs.Registry(
        "distribution-notify",
        f"127.0.0.1:{port}",
        Transport(plain_http=True),
        proc,
        folder,
        log,
        config=path,
    )
