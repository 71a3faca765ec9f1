"""hookline.receiver signs and verifies exactly like the Standard Webhooks and Svix libraries."""

from __future__ import annotations

from datetime import UTC, datetime

import standardwebhooks
import svix.webhooks

from hookline.receiver import sign, verify
from tests.receiver.support import SECRET

BODY = b'{"type":"invoice.paid","data":{"id":"inv_1","amount":4200,"note":"caf\xc3\xa9"}}'
EVENT = {"type": "invoice.paid", "data": {"id": "inv_1", "amount": 4200, "note": "café"}}
OLD_SECRET = "whsec_" + "b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQ="


def test_a_request_signed_by_hookline_verifies_with_standardwebhooks() -> None:
    headers = sign(BODY, SECRET)

    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers) == EVENT


def test_a_request_signed_by_hookline_verifies_with_svix() -> None:
    headers = sign(BODY, SECRET)

    svix.webhooks.Webhook(SECRET).verify(BODY, headers)  # raises if it does not verify


def test_a_request_signed_by_hookline_verifies_with_svix_header_names() -> None:
    headers = {name.replace("webhook-", "svix-"): v for name, v in sign(BODY, SECRET).items()}

    svix.webhooks.Webhook(SECRET).verify(BODY, headers)


def test_a_rotation_signature_list_verifies_with_standardwebhooks_for_either_secret() -> None:
    headers = sign(BODY, [OLD_SECRET, SECRET])

    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers) == EVENT
    assert standardwebhooks.Webhook(OLD_SECRET).verify(BODY, headers) == EVENT


def test_a_payload_signed_by_standardwebhooks_verifies_with_hookline() -> None:
    msg_id, now = "msg_2LJyk0HTaYmNNtgFBzLwoxi1xYz", datetime.now(tz=UTC)
    signature = standardwebhooks.Webhook(SECRET).sign(msg_id, now, BODY.decode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }

    assert verify(BODY, headers, SECRET) == EVENT


def test_a_payload_signed_by_svix_verifies_with_hookline_under_svix_header_names() -> None:
    msg_id, now = "msg_p5jXN8AQM9LWM0D4loKWxJek", datetime.now(tz=UTC)
    signature = svix.webhooks.Webhook(SECRET).sign(msg_id, now, BODY.decode())
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": signature,
    }

    assert verify(BODY, headers, SECRET) == EVENT


def test_a_secret_without_the_whsec_prefix_means_the_same_key_in_both_libraries() -> None:
    bare = SECRET.removeprefix("whsec_")
    msg_id, now = "msg_1", datetime.now(tz=UTC)
    signature = standardwebhooks.Webhook(bare).sign(msg_id, now, "{}")
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": signature}

    assert verify(b"{}", headers, bare) == {}
    assert standardwebhooks.Webhook(bare).verify(b"{}", sign(b"{}", bare)) == {}


def test_the_svix_documentation_test_vector_verifies() -> None:
    # The example in Svix's and Standard Webhooks' documentation, computed by neither of us.
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }

    assert verify(b'{"test": 2432232314}', headers, SECRET, now=1614265330) == {
        "test": 2432232314
    }


def test_hookline_signs_the_documentation_test_vector_identically() -> None:
    headers = sign(b'{"test": 2432232314}', SECRET, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
                   timestamp=1614265330)

    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
