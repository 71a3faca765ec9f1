"""The webhook form: what the partner typed, turned into service arguments, and back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.datastructures import FormData

from ..envelopes import ENVELOPES
from ..errors import InvalidInput
from ..models import DeliveryOptions, Endpoint, EventType
from ..presets import PRESETS, preset_options
from ..redaction import REDACTED, redact_headers
from ..service import ALL_EVENTS
from ..signing import DEFAULT_HEX_HEADER, SCHEMES, STANDARD
from .filters import partner_message

ENVELOPE_LABELS = {"standard": "Standard", "smile": "Smile", "partnero": "Partnero",
                   "cr3dentials": "cr3dentials", "raw": "Raw"}
ENVELOPE_SHAPES = {
    "standard": "{type, timestamp, data}",
    "smile": "{id, version, type, createdAt, data}",
    "partnero": "{event, url, webhook_key, created_at, data}: PHP-style JSON",
    "cr3dentials": "{type, status, data}",
    "raw": "the event's data alone, with no envelope",
}
SCHEME_LABELS = {
    "standard": "Standard Webhooks (webhook-signature)",
    "hmac-sha256-hex": "HMAC-SHA256, hex, in one header",
    "hmac-sha512-hex": "HMAC-SHA512, hex, in one header",
}
PRESET_LABELS = {"standard": "Standard Webhooks", "svix": "Svix", "smile": "Smile",
                 "cr3dentials": "cr3dentials", "partnero": "Partnero", "tradevest": "Tradevest"}
ENVELOPE_CHOICES = [(name, ENVELOPE_LABELS.get(name, name), ENVELOPE_SHAPES.get(name, ""))
                    for name in ENVELOPES]
SCHEME_CHOICES = [(name, SCHEME_LABELS.get(name, name)) for name in SCHEMES]


def _schedule_text(schedule: list[float] | None) -> str:
    return "" if schedule is None else ", ".join(f"{d:g}" for d in schedule)


# (name, label, envelope, scheme, header, schedule): what choosing a preset fills in.
PRESET_CHOICES = [(name, PRESET_LABELS.get(name, name), o.envelope, o.signature_scheme,
                   o.signature_header or "", _schedule_text(o.retry_schedule))
                  for name, o in PRESETS.items()]
EMPTY_HEADER_ROWS = 1
# The service names fields as the API does; the form names them in snake case.
_FIELD_NAMES = {"filterTypes": "events", "signatureScheme": "signature_scheme",
                "signatureHeader": "signature_header", "retrySchedule": "retry_schedule",
                "jsonStyle": "envelope"}


@dataclass
class HeaderRow:
    name: str = ""
    value: str = ""
    masked: bool = False


@dataclass
class EndpointForm:
    """The form's fields as strings and lists, exactly as a browser sends and shows them."""

    url: str = ""
    description: str = ""
    events: list[str] = field(default_factory=lambda: [ALL_EVENTS])
    active: bool = True
    headers: list[HeaderRow] = field(default_factory=list)
    signature_scheme: str = STANDARD
    signature_header: str = ""
    envelope: str = "standard"
    retry_schedule: str = ""
    preset: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def all_events(self) -> bool:
        return ALL_EVENTS in self.events

    def header_rows(self) -> list[HeaderRow]:
        return [*self.headers, *(HeaderRow() for _ in range(EMPTY_HEADER_ROWS))]

    @classmethod
    def of(cls, endpoint: Endpoint) -> EndpointForm:
        shown = shown_headers(endpoint)
        return cls(
            url=endpoint.url, description=endpoint.description,
            events=list(endpoint.filter_types or [ALL_EVENTS]), active=not endpoint.disabled,
            headers=[HeaderRow(name, "" if shown[name] == REDACTED else value,
                               shown[name] == REDACTED)
                     for name, value in endpoint.headers.items()],
            signature_scheme=endpoint.options.signature_scheme,
            signature_header=endpoint.options.signature_header or "",
            envelope=endpoint.options.envelope,
            retry_schedule=_schedule_text(endpoint.options.retry_schedule))

    @classmethod
    def parse(cls, form: FormData) -> EndpointForm:
        names = [str(v).strip() for v in form.getlist("header_name")]
        values = [str(v) for v in form.getlist("header_value")]
        return cls(
            url=_text(form, "url"), description=_text(form, "description"),
            events=[str(v) for v in form.getlist("events")],
            active=form.get("active") == "on",
            headers=[HeaderRow(name, value) for name, value in zip(names, values, strict=False)
                     if name],
            signature_scheme=_text(form, "signature_scheme") or STANDARD,
            signature_header=_text(form, "signature_header"),
            envelope=_text(form, "envelope") or "standard",
            retry_schedule=_text(form, "retry_schedule"), preset=_text(form, "preset"))

    def fail(self, error: InvalidInput) -> EndpointForm:
        """This form again, with the service's complaint shown next to the field it names."""
        name = _FIELD_NAMES.get(error.field or "", error.field or "form")
        return replace(self, errors={name: partner_message(error)})

    def _delivery_untouched(self) -> bool:
        """The delivery fields as a blank form has them: a preset chosen without the page's
        script (which fills them in) decides them all."""
        return (self.signature_scheme, self.signature_header, self.envelope,
                self.retry_schedule) == (STANDARD, "", "standard", "")

    def _options(self, current: Endpoint | None) -> DeliveryOptions:
        """The options the form sets: over the endpoint's own, or over the chosen preset's."""
        base = current.options if current else preset_options(self.preset or None)
        if current is None and self.preset and self._delivery_untouched():
            return base
        hex_scheme = self.signature_scheme != STANDARD
        return replace(
            base, signature_scheme=self.signature_scheme, envelope=self.envelope,
            signature_header=(self.signature_header or DEFAULT_HEX_HEADER) if hex_scheme
            else None,
            json_style=base.json_style if base.envelope == self.envelope else None,
            retry_schedule=parse_schedule(self.retry_schedule))

    def changes(self, current: Endpoint | None = None) -> dict[str, Any]:
        """Keyword arguments for `create_endpoint` / `update_endpoint`. A masked header left
        blank keeps the value it has."""
        options = self._options(current)
        kept = current.headers if current else {}
        headers = {row.name: row.value if row.value or row.name not in kept else kept[row.name]
                   for row in self.headers}
        return dict(url=self.url, description=self.description,
                    filter_types=parse_events(self.events), disabled=not self.active,
                    headers=headers, options=options)


def signature_help(endpoint: Endpoint) -> str:
    options = endpoint.options
    if options.signature_scheme == STANDARD:
        return ("check the webhook-signature header with any Standard Webhooks library "
                "(webhook-id and webhook-timestamp are signed too).")
    algorithm = "HMAC-SHA512" if options.signature_scheme.endswith("512-hex") else "HMAC-SHA256"
    header = options.signature_header or DEFAULT_HEX_HEADER
    return f"the {header} header holds the {algorithm} of the raw request body, in hex."


def shown_headers(endpoint: Endpoint) -> dict[str, str]:
    """Custom headers fit to display: credential-like values are ***."""
    return redact_headers(endpoint.headers)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_schedule(text: str) -> list[float] | None:
    """'1, 2, 4' → [1.0, 2.0, 4.0]; blank → None (the default schedule)."""
    if not text.strip():
        return None
    try:
        return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise InvalidInput("write the delays in seconds separated by commas, e.g. 5, 300, 1800",
                           field="retry_schedule") from None


def parse_events(selected: Sequence[str]) -> list[str] | None:
    """None means every event; otherwise the chosen names and `prefix.*` groups."""
    chosen = [name for name in dict.fromkeys(selected) if name]
    if not chosen:
        raise InvalidInput("choose at least one event type, or All events", field="events")
    if ALL_EVENTS in chosen:
        return None
    return chosen


@dataclass
class EventGroup:
    prefix: str
    types: list[EventType]

    @property
    def pattern(self) -> str | None:
        """The filter that subscribes to the whole group (`customer.*`), if it has a prefix."""
        return f"{self.prefix}.*" if self.prefix else None


def group_event_types(types: Iterable[EventType]) -> list[EventGroup]:
    """Event types grouped by the part of their name before the first dot; names without a
    dot form one group without a prefix, listed last."""
    groups: dict[str, list[EventType]] = {}
    for et in sorted(types, key=lambda t: t.name):
        prefix = et.name.split(".", 1)[0] if "." in et.name else ""
        groups.setdefault(prefix, []).append(et)
    return sorted((EventGroup(prefix, members) for prefix, members in groups.items()),
                  key=lambda g: (g.prefix == "", g.prefix))
