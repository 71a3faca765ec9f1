"""The Svix drop-in's settings: one switch, explicit choices winning over it, bad values
refused at start with the variable named."""

from __future__ import annotations

import pytest

from hookline.config import Settings
from hookline.errors import ConfigError
from hookline.signing import signature_headers

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_compat_svix_sends_raw_payloads_with_svix_headers() -> None:
    settings = Settings.from_env({"HOOKLINE_COMPAT": "svix"})
    assert settings.envelope_for_new_endpoints == "raw"
    assert settings.signature_headers_for_new_endpoints == "svix"


def test_explicit_defaults_win_over_the_compat_switch() -> None:
    settings = Settings.from_env({"HOOKLINE_COMPAT": "svix",
                                  "HOOKLINE_DEFAULT_ENVELOPE": "standard",
                                  "HOOKLINE_SIGNATURE_HEADERS": "both"})
    assert settings.envelope_for_new_endpoints == "standard"
    assert settings.signature_headers_for_new_endpoints == "both"


def test_without_settings_endpoints_get_hooklines_envelope_and_webhook_headers() -> None:
    settings = Settings()
    assert settings.envelope_for_new_endpoints == "standard"
    assert settings.signature_headers_for_new_endpoints == "webhook"


@pytest.mark.parametrize("variable, value", [("HOOKLINE_COMPAT", "convoy"),
                                             ("HOOKLINE_DEFAULT_ENVELOPE", "soap"),
                                             ("HOOKLINE_SIGNATURE_HEADERS", "x-sig")])
def test_unknown_values_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})


def test_svix_names_carry_the_same_values_as_the_webhook_names() -> None:
    webhook = signature_headers("standard", [SECRET], "msg_1", 1700000000, b"{}")
    svix = signature_headers("standard", [SECRET], "msg_1", 1700000000, b"{}", names="svix")
    both = signature_headers("standard", [SECRET], "msg_1", 1700000000, b"{}", names="both")

    assert svix == {k.replace("webhook-", "svix-"): v for k, v in webhook.items()}
    assert both == {**webhook, **svix}
