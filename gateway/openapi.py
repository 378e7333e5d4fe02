"""The OpenAPI document's error answers: every operation declares the problem+json statuses it
can give (one shared Problem schema), chosen from what the operation is, not by hand per route.
A status only some routes give (a GET's 409, an upload's 413) is declared on the route with
`responses=`; it is answered as problem+json here like the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from gateway.deps import current_caller
from gateway.errors import PROBLEM

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; extension members (such as `field`) may follow.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "examples": ["about:blank"]},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "the request path"},
        "correlation_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}
}
ANSWERS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("the body cannot be parsed (malformed JSON or form)", {}),
    401: (
        "not signed in, or the token is invalid, expired or revoked",
        {"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    403: ("signed in, but this action is not allowed to the caller", {}),
    404: ("no such resource, or not one the caller may see", {}),
    409: ("conflicts with the resource's current state", {}),
    422: ("the input is invalid", {}),
    429: ("rate limited", RETRY_AFTER),
    503: ("a backing service (database, cache, storage) is unavailable", RETRY_AFTER),
}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


def _authenticated(dependant: Dependant) -> bool:
    return any(d.call is current_caller for d in _dependants(dependant))


def _takes_input(dependant: Dependant) -> bool:
    return any(
        d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params
        for d in _dependants(dependant)
    )


def statuses(path: str, method: str, dependant: Dependant, openapi_extra: Any) -> set[int]:
    """The problem statuses an operation can answer with."""
    answers = {503}  # every operation reads the database or a store that can be down
    if path.startswith("/api/"):
        answers.add(429)  # the API-wide rate limits
    if _authenticated(dependant):
        answers |= {401, 403}
    body = any(d.body_params for d in _dependants(dependant)) or bool(
        (openapi_extra or {}).get("requestBody")
    )
    if dependant.path_params or body:
        answers.add(404)  # the path's resource, or one the body names
    if _takes_input(dependant) or body:
        answers.add(422)
    if method in WRITES:
        answers |= {400, 409}  # 400: a body that cannot be parsed at all
    return answers


def _problem_answer(existing: dict[str, Any], status: int) -> dict[str, Any]:
    description, headers = ANSWERS.get(status, ("an error (problem details)", {}))
    answer = {**existing, "content": {PROBLEM: {"schema": PROBLEM_REF}}}
    answer.setdefault("description", description)
    if headers:
        answer["headers"] = {**headers, **existing.get("headers", {})}
    return answer


def declare_problems(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error answers to `schema` in place (idempotent) and return it."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for route in iter_route_contexts(app.routes):  # through the included routers
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path = route.path_format or ""
        operations = schema.get("paths", {}).get(path, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            wanted = statuses(path, method, route.dependant, route.openapi_extra)
            # FastAPI's own 422 (HTTPValidationError) and any error a route declared by hand
            # are answered as problem+json too: errors.py makes every error one.
            wanted |= {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(wanted):
                responses[str(status)] = _problem_answer(responses.get(str(status), {}), status)
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, replaced
        if f'"#/components/schemas/{unused}"' not in json.dumps(schema.get("paths", {})):
            schema["components"]["schemas"].pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Wrap `app.openapi` (FastAPI caches and rebuilds the document itself)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        return declare_problems(app, build())

    app.openapi = openapi  # type: ignore[method-assign]
