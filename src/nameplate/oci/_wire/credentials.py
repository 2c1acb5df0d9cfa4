"""Registry credentials: environment variables, ``~/.docker/config.json``, credential helpers.

Order, first match wins: ``NAMEPLATE_REGISTRY_USERNAME`` / ``NAMEPLATE_REGISTRY_PASSWORD``
(every registry, or only ``NAMEPLATE_REGISTRY_HOST`` when set); the docker config's
``credHelpers[host]``, then ``auths[host]`` (``auth`` base64, ``username``/``password``,
``identitytoken``), then ``credsStore``. The docker config is ``$DOCKER_CONFIG/config.json``,
else ``~/.docker/config.json``; ``$REGISTRY_AUTH_FILE`` (podman's) is read too.

The secret lives only in :class:`Credentials`, whose ``repr`` hides it; no message shows it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import RegistryAuthError

__all__ = ["Credentials", "basic_token", "lookup"]

_HELPER_TIMEOUT = 30


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and a secret (a password, or an identity token when ``username`` is ``""``)."""

    username: str
    password: str = field(repr=False)
    identity_token: bool = False

    def basic(self) -> str:
        """The value of a ``Authorization: Basic`` header."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def _config_files() -> list[Path]:
    files = []
    auth_file = os.environ.get("REGISTRY_AUTH_FILE")
    if auth_file:
        files.append(Path(auth_file))
    config_dir = os.environ.get("DOCKER_CONFIG")
    files.append(
        Path(config_dir) / "config.json" if config_dir else Path.home() / ".docker" / "config.json"
    )
    return files


def _host_key(key: str) -> str:
    key = key.removeprefix("https://").removeprefix("http://")
    return key.split("/", 1)[0]


def _load(path: Path) -> dict[str, Any]:
    try:
        if not path.is_file() or path.stat().st_size > 1024 * 1024:
            return {}
        doc = json.loads(path.read_bytes())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _from_auths(entry: object, host: str, where: Path) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        return Credentials("", token, identity_token=True)
    user, password = entry.get("username"), entry.get("password")
    if isinstance(user, str) and isinstance(password, str) and user:
        return Credentials(user, password)
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise RegistryAuthError(
                f"{where}: auths[{host}].auth: not base64 of user:pass"
            ) from exc
        user, sep, password = decoded.partition(":")
        if not sep:
            raise RegistryAuthError(f"{where}: auths[{host}].auth: not base64 of user:pass")
        return Credentials(user, password)
    return None


def _helper(name: str, host: str) -> Credentials | None:
    import shutil  # only for a configured helper: a command that needs none starts faster
    import subprocess

    program = shutil.which(f"docker-credential-{name}")
    if program is None:
        raise RegistryAuthError(f"credential helper docker-credential-{name} not found on PATH")
    try:
        proc = subprocess.run(
            [program, "get"],
            input=host.encode(),
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RegistryAuthError(f"credential helper docker-credential-{name} failed") from exc
    if proc.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        doc = json.loads(proc.stdout)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryAuthError(f"docker-credential-{name}: output is not JSON") from exc
    user, secret = doc.get("Username"), doc.get("Secret")
    if not isinstance(user, str) or not isinstance(secret, str):
        return None
    if user == "<token>":
        return Credentials("", secret, identity_token=True)
    return Credentials(user, secret)


def lookup(host: str) -> Credentials | None:
    """The credentials for ``host`` (``host[:port]``), or None for anonymous access."""
    user = os.environ.get("NAMEPLATE_REGISTRY_USERNAME")
    password = os.environ.get("NAMEPLATE_REGISTRY_PASSWORD")
    only = os.environ.get("NAMEPLATE_REGISTRY_HOST")
    if user and password is not None and (not only or only == host):
        return Credentials(user, password)
    for path in _config_files():
        doc = _load(path)
        helpers = doc.get("credHelpers")
        if isinstance(helpers, dict) and isinstance(helpers.get(host), str):
            return _helper(helpers[host], host)
        auths = doc.get("auths")
        if isinstance(auths, dict):
            for key, entry in auths.items():
                if isinstance(key, str) and _host_key(key) == host:
                    found = _from_auths(entry, host, path)
                    if found is not None:
                        return found
        store = doc.get("credsStore")
        if isinstance(store, str) and store:
            return _helper(store, host)
    return None


def basic_token(username: str, password: str) -> str:
    """``base64(user:password)``, as a docker config's ``auth`` holds it."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()
