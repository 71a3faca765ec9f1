"""The kit's boundaries: a curated public API, the standard library only at import, and no
dependency on the Hookline server (partners install it without the rest)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import types

import hookline.receiver
from tests.receiver.support import SRC, child_env

RECEIVER = SRC / "hookline" / "receiver"
OPTIONAL = ("fastapi", "starlette", "flask", "werkzeug", "django", "redis", "aiohttp", "uvicorn")


def test_the_public_api_is_exactly_what_all_lists() -> None:
    # Submodules (fastapi, flask, django, listen) become attributes once imported: not API here.
    public = {name for name, value in vars(hookline.receiver).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}

    assert set(hookline.receiver.__all__) == public


def test_importing_the_kit_loads_no_framework_redis_or_server_module() -> None:
    script = (
        "import json, sys, hookline.receiver\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", script], env=child_env(), text=True,
                            capture_output=True, check=True)
    loaded = json.loads(result.stdout)

    assert [m for m in loaded if m.split(".")[0] in OPTIONAL] == []
    assert [m for m in loaded if m.startswith("hookline.")
            and not m.startswith("hookline.receiver")] == []


def test_no_receiver_module_imports_the_rest_of_hookline() -> None:
    offending = []
    for path in RECEIVER.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                offending.append(f"{path.name}: from {'.' * node.level}{node.module or ''}")
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offending += [f"{path.name}: {name}" for name in names
                          if name.startswith("hookline") and not
                          name.startswith("hookline.receiver")]

    assert offending == []


def test_the_listener_runs_as_a_module_without_warnings() -> None:
    result = subprocess.run([sys.executable, "-W", "error", "-m", "hookline.receiver.listen",
                             "--help"], env=child_env(), text=True, capture_output=True)

    assert result.returncode == 0, result.stderr
    assert "--forward-to" in result.stdout
