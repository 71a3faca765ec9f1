"""Which header values are credentials, and how they are shown: one rule for the API, the
portal and attempt logs, so a value hidden in one place is never shown in another."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping

REDACTED = "***"
# A header whose name contains any of these (in any case) holds a credential: its value is
# never logged, stored in an attempt or shown, only sent.
CREDENTIAL_WORDS = ("auth", "token", "secret", "key", "pass", "bearer", "jwt", "hmac",
                    "signature", "session", "cookie", "credential")
_CREDENTIAL = re.compile("|".join(CREDENTIAL_WORDS), re.IGNORECASE)


@functools.lru_cache(maxsize=1024)  # header names repeat: every request has the same few
def is_credential_name(name: str) -> bool:
    """Whether a header called `name` looks like it carries a credential."""
    return _CREDENTIAL.search(name) is not None


def redact_headers(headers: Mapping[str, str], shown: Collection[str] = ()) -> dict[str, str]:
    """`headers` fit to store and show: credential-like values become ***. Names in `shown`
    keep their values (the signature headers computed for one request prove that one body
    and are what a receiver's developer needs to debug verification)."""
    keep = {name.lower() for name in shown}
    return {name: value if name.lower() in keep or not is_credential_name(name) else REDACTED
            for name, value in headers.items()}
