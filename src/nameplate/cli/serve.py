"""``nameplate serve``: the compatibility service and web view (the ``serve`` extra)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from ._options import ReferenceType, registry_options

if TYPE_CHECKING:
    from ..oci import Transport

__all__ = ["COMMANDS"]


class RegistryHost(ReferenceType):
    """A registry named as ``HOST[:PORT]`` (the registry part of a reference)."""

    name = "registry"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "HOST[:PORT]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from ..errors import ServeError
        from ..serve.config import registry_host

        try:
            return registry_host(str(value))
        except ServeError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@click.option(
    "--catalog",
    default=None,
    help="SQLite file or postgresql:// URL [default: $NAMEPLATE_CATALOG or "
    "~/.local/share/nameplate/catalog.db].",
)
@click.option(
    "--bind",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT, [IPv6]:PORT or unix:PATH to listen on.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="File with the bearer token that writes need; without it, writes are refused.",
)
@click.option(
    "--hosts",
    "hosts_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of named host profiles (NAME.json from nameplate host -f json).",
)
@click.option(
    "--registry",
    "registries",
    multiple=True,
    type=RegistryHost(),
    help="A registry (HOST[:PORT]) whose notifications are indexed; the only ones "
    "contacted (repeatable).",
)
@registry_options
@click.option("--tls-cert", default=None, help="Serve HTTPS with this certificate (PEM).")
@click.option("--tls-key", default=None, help="The private key of --tls-cert (PEM).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option(
    "--threads",
    type=int,
    default=4,
    show_default=True,
    help="Database threads per worker (two connections each).",
)
@click.option(
    "--query-ttl",
    type=click.FloatRange(0, 60),
    default=1.0,
    show_default=True,
    help="Seconds the matches of a search or a repository listing are reused (0: never).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="Log level.",
)
def serve(  # noqa: PLR0917 - one parameter per option
    catalog: str | None,
    bind: str,
    token_file: str | None,
    hosts_dir: str | None,
    registries: tuple[str, ...],
    transport: Transport | None,
    tls_cert: str | None,
    tls_key: str | None,
    workers: int,
    threads: int,
    query_ttl: float,
    log_level: str,
) -> None:
    """Serve the catalog: JSON API, web pages, indexing on push.

    Answers /v1/ (records in Spack spec syntax, exports, host profiles,
    check, select, matrix, diff; OpenAPI at /v1/openapi.json) and pages
    (search, record, matrix, diff). Reads need no credentials; writes (host
    profiles, registry notifications at /v1/notifications) need the bearer
    token of --token-file. Runs until interrupted; exit 3 on a bad
    configuration.
    """
    from ..compat.catalog import default_catalog
    from ..oci import Transport
    from ..serve.config import ServeConfig, registry_host
    from ..serve.server import run

    wire = transport or Transport()
    config = ServeConfig(
        catalog=catalog or default_catalog(os.environ),
        token_file=token_file,
        hosts_dir=hosts_dir,
        registries=frozenset(registry_host(r) for r in registries),
        plain_http=wire.plain_http,
        ca_file=wire.ca_file,
        credentials=wire.credentials,
        threads=threads,
        query_ttl=query_ttl,
    )
    run(
        config,
        bind=bind,
        workers=workers,
        tls_cert=tls_cert,
        tls_key=tls_key,
        log_level=log_level,
    )


COMMANDS: dict[str, click.Command] = {"serve": serve}
