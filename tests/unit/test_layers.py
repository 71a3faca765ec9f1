"""The arrows between Hookline's layers, read from the source: every import of every module
under src/hookline (relative, absolute, inside functions and TYPE_CHECKING blocks alike).

    store   -> core only
    service -> store, delivery, core
    api, portal -> service and core only (never the store, never delivery: what they need of
                   either, the service offers or re-exports, e.g. `Page`, `Service.ping`)
    core    -> no web framework, and no outer layer

`api/app.py` is the application factory: it alone may start a `Runtime` and mount the portal.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import hookline

SRC = Path(hookline.__file__).parent
CORE = frozenset({"config", "errors", "ids", "models", "signing", "envelopes", "retry", "stats",
                  "presets", "metrics", "health", "logs", "tracing",
                  "tokens", "secretbox", "redaction", "validation"})
WEB_FRAMEWORKS = frozenset({"fastapi", "starlette", "jinja2", "uvicorn"})
# Imports the rules allow although their layers alone would not.
ALLOWED = frozenset({
    ("hookline.api.app", "hookline.runtime"),
    ("hookline.api.app", "hookline.portal"),
})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> Iterator[str]:
    """The absolute name of every module `path` imports."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.module or ""
                continue
            base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
            if node.module:
                yield f"{base}.{node.module}"
            else:  # `from .. import ids` names modules
                yield from (f"{base}.{alias.name}" for alias in node.names)


def layer(module: str) -> str:
    """`store`, `service`, `delivery`, `api`, `portal`, `receiver`, `runtime`, `cli` or `core`;
    the top-level name for a module outside Hookline."""
    parts = module.split(".")
    if parts[0] != "hookline":
        return parts[0]
    if len(parts) == 1 or parts[1] in CORE or parts[1] == "__main__":
        return "core"
    return parts[1]


def edges() -> Iterator[tuple[str, str]]:
    for path in sorted(SRC.rglob("*.py")):
        source = module_name(path)
        for target in imports_of(path):
            yield source, target


def offending(importer: str, refused: set[str]) -> list[str]:
    """Imports from modules of layer `importer` into a layer (or module) in `refused`."""
    return [f"{source} -> {target}" for source, target in edges()
            if layer(source) == importer and (source, target) not in ALLOWED
            and (layer(target) in refused or target in refused)]


def test_the_walker_sees_relative_absolute_and_function_level_imports() -> None:
    found = set(edges())

    assert ("hookline.service.core", "hookline.store.base") in found  # from ..store.base
    assert ("hookline.portal.web", "hookline.portal.filters") in found  # from . import filters
    assert ("hookline.cli", "hookline.runtime") in found  # inside a function
    assert ("hookline.api.app", "fastapi") in found


def test_the_store_imports_only_the_core() -> None:
    refused = {"service", "delivery", "api", "portal", "runtime", "cli", "hookline.retry"}

    assert offending("store", refused) == []


def test_the_service_imports_neither_the_api_nor_the_portal() -> None:
    assert offending("service", {"api", "portal", "runtime", "cli"}) == []


def test_the_api_reaches_only_the_service_and_the_core() -> None:
    assert offending("api", {"store", "delivery", "runtime", "portal", "cli"}) == []


def test_the_portal_reaches_only_the_service_and_the_core() -> None:
    assert offending("portal", {"store", "delivery", "runtime", "api", "cli"}) == []


def test_the_core_imports_no_web_framework() -> None:
    assert offending("core", set(WEB_FRAMEWORKS)) == []


def test_the_core_imports_no_outer_layer() -> None:
    assert offending("core", {"store", "service", "api", "portal", "runtime", "cli"}) == []
