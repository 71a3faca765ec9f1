"""Portal link tokens and session cookies: signed, expiring, bound to their key."""

from __future__ import annotations

import pytest

from hookline.errors import Unauthorized
from hookline.portal.session import PortalSession, SessionCodec, new_session_id
from hookline.tokens import sign_portal_token, verify_portal_token

KEY = b"k" * 32
NOW = 1_700_000_000.0


def test_a_portal_token_names_its_application_until_it_expires() -> None:
    token = sign_portal_token(KEY, "app_1", 600, NOW)
    assert verify_portal_token(KEY, token, NOW + 599) == "app_1"
    with pytest.raises(Unauthorized, match="expired"):
        verify_portal_token(KEY, token, NOW + 600)


@pytest.mark.parametrize("tamper", [
    lambda t: t.replace(t.split(".")[0], sign_portal_token(KEY, "app_2", 600, NOW).split(".")[0]),
    lambda t: t + "x",
    lambda t: t.split(".")[0],
    lambda t: "",
])
def test_a_tampered_portal_token_is_refused(tamper: object) -> None:
    token = sign_portal_token(KEY, "app_1", 600, NOW)
    with pytest.raises(Unauthorized):
        verify_portal_token(KEY, tamper(token), NOW)  # type: ignore[operator]


def test_a_portal_token_signed_with_another_key_is_refused() -> None:
    token = sign_portal_token(b"other" * 8, "app_1", 600, NOW)
    with pytest.raises(Unauthorized):
        verify_portal_token(KEY, token, NOW)


def test_a_session_cookie_round_trips_and_its_csrf_token_is_bound_to_it() -> None:
    codec = SessionCodec(KEY, b"c" * 32)
    session = PortalSession(new_session_id(), NOW + 60, "app_1")
    decoded = codec.decode(codec.encode(session), NOW + 1)
    assert decoded == session
    assert codec.csrf_valid(session, codec.csrf_token(session))
    other = PortalSession(new_session_id(), NOW + 60, "app_1")
    assert not codec.csrf_valid(session, codec.csrf_token(other))
    assert not codec.csrf_valid(session, None)


def test_a_portal_link_token_is_not_a_session_cookie() -> None:
    codec = SessionCodec(KEY, b"c" * 32)
    assert codec.decode(sign_portal_token(b"p" * 32, "app_1", 600, NOW), NOW) is None
