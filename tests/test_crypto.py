"""Field encryption (AES-256-GCM with key ids) and HMAC blind indexes."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kith import crypto
from kith.crypto import DecryptionError, Keyring

OLD = b"o" * 32
NEW = b"n" * 32
BLIND = b"blind-index-key-for-tests"


def keyring(**keys: bytes) -> Keyring:
    return Keyring(keys or {"old": OLD, "new": NEW}, BLIND)


RING = keyring()


@given(st.text())
def test_decrypt_inverts_encrypt_for_any_text(plaintext: str) -> None:
    token = RING.encrypt(plaintext)
    assert RING.decrypt(token) == plaintext
    assert token.startswith("new:")


@given(st.text(min_size=1), st.binary(max_size=32))
def test_associated_data_is_bound_to_the_ciphertext(plaintext: str, aad: bytes) -> None:
    token = RING.encrypt(plaintext, associated_data=aad)
    assert RING.decrypt(token, associated_data=aad) == plaintext
    with pytest.raises(DecryptionError):
        RING.decrypt(token, associated_data=aad + b"x")


def test_ciphertext_differs_every_time() -> None:
    tokens = {RING.encrypt("+44 20 7946 0958") for _ in range(50)}
    assert len(tokens) == 50
    nonces = {base64.b64decode(t.partition(":")[2])[:12] for t in tokens}
    assert len(nonces) == 50


def test_the_last_key_encrypts_and_older_keys_still_decrypt() -> None:
    before = keyring(old=OLD)
    stored = before.encrypt("secret")
    assert stored.startswith("old:")

    rotated = keyring(old=OLD, new=NEW)
    assert rotated.current_key_id == "new"
    fresh = rotated.encrypt("secret")
    assert Keyring.key_id_of(fresh) == "new"
    assert rotated.decrypt(stored) == "secret"
    assert rotated.needs_rotation(stored)
    assert not rotated.needs_rotation(fresh)
    # A value written with the new key is not readable with only the old one.
    with pytest.raises(DecryptionError):
        before.decrypt(fresh)


def test_unknown_key_id_is_a_decryption_error() -> None:
    token = keyring(retired=OLD).encrypt("secret")
    with pytest.raises(DecryptionError, match="retired"):
        RING.decrypt(token)
    with pytest.raises(DecryptionError):
        RING.decrypt("no separator at all")


def test_same_id_but_different_key_material_is_a_decryption_error() -> None:
    token = keyring(new=b"x" * 32).encrypt("secret")
    with pytest.raises(DecryptionError):
        RING.decrypt(token)


def _tampered(token: str, index: int) -> str:
    key_id, _, body = token.partition(":")
    raw = bytearray(base64.b64decode(body))
    raw[index] ^= 0x01
    return f"{key_id}:{base64.b64encode(bytes(raw)).decode()}"


@pytest.mark.parametrize("index", [0, 11, 12, -1])  # nonce, ciphertext, tag
def test_tampered_ciphertext_is_a_decryption_error(index: int) -> None:
    token = RING.encrypt("a note body")
    with pytest.raises(DecryptionError):
        RING.decrypt(_tampered(token, index))


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda t: t[:-5],  # truncated: broken base64
        lambda t: t + "@",  # not base64
        lambda t: t.partition(":")[0] + ":",  # empty body
        lambda t: t.partition(":")[0] + ":" + base64.b64encode(b"short").decode(),
    ],
)
def test_corrupted_values_are_decryption_errors_not_crashes(corrupt) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DecryptionError):
        RING.decrypt(corrupt(RING.encrypt("a note body")))


def test_blind_index_is_deterministic_and_separated_by_purpose_and_key() -> None:
    value = "ada@acme.example"
    first = RING.blind_index(value, purpose="email")
    assert first == RING.blind_index(value, purpose="email")
    assert first == keyring(other=NEW).blind_index(value, purpose="email")  # blind key only
    assert first != RING.blind_index(value, purpose="phone")
    assert first != RING.blind_index("ada@acme.example ", purpose="email")
    assert first != Keyring({"k": OLD}, b"another blind key").blind_index(value, purpose="email")
    assert value not in first


@given(st.text(), st.text())
def test_blind_index_collides_only_for_equal_values(a: str, b: str) -> None:
    assert (RING.blind_index(a, purpose="p") == RING.blind_index(b, purpose="p")) == (a == b)


@pytest.mark.parametrize(
    "keys", [{}, {"k:1": OLD}, {"k": b"short"}, {"k": b"x" * 33}], ids=["none", "colon", "16", "33"]
)
def test_keyring_refuses_bad_keys(keys: dict[str, bytes]) -> None:
    with pytest.raises(ValueError, match="key"):
        Keyring(keys, BLIND)


def test_generate_key_is_32_random_bytes() -> None:
    first, second = crypto.generate_key(), crypto.generate_key()
    assert len(base64.b64decode(first, validate=True)) == 32
    assert first != second
    # Usable as a KITH_ENCRYPTION_KEYS entry as printed.
    assert json.loads(json.dumps({"k2": first}))["k2"] == first
