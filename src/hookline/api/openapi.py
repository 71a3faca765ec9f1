"""The OpenAPI document, made honest: errors are declared as problem+json, and every route but
the public ones needs a bearer token."""

from __future__ import annotations

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
                if path not in PUBLIC_PATHS:
                    operation["security"] = [{SECURITY_SCHEME: []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
