"""The OpenAPI 3.1 document of the JSON API (served at ``/v1/openapi.json``).

Written here as data, next to the handlers it describes; a test checks that every route of the
application is documented and every documented operation is routed, and the fuzz test sends
each operation arbitrary parameters and validates the answers against these schemas.
"""

from __future__ import annotations

from typing import Any

from .._version import __version__
from .params import MPI_MODES

__all__ = ["document"]

_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _param(name: str, where: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path" or schema.pop("required", False),
        "description": description,
        "schema": schema or {"type": "string"},
    }


_Q = _param(
    "q",
    "query",
    "A query in Spack spec syntax, e.g. `hdf5@1.14: +mpi ^openmpi`.",
    type="string",
    maxLength=4096,
)
_ANY = _param(
    "any_node",
    "query",
    "Match any component, not only each record's root (as `nameplate query --any-node`):"
    " `1`/`true` or `0`/`false` (the default).",
    type="string",
    enum=["0", "1", "true", "false", "yes", "no"],
)
_LIMIT = _param(
    "limit", "query", "At most this many records.", type="integer", minimum=1, maximum=500
)
_HOST = _param(
    "host",
    "query",
    "A site host profile name (see /v1/hosts).",
    type="string",
    required=True,
    pattern="^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
)
_MODE = _param(
    "mpi_mode",
    "query",
    "MPI portability mode (HPC3); auto: the record's own.",
    type="string",
    enum=list(MPI_MODES),
)
_NAME = _param(
    "name",
    "path",
    "The host profile name.",
    type="string",
    pattern="^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
)
_BAD = _error("A parameter or body was refused; `field` names it.")
_WRITE: list[dict[str, list[str]]] = [{"bearer": []}]
_AUTH = {
    "401": _error("No or wrong bearer token."),
    "403": _error("Writes are disabled (no --token-file)."),
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "message": _STR,
                    "field": _STR_OR_NULL,
                },
            }
        },
    },
    "RecordSummary": {
        "type": "object",
        "required": ["id", "subject", "links"],
        "properties": {
            "id": {
                "type": "string",
                "description": "The catalog key: REGISTRY/REPO@DIGEST, or the record serial.",
            },
            "ref": _STR_OR_NULL,
            "repository": _STR_OR_NULL,
            "tag": _STR_OR_NULL,
            "platform": _STR_OR_NULL,
            "kind": _STR_OR_NULL,
            "subject": _STR,
            "version": _STR_OR_NULL,
            "created": _STR_OR_NULL,
            "target": _STR_OR_NULL,
            "compilers": {"type": "array", "items": _STR},
            "mpi": _STR_OR_NULL,
            "mpi_abi": _STR_OR_NULL,
            "gpu": {"type": "array", "items": _STR},
            "libc_min": _STR_OR_NULL,
            "components": {"type": "integer"},
            "links": {"type": "object", "additionalProperties": _STR},
        },
    },
    "RecordList": {
        "type": "object",
        "required": ["query", "count", "records"],
        "properties": {
            "query": _STR_OR_NULL,
            "any_node": {"type": "boolean"},
            "count": {"type": "integer"},
            "limit": {"type": "integer"},
            "records": {"type": "array", "items": _ref("RecordSummary")},
        },
    },
    "Record": {
        "type": "object",
        "description": "A nameplate record (schemas/record/).",
        "required": ["schema_version", "serial", "subject"],
    },
    "HostSummary": {
        "type": "object",
        "required": ["name", "source"],
        "properties": {
            "name": _STR,
            "source": {"enum": ["file", "api"]},
            "cpu": _STR_OR_NULL,
            "family": _STR_OR_NULL,
            "libc": _STR_OR_NULL,
            "mpi": {"type": "array", "items": _STR},
            "gpus": {"type": "array", "items": _STR},
            "cuda_driver": _STR_OR_NULL,
        },
    },
    "HostList": {
        "type": "object",
        "required": ["hosts"],
        "properties": {"hosts": {"type": "array", "items": _ref("HostSummary")}},
    },
    "HostProfile": {
        "type": "object",
        "description": "A host profile (schemas/host/), as `nameplate host -f json` writes it.",
    },
    "Finding": {
        "type": "object",
        "required": ["code", "severity", "reason"],
        "properties": {
            "code": _STR,
            "severity": {"enum": ["pass", "info", "warn", "fail", "unknown"]},
            "reason": _STR,
            "subject": _STR,
        },
    },
    "Report": {
        "type": "object",
        "required": ["subject", "verdict", "why_not", "findings", "record", "host"],
        "properties": {
            "subject": _STR,
            "record": _STR,
            "host": _STR,
            "verdict": {"enum": ["pass", "fail", "unknown"]},
            "why_not": {"type": "array", "items": _STR},
            "findings": {"type": "array", "items": _ref("Finding")},
        },
    },
    "CheckRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "record": {"type": "string", "description": "A record id."},
            "ref": {"type": "string", "description": "REGISTRY/REPO:TAG or @DIGEST, as indexed."},
            "platform": _STR,
            "host": {"type": "string", "description": "A site host profile name."},
            "profile": _ref("HostProfile"),
            "mpi_mode": {"enum": list(MPI_MODES)},
        },
    },
    "Selection": {
        "type": "object",
        "required": ["repository", "host", "best", "best_tag", "candidates"],
        "properties": {
            "repository": _STR,
            "host": _STR,
            "best": _STR_OR_NULL,
            "best_tag": _STR_OR_NULL,
            "candidates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["ref", "verdict", "why"],
                    "properties": {
                        "ref": _STR,
                        "tag": _STR_OR_NULL,
                        "platform": _STR_OR_NULL,
                        "verdict": {"enum": ["pass", "fail", "unknown"]},
                        "why": _STR,
                    },
                },
            },
        },
    },
    "Change": {
        "type": "object",
        "required": ["field", "a", "b"],
        "properties": {"field": _STR, "a": _STR_OR_NULL, "b": _STR_OR_NULL},
    },
    "Diff": {
        "type": "object",
        "required": ["a", "b", "same", "subject", "hpc", "components"],
        "properties": {
            "a": _STR,
            "b": _STR,
            "same": {"type": "boolean"},
            "subject": {"type": "array", "items": _ref("Change")},
            "hpc": {"type": "array", "items": _ref("Change")},
            "components": {"type": "object"},
        },
    },
    "Matrix": {
        "type": "object",
        "required": ["query", "hosts", "rows"],
        "properties": {
            "query": _STR_OR_NULL,
            "hosts": {"type": "array", "items": _STR},
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["record", "cells"],
                    "properties": {
                        "record": _ref("RecordSummary"),
                        "cells": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["host", "state", "reasons"],
                                "properties": {
                                    "host": _STR,
                                    "state": {"enum": ["pass", "warn", "fail", "unknown"]},
                                    "reasons": {"type": "array", "items": _STR},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["format", "accepted", "queued", "ignored"],
        "properties": {
            "format": _STR,
            "accepted": {"type": "integer"},
            "queued": {"type": "integer"},
            "ignored": {"type": "array", "items": _STR},
        },
    },
    "EventList": {
        "type": "object",
        "required": ["events"],
        "properties": {"events": {"type": "array", "items": {"type": "object"}}},
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": _STR, "version": _STR, "records": {"type": "integer"}},
    },
}


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Liveness and catalog reachability.",
                "responses": {
                    "200": _json(_ref("Health"), "The service and its catalog answer."),
                    "503": _error("The catalog cannot be reached."),
                },
            }
        },
        "/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
            }
        },
        "/v1/records": {
            "get": {
                "operationId": "searchRecords",
                "summary": "Search records in Spack spec syntax (newest first).",
                "description": (
                    "As `nameplate query`: a record matches when its root satisfies the first"
                    " clause of the query (any component with `any_node=1`) and one of its"
                    " components satisfies each `^` clause. Without `q`: the newest records."
                ),
                "parameters": [_Q, _ANY, _LIMIT],
                "responses": {"200": _json(_ref("RecordList"), "Matching records."), "400": _BAD},
            }
        },
        "/v1/records/{id}": {
            "get": {
                "operationId": "getRecord",
                "summary": "One record, or one of its exports.",
                "parameters": [
                    _param(
                        "id",
                        "path",
                        "The record id (percent-encoded; it may hold `/`, `:` and `@`).",
                        type="string",
                    ),
                    _param(
                        "format",
                        "query",
                        (
                            "An export format (`cyclonedx-json`, `spdx-2.3`, `spdx-3.0.1`, "
                            "`jsonld`, `turtle`, `intoto-slsa`, `nfd`...); none: the record "
                            "itself."
                        ),
                        type="string",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": (
                            "The record (application/json) or the export, in the format's media "
                            "type, as an attachment."
                        ),
                        "content": {"application/json": {"schema": _ref("Record")}, "*/*": {}},
                    },
                    "400": _BAD,
                    "404": _error("No record with this id."),
                },
            }
        },
        "/v1/hosts": {
            "get": {
                "operationId": "listHosts",
                "summary": "The site's named host profiles (partitions, node types).",
                "responses": {"200": _json(_ref("HostList"), "Every profile, by name.")},
            }
        },
        "/v1/hosts/{name}": {
            "get": {
                "operationId": "getHost",
                "summary": "One host profile.",
                "parameters": [_NAME],
                "responses": {
                    "200": _json(_ref("HostProfile"), "The profile."),
                    "400": _BAD,
                    "404": _error("No such host."),
                },
            },
            "put": {
                "operationId": "putHost",
                "summary": "Register or replace a host profile (needs the token).",
                "parameters": [_NAME],
                "security": _WRITE,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("HostProfile")}},
                },
                "responses": {
                    "200": _json(_ref("HostSummary"), "Replaced."),
                    "201": _json(_ref("HostSummary"), "Registered."),
                    "400": _BAD,
                    **_AUTH,
                    "409": _error("The name is defined by a file of --hosts."),
                    "413": _error("The body is too large."),
                    "415": _error("The body is not JSON."),
                },
            },
            "delete": {
                "operationId": "deleteHost",
                "summary": "Remove a registered host profile (needs the token).",
                "parameters": [_NAME],
                "security": _WRITE,
                "responses": {
                    "204": {"description": "Removed."},
                    "400": _BAD,
                    **_AUTH,
                    "404": _error("No such host."),
                    "409": _error("The name is defined by a file of --hosts."),
                },
            },
        },
        "/v1/check": {
            "get": {
                "operationId": "check",
                "summary": "The verdict for a record (or an indexed reference) on a named host.",
                "parameters": [
                    _HOST,
                    _param("record", "query", "A record id.", type="string"),
                    _param(
                        "ref",
                        "query",
                        "REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST, as indexed.",
                        type="string",
                    ),
                    _param(
                        "platform",
                        "query",
                        "os/arch of a multi-platform tag (default: the host's).",
                        type="string",
                    ),
                    _MODE,
                ],
                "responses": {
                    "200": _json(_ref("Report"), "The report: verdict, reasons, every finding."),
                    "400": _BAD,
                    "404": _error("No such record, reference or host."),
                },
            },
            "post": {
                "operationId": "checkPosted",
                "summary": (
                    "The verdict for a record on a named host or on a posted profile (a read: no "
                    "token)."
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("CheckRequest")}},
                },
                "responses": {
                    "200": _json(_ref("Report"), "The report."),
                    "400": _BAD,
                    "404": _error("No such record, reference or host."),
                    "413": _error("The body is too large."),
                    "415": _error("The body is not JSON."),
                },
            },
        },
        "/v1/select": {
            "get": {
                "operationId": "select",
                "summary": (
                    "The best tag of a repository for a named host, and why the others lost."
                ),
                "parameters": [
                    _param(
                        "repository",
                        "query",
                        "REGISTRY/REPO, as indexed.",
                        type="string",
                        required=True,
                    ),
                    _HOST,
                    _MODE,
                ],
                "responses": {
                    "200": _json(
                        _ref("Selection"),
                        "The ranked candidates; `best` is null when nothing runs.",
                    ),
                    "400": _BAD,
                    "404": _error("No records of this repository, or no such host."),
                },
            }
        },
        "/v1/matrix": {
            "get": {
                "operationId": "matrix",
                "summary": "Records matching a query × the site's host profiles.",
                "parameters": [
                    _Q,
                    _ANY,
                    _param(
                        "limit",
                        "query",
                        "At most this many records.",
                        type="integer",
                        minimum=1,
                        maximum=100,
                    ),
                ],
                "responses": {
                    "200": _json(_ref("Matrix"), "One row per record, one cell per host."),
                    "400": _BAD,
                },
            }
        },
        "/v1/diff": {
            "get": {
                "operationId": "diff",
                "summary": "What changed between two records.",
                "parameters": [
                    _param("a", "query", "A record id.", type="string", required=True),
                    _param("b", "query", "Another record id.", type="string", required=True),
                ],
                "responses": {
                    "200": _json(_ref("Diff"), "The differences."),
                    "400": _BAD,
                    "404": _error("No such record."),
                },
            }
        },
        "/v1/notifications": {
            "post": {
                "operationId": "notify",
                "summary": (
                    "A registry notification: distribution's `notifications: endpoints:` envelope,"
                    " or a Harbor webhook (default or CloudEvents). Needs the token."
                ),
                "security": _WRITE,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/vnd.docker.distribution.events.v1+json": {
                            "schema": {"type": "object"}
                        },
                        "application/cloudevents+json": {"schema": {"type": "object"}},
                    },
                },
                "responses": {
                    "202": _json(
                        _ref("Accepted"),
                        "Queued pushes of configured registries; the rest ignored, with reasons.",
                    ),
                    "400": _BAD,
                    **_AUTH,
                    "413": _error("The body is too large."),
                    "415": _error("The body is not JSON."),
                },
            },
            "get": {
                "operationId": "listNotifications",
                "summary": "The newest queued notifications and what indexing them did.",
                "parameters": [
                    _param(
                        "limit",
                        "query",
                        "At most this many.",
                        type="integer",
                        minimum=1,
                        maximum=500,
                    )
                ],
                "responses": {"200": _json(_ref("EventList"), "Newest first."), "400": _BAD},
            },
        },
    }
    for ops in paths.values():  # an unknown or repeated query parameter is refused anywhere
        for op in ops.values():
            op["responses"].setdefault("400", _BAD)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "nameplate",
            "version": __version__,
            "description": (
                "Build records of a site's images and installs, searchable in Spack spec syntax "
                "and checked against the site's host profiles. Reads need no credentials; writes "
                "need the bearer token of --token-file."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
