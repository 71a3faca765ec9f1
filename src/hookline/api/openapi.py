"""The OpenAPI document, made honest: errors are declared as problem+json, and every route but
the public ones needs a bearer token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .problems import PROBLEM_JSON

PUBLIC_PATHS = frozenset({"/api/v1/health"})
SECURITY_SCHEME = "bearer"
# Request text is refused with a NUL anywhere in it (no store keeps one); free-form JSON
# (payloads, schemas) is stored escaped and may hold one.
NO_NUL = "^[^\\u0000]*$"


def _declare_no_nul(schema: dict[str, Any]) -> None:
    """Add the NUL rule to a string schema (and to the strings inside an array or map of
    them), unless a pattern of its own already excludes it."""
    for option in schema.get("anyOf", [schema]):
        kind = option.get("type")
        if kind == "string" and "pattern" not in option and "format" not in option:
            option["pattern"] = NO_NUL
        elif kind == "array" and isinstance(option.get("items"), dict):
            _declare_no_nul(option["items"])
        elif kind == "object" and _is_string(option.get("additionalProperties")):
            option["propertyNames"] = {"pattern": NO_NUL}
            _declare_no_nul(option["additionalProperties"])


def _is_string(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "string"


def _declare_text_rules(components: dict[str, Any]) -> None:
    """Request bodies (the schemas that refuse extra properties) declare the NUL rule on
    their text fields, as `Schema._storable_text` enforces it."""
    for model in components.values():
        if model.get("additionalProperties") is False:
            for prop in model.get("properties", {}).values():
                _declare_no_nul(prop)


def _problem_content(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        if status[:1] in ("4", "5") and "application/json" in content:
            content[PROBLEM_JSON] = content.pop("application/json")


def _declare_idempotent_replay(operation: dict[str, Any]) -> None:
    """An operation that takes an `idempotency-key` answers a repeated key with the first
    answer and status 200 (see `api/idempotency.py`): declare that answer."""
    responses = operation.get("responses", {})
    keyed = any(p.get("in") == "header" and p.get("name") == "idempotency-key"
                for p in operation.get("parameters", []))
    created = next((r for status, r in responses.items() if status in ("201", "202")), None)
    if keyed and created is not None and "200" not in responses:
        responses["200"] = {**created, "description": "the answer of an earlier request with "
                            "the same idempotency-key, replayed; nothing was created"}


def documented_path(document: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    """The path item of the most literal template matching `path` (`/event-type/export`
    rather than `/event-type/{event_type_name}`), or None."""
    segments = path.rstrip("/").split("/")
    best: tuple[tuple[bool, ...], dict[str, Any]] | None = None
    for template, item in document.get("paths", {}).items():
        parts = template.rstrip("/").split("/")
        if len(parts) != len(segments):
            continue
        literal = tuple(not (p.startswith("{") and p.endswith("}")) for p in parts)
        if all(s == p or (not is_literal and s) for s, p, is_literal
               in zip(segments, parts, literal, strict=True)):
            if best is None or literal > best[0]:
                best = (literal, item)
    return best[1] if best else None


def repeatable_query_parameters(document: Mapping[str, Any], path: str,
                                method: str) -> set[str] | None:
    """The query parameters of an operation that may be given more than once (arrays); None
    for a path the document does not describe."""
    item = documented_path(document, path)
    operation = (item or {}).get(method.lower())
    if operation is None:
        return None
    return {p["name"] for p in operation.get("parameters", [])
            if p.get("in") == "query" and _is_array(p.get("schema", {}))}


def _is_array(schema: Mapping[str, Any]) -> bool:
    return any(option.get("type") == "array" for option in schema.get("anyOf", [schema]))


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = {
            SECURITY_SCHEME: {"type": "http", "scheme": "bearer",
                              "description": "the admin token or an application token"}}
        _declare_text_rules(schema["components"].get("schemas", {}))
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                _problem_content(operation)
                _declare_idempotent_replay(operation)
                if path not in PUBLIC_PATHS:
                    operation["security"] = [{SECURITY_SCHEME: []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
