"""Event types from an OpenAPI document's `webhooks` section (Svix's import/openapi).

Each webhook becomes an event type named after it: its description from the operation's
`description` or `summary`, its schema the request body's JSON schema with every local `$ref`
resolved in place (the catalogue keeps self-contained schemas), `deprecated` as the operation
says, and Svix's `x-svix-group-name` and `x-svix-feature-flags` extensions when present.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import yaml

from ..errors import InvalidInput
from ..models import JSON, EventType
from .core import ServiceCore, check_event_type

MAX_REF_DEPTH = 32  # a $ref chain longer than this (or a cycle) is refused
_METHODS = ("post", "put", "patch", "get", "delete")


class _NoAliases(yaml.SafeLoader):
    """YAML without anchors and aliases: an alias bomb cannot expand while we walk it."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise InvalidInput("specRaw: YAML aliases are not accepted", field="specRaw")
        return super().compose_node(parent, index)


def parse_spec(spec: JSON | None, spec_raw: str | None) -> JSON:
    """The document given as `spec` (already parsed) or `specRaw` (YAML or JSON text)."""
    if (spec is None) == (spec_raw is None):
        raise InvalidInput("send exactly one of spec and specRaw", field="spec")
    if spec is not None:
        return spec
    try:
        parsed = yaml.load(spec_raw or "", Loader=_NoAliases)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"specRaw is not YAML or JSON: {exc}", field="specRaw") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("specRaw must hold an OpenAPI document (an object)",
                           field="specRaw")
    return parsed


def event_types_from_openapi(spec: JSON) -> list[EventType]:
    webhooks = spec.get("webhooks")
    if not isinstance(webhooks, dict) or not webhooks:
        raise InvalidInput("the document has no webhooks section", field="spec")
    types = []
    for name, item in webhooks.items():
        operation = next((item[m] for m in _METHODS if isinstance(item, dict)
                          and isinstance(item.get(m), dict)), None)
        if operation is None:
            raise InvalidInput(f"webhooks.{name}: no operation", field="spec")
        schema = (operation.get("requestBody", {}).get("content", {})
                  .get("application/json", {}).get("schema"))
        description = operation.get("description") or operation.get("summary") or ""
        flags = operation.get("x-svix-feature-flags")
        types.append(EventType(
            name=str(name), description=str(description),
            schema=_resolved(schema, spec, 0) if isinstance(schema, dict) else None,
            deprecated=bool(operation.get("deprecated", False)),
            group_name=operation.get("x-svix-group-name"),
            feature_flags=list(flags) if isinstance(flags, list) and flags else None))
    return types


def _resolved(node: Any, spec: JSON, depth: int) -> Any:
    """`node` with each local `$ref` (`#/components/schemas/Pet`) replaced by what it names."""
    if depth > MAX_REF_DEPTH:
        raise InvalidInput(f"$ref chains deeper than {MAX_REF_DEPTH} (or circular) are not "
                           "accepted", field="spec")
    if isinstance(node, list):
        return [_resolved(item, spec, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        return _resolved(_target(ref, spec), spec, depth + 1)
    return {key: _resolved(value, spec, depth) for key, value in node.items()}


def _target(ref: str, spec: JSON) -> Any:
    if not ref.startswith("#/"):
        raise InvalidInput(f"$ref {ref!r}: only references inside the document are accepted",
                           field="spec")
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise InvalidInput(f"$ref {ref!r} names nothing in the document", field="spec")
        node = node[part]
    return node


@dataclass(frozen=True)
class OpenApiImport:
    """What an import changed (or, in a dry run, would change)."""

    modified: list[str]
    event_types: list[EventType]


class OpenApiImportUseCases(ServiceCore):
    async def import_openapi(self, spec: JSON | None, spec_raw: str | None, *,
                             dry_run: bool = False, replace_all: bool = False) -> OpenApiImport:
        """Create or replace the event types the document's webhooks describe, all at once;
        `replace_all` archives every other event type; `dry_run` only says what would change."""
        types = event_types_from_openapi(parse_spec(spec, spec_raw))
        for et in types:
            check_event_type(et)
        now = self.clock()
        fresh = [replace(et, created_at=now, updated_at=now) for et in types]
        named = {et.name for et in fresh}
        others = [et for et in await self.store.all_event_types()
                  if replace_all and et.name not in named and not et.archived]
        if not dry_run:
            await self.store.upsert_event_types(
                [*fresh, *(replace(et, archived=True, updated_at=now) for et in others)])
        return OpenApiImport([et.name for et in fresh], fresh)
