"""The OpenAPI document, made honest: errors are declared as problem+json, and every route but
the public ones needs a bearer token."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .problems import PROBLEM_JSON

PUBLIC_PATHS = frozenset({"/api/v1/health"})
SECURITY_SCHEME = "bearer"


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
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                _problem_content(operation)
                if path not in PUBLIC_PATHS:
                    operation["security"] = [{SECURITY_SCHEME: []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
