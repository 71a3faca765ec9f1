from __future__ import annotations

from django.apps import AppConfig


class OutboxConfig(AppConfig):  # type: ignore[misc]  # Django ships no types
    name = "hookline.outbox.django"
    label = "hookline_outbox"
    verbose_name = "Hookline outbox"
