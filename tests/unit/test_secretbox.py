"""Opened secrets are remembered by their sealed text, so a claim does not decrypt again."""

from __future__ import annotations

from typing import Any

import pytest

from hookline.secretbox import SecretBox


def _counting(box: SecretBox, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the box's decryptions (its own method: in cryptography 51, Fernet is a Rust
    object whose attributes are read-only)."""
    calls: list[str] = []
    decrypt = box._decrypt

    def counted(sealed: Any) -> str:
        calls.append(sealed)
        return decrypt(sealed)

    monkeypatch.setattr(box, "_decrypt", counted)
    return calls


def test_a_sealed_secret_is_decrypted_once_however_often_it_is_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = SecretBox("key")
    sealed = box.seal("whsec_one")
    calls = _counting(box, monkeypatch)
    assert [box.open(sealed) for _ in range(3)] == ["whsec_one"] * 3
    assert len(calls) == 1


def test_a_changed_secret_opens_to_its_new_value() -> None:
    box = SecretBox("key")
    assert box.open(box.seal("whsec_old")) == "whsec_old"
    assert box.open(box.seal("whsec_new")) == "whsec_new"


def test_the_cache_of_opened_secrets_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hookline.secretbox.OPENED_CACHE_SIZE", 4)
    box = SecretBox("key")
    for n in range(10):
        assert box.open(box.seal(f"s{n}")) == f"s{n}"
    assert len(box._opened) == 4
