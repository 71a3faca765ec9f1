"""No log line carries a secret, whatever the format."""

from __future__ import annotations

import json
import logging

from hookline.logs import JsonFormatter, TextFormatter, log_ids, scrub


def record(message: str, *args: object, exc: BaseException | None = None,
           **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("hookline.test", logging.WARNING, __file__, 1, message, args,
                            (type(exc), exc, None) if exc else None)
    rec.__dict__.update(extra)
    return rec


def test_tokens_secrets_bearers_and_url_passwords_are_masked() -> None:
    line = scrub("hl_admin_abc123 whsec_c2VjcmV0 Bearer eyJhbGci "
                 "postgresql://hook:pw0rd@db/x hl_app_XYZ")

    assert line == ("hl_admin_*** whsec_*** Bearer *** postgresql://hook:***@db/x "
                    "hl_app_***")


def test_a_json_line_holds_the_ids_and_one_line_of_error_without_secrets() -> None:
    exc = ValueError("bad token hl_admin_s3cret")
    rec = record("sent %s", "whsec_abc", exc=exc,
                 **log_ids(app="app_1", endpoint="ep_1", message="msg_1"))

    entry = json.loads(JsonFormatter().format(rec))

    assert entry["message"] == "sent whsec_***"
    assert (entry["app_id"], entry["endpoint_id"], entry["message_id"]) == (
        "app_1", "ep_1", "msg_1")
    assert entry["error"] == "ValueError: bad token hl_admin_***"
    assert "s3cret" not in json.dumps(entry)


def test_a_text_line_is_one_line_even_with_an_exception() -> None:
    line = TextFormatter().format(record("failed", exc=RuntimeError("boom")))

    assert "\n" not in line and line.endswith("(RuntimeError: boom)")
