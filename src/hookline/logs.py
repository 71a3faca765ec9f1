"""Hookline's logging: text lines for a terminal or one JSON object per line for a log
pipeline (`HOOKLINE_LOG_FORMAT=json`), and the opt-in access log.

Ids travel as `extra=log_ids(app=..., endpoint=..., message=..., attempt=..., worker=...)`
and become fields of the JSON object. Whatever the format, a line never carries a secret:
tokens, endpoint secrets, bearer credentials and passwords in URLs are masked before a record
is written, and a traceback is reduced to its exception's type and message.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from .errors import ConfigError
from .redaction import REDACTED

LOG_FORMATS = ("text", "json")
ID_FIELDS = ("app", "endpoint", "message", "attempt", "delivery", "worker")
ACCESS_LOGGER = "hookline.access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Hookline's own credentials, Standard Webhooks secrets, bearer values and URL passwords.
_SECRET = re.compile(
    r"(?P<keep>hl_(?:admin|app)_|whsec_|whsk_|enc1:)[A-Za-z0-9_\-+/=.:]+"
    r"|(?P<bearer>[Bb]earer\s+)[^\s\"',;]+"
    r"|(?P<url>://[^/\s:@]+:)[^@\s/]+(?=@)")


def scrub(text: str) -> str:
    """`text` with every secret it contains masked."""
    def mask(match: re.Match[str]) -> str:
        return (match.group("keep") or match.group("bearer") or match.group("url")) + REDACTED

    return _SECRET.sub(mask, text)


def log_ids(**ids: str | None) -> dict[str, str]:
    """`extra=` for a log call: the ids involved (app, endpoint, message, attempt, worker)."""
    return {f"hl_{name}": value for name, value in ids.items() if value is not None}


def _error_of(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        return scrub(f"{type(exc).__name__}: {exc}")
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, the error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for name in ID_FIELDS:
            value = getattr(record, f"hl_{name}", None)
            if value is not None:  # `message_id`, not `message`: that is the line's text
                entry[name if name == "worker" else f"{name}_id"] = value
        for name in ("method", "path", "status", "duration_ms", "client"):
            value = getattr(record, f"hl_{name}", None)
            if value is not None:
                entry[name] = value
        error = _error_of(record)
        if error:
            entry["error"] = error
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, masked, with a traceback reduced to one line."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        error = _error_of(record)
        record.exc_info, record.exc_text = None, None
        try:
            line = scrub(super().format(record))
        finally:
            record.exc_info, record.exc_text = saved
        return f"{line} ({error})" if error else line


def setup_logging(level: str, log_format: str = "text") -> None:
    """Route every logger (Hookline's, uvicorn's, aiohttp's) to stderr in `log_format`."""
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"HOOKLINE_LOG_FORMAT={log_format!r}: expected one of "
                          f"{', '.join(LOG_FORMATS)}")
    try:
        numeric = logging.getLevelName(level.upper())
        if not isinstance(numeric, int):
            raise ValueError(level)
    except ValueError:
        raise ConfigError(f"HOOKLINE_LOG_LEVEL={level!r} is not a log level") from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # uvicorn's loggers carry handlers of their own: send them through ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
