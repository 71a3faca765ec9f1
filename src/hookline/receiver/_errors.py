"""The one exception a receiver sees when a request cannot be trusted."""

from __future__ import annotations

MISSING_HEADER = "missing_header"
MALFORMED_HEADER = "malformed_header"
BAD_SIGNATURE = "bad_signature"
TIMESTAMP_OUT_OF_TOLERANCE = "timestamp_out_of_tolerance"
MALFORMED_SECRET = "malformed_secret"
MALFORMED_BODY = "malformed_body"
INVALID_JSON = "invalid_json"
UNKNOWN_SCHEME = "unknown_scheme"

_DEFAULT_MESSAGES = {
    MISSING_HEADER: "a signature header is missing",
    MALFORMED_HEADER: "a signature header cannot be parsed",
    BAD_SIGNATURE: "no signature matches the body and secret",
    TIMESTAMP_OUT_OF_TOLERANCE: "the signature timestamp is too old or too far in the future",
    MALFORMED_SECRET: "the secret cannot be used as a signing key",
    MALFORMED_BODY: "the body is not bytes",
    INVALID_JSON: "the signed body is not valid JSON",
    UNKNOWN_SCHEME: "unknown signature scheme",
}


class WebhookVerificationError(Exception):
    """The request was not signed by a holder of the secret (or cannot be read as signed).

    `reason` is a short machine code (one of the module constants, e.g. `bad_signature`) that is
    safe to return to the sender; the message adds a readable explanation.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        self.message = message or _DEFAULT_MESSAGES.get(reason, reason)
        super().__init__(f"{reason}: {self.message}")
