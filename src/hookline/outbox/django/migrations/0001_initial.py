"""Creates the outbox table with the statements `hookline.outbox.schema_statements` gives."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from ..._schema import TABLE, schema_statements


def create_outbox(apps: Any, schema_editor: Any) -> None:
    for statement in schema_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def drop_outbox(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}", params=None)


class Migration(migrations.Migration):  # type: ignore[misc]  # Django ships no types
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunPython(create_outbox, drop_outbox)]
