"""Real registries on 127.0.0.1 for the OCI tests, each with its own config and a free port.

- distribution 2.8.2 (Debian ``docker-registry``): plain HTTP; htpasswd + TLS with a CA made
  here; token auth with :class:`TokenServer`, a small RS256 JWT issuer of the tests.
  It has no referrers API, so it exercises the ``sha256-<hex>`` tag fallback.
- go-containerregistry's ``pkg/registry`` (``.cache/bin/ggcr-registry``, built by
  ``scripts/setup.d/20-oci.sh`` from Debian's source package): the referrers API.
- the ``oras`` CLI (``.cache/bin/oras``, from Debian's ``oras`` package): the interop oracle.

Never the packaged ``/etc/docker/registry/config.yml``, which listens on all interfaces.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from nameplate.oci import Credentials, Transport

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".cache" / "bin"
DOCKER_REGISTRY = shutil.which("docker-registry")
GGCR = BIN / "ggcr-registry" if (BIN / "ggcr-registry").is_file() else None
ORAS = (
    BIN / "oras"
    if (BIN / "oras").is_file()
    else (shutil.which("oras") and Path(shutil.which("oras") or ""))
)
HTPASSWD = shutil.which("htpasswd")

USER, PASSWORD = "alice", "s3cret-Pa55"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"registry exited: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"registry did not start on {port}: {log.read_text()[-2000:]}")


# -- certificates and tokens ----------------------------------------------------------------


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def make_ca(
    folder: Path, name: str = "nameplate test CA"
) -> tuple[Path, rsa.RSAPrivateKey, x509.Certificate]:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = folder / f"{name.replace(' ', '-')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_server_cert(
    folder: Path, ca_key: rsa.RSAPrivateKey, ca: x509.Certificate
) -> tuple[Path, Path]:
    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem_key(key))
    return cert_path, key_path


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A Docker token service (RS256 JWTs with an ``x5c`` header): ``pull`` for anyone,
    ``pull,push`` for alice with the right password, 401 for a wrong password."""

    def __init__(self, folder: Path, service: str = "test-registry", issuer: str = "test-issuer"):
        self.service, self.issuer = service, issuer
        self.key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token signer")])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = folder / "token-signer.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests.append(self.path)
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                user = ""
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    if (u, p) != (USER, PASSWORD):
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = u
                access = []
                for scope in query.get("scope", []):
                    kind, name, actions = scope.split(":")
                    granted = [
                        a for a in actions.split(",") if a == "pull" or (user and a == "push")
                    ]
                    access.append({"type": kind, "name": name, "actions": granted})
                body = json.dumps({"token": owner.token(user, access), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def token(self, sub: str, access: list[dict[str, Any]]) -> str:
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        sig = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{_b64url(sig)}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- registries -----------------------------------------------------------------------------


@dataclass
class Registry:
    """A running registry: ``host`` is ``127.0.0.1:PORT``; ``transport`` reaches it."""

    flavour: str
    host: str
    transport: Transport
    proc: subprocess.Popen[bytes] | None
    folder: Path
    log: Path
    config: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def ref(self, repo: str) -> str:
        return f"{self.host}/{repo}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def restart(self) -> None:
        assert self.config is not None and DOCKER_REGISTRY is not None
        self.stop()
        port = int(self.host.rsplit(":", 1)[1])
        self.proc = _spawn([DOCKER_REGISTRY, "serve", str(self.config)], self.log)
        _wait_listening(port, self.proc, self.log)


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )


def start_distribution(folder: Path, *, auth: str = "none") -> Registry:
    """distribution 2.8.2 with ``auth`` ``none`` (plain HTTP), ``htpasswd`` (+TLS) or ``token``."""
    assert DOCKER_REGISTRY is not None
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data = folder / "data"
    data.mkdir(exist_ok=True)
    http_cfg: dict[str, Any] = {"addr": f"127.0.0.1:{port}", "secret": "test-only-secret"}
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(data)}, "delete": {"enabled": True}},
        "http": http_cfg,
    }
    transport = Transport(plain_http=True)
    extras: dict[str, Any] = {}
    if auth == "htpasswd":
        assert HTPASSWD is not None
        ca_path, ca_key, ca = make_ca(folder)
        cert, key = make_server_cert(folder, ca_key, ca)
        http_cfg["tls"] = {"certificate": str(cert), "key": str(key)}
        htp = folder / "htpasswd"
        subprocess.run(
            [HTPASSWD, "-Bbc", str(htp), USER, PASSWORD], check=True, capture_output=True
        )
        config["auth"] = {"htpasswd": {"realm": "test-realm", "path": str(htp)}}
        transport = Transport(
            plain_http=False, ca_file=str(ca_path), credentials=Credentials(USER, PASSWORD)
        )
        extras["ca"] = ca_path
    elif auth == "token":
        tokens = TokenServer(folder)
        config["auth"] = {
            "token": {
                "realm": tokens.realm,
                "service": tokens.service,
                "issuer": tokens.issuer,
                "rootcertbundle": str(tokens.cert_path),
            }
        }
        transport = Transport(plain_http=True, credentials=Credentials(USER, PASSWORD))
        extras["tokens"] = tokens
    path = folder / "config.yml"
    path.write_text(json.dumps(config))  # YAML is a superset of JSON
    log = folder / "registry.log"
    proc = _spawn([DOCKER_REGISTRY, "serve", str(path)], log)
    _wait_listening(port, proc, log)
    return Registry(
        f"distribution-{auth}",
        f"127.0.0.1:{port}",
        transport,
        proc,
        folder,
        log,
        config=path,
        extras=extras,
    )


def start_ggcr(folder: Path) -> Registry:
    """go-containerregistry's in-memory registry with the referrers API."""
    assert GGCR is not None
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "ggcr.log"
    proc = _spawn([str(GGCR), "-addr", f"127.0.0.1:{port}"], log)
    _wait_listening(port, proc, log)
    return Registry("ggcr", f"127.0.0.1:{port}", Transport(plain_http=True), proc, folder, log)


def running(reg: Registry) -> Iterator[Registry]:
    try:
        yield reg
    finally:
        reg.stop()
        tokens = reg.extras.get("tokens")
        if tokens is not None:
            tokens.stop()


def oras(
    *args: str, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the oras CLI (never with a docker config of the user)."""
    assert ORAS is not None
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "DOCKER_CONFIG": "/nonexistent"}
    proc = subprocess.run(
        [str(ORAS), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"oras {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc
