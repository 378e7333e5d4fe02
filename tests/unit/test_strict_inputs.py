"""Every boolean a request body takes is strict: `0`, `1` or "yes" is refused, not coerced. The
check walks the app's routes, so a body model added later is held to it too."""

from __future__ import annotations

import types
import typing
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gateway.app import create_app


def _lax_bools(annotation: Any, metadata: list[Any], path: str) -> list[str]:
    """Paths of plain (coercing) bools inside an annotation, walking models and containers."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return _lax_bools(inner, [*metadata, *extra], path)
    if annotation is bool:
        strict = any(getattr(item, "strict", None) is True for item in metadata)
        return [] if strict else [path]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation.model_config.get("strict"):
            return []
        return [
            lax
            for name, field in annotation.model_fields.items()
            for lax in _field_bools(field, f"{annotation.__name__}.{name}")
        ]
    if origin in (typing.Union, types.UnionType, list, dict, tuple, set, frozenset):
        return [lax for arg in typing.get_args(annotation) for lax in _lax_bools(arg, metadata, path)]
    return []


def _field_bools(field: FieldInfo, path: str) -> list[str]:
    return _lax_bools(field.annotation, list(field.metadata), path)


def test_every_body_boolean_is_strict() -> None:
    lax: list[str] = []
    bodies = 0
    for route in iter_route_contexts(create_app().routes):  # through the included routers
        if not isinstance(route.original_route, APIRoute):
            continue
        for param in route.dependant.body_params:
            bodies += 1
            lax += _field_bools(param.field_info, f"{route.path} {param.name}")
    assert bodies > 10  # the walk found the bodies (a walk that sees nothing proves nothing)
    assert lax == [], f"coercing booleans in request bodies: {sorted(set(lax))}"


def test_the_walk_finds_a_lax_boolean() -> None:
    class Lax(BaseModel):
        nested: dict[str, list[bool | None]]

    assert _lax_bools(Lax, [], "x") == ["Lax.nested"]
