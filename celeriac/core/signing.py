"""Signing: HMAC-SHA256 over the serialized bytes, with a key id so keys can rotate.

The first key signs; every key verifies. To rotate, put the new key first and keep the
old one until no message signed with it can be left in Redis.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from .errors import ConfigurationError, SignatureError

__all__ = ["DIGEST_SIZE", "Signer", "SigningKeys", "make_signer"]

DIGEST_SIZE = hashlib.sha256().digest_size
MIN_SECRET_BYTES = 16

SigningKeys = bytes | str | Mapping[str, bytes | str] | Sequence[tuple[str, bytes | str]]


def _as_bytes(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


class Signer:
    """Signs with the first key and verifies with any of them, in constant time."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ConfigurationError("signing needs at least one (key id, secret) pair")
        for kid, secret in keys:
            _check_key(kid, secret)
        self._keys = dict(keys)
        if len(self._keys) != len(keys):
            raise ConfigurationError("signing key ids must be unique")
        self.key_id, self._secret = keys[0]
        self.key_id_bytes = self.key_id.encode()

    def sign(self, *parts: bytes) -> bytes:
        """The 32-byte MAC of the concatenated ``parts`` under the current (first) key."""
        return _mac(self._secret, parts)

    def verify(self, key_id: str, mac: bytes, *parts: bytes) -> None:
        """Raise :class:`SignatureError` unless ``mac`` is the MAC of ``parts`` under ``key_id``."""
        secret = self._keys.get(key_id)
        if secret is None:
            known = ", ".join(sorted(self._keys))
            raise SignatureError(
                f"message signed with unknown key id {key_id!r} (this process holds: {known}); "
                "add that key to the signing keys to accept it"
            )
        if not hmac.compare_digest(_mac(secret, parts), mac):
            raise SignatureError(
                f"bad signature for key id {key_id!r}: the message was altered or "
                "signed with a different secret"
            )


def _mac(secret: bytes, parts: tuple[bytes, ...]) -> bytes:
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def _check_key(kid: str, secret: bytes) -> None:
    if not kid or len(kid.encode()) > 255:
        raise ConfigurationError(f"signing key id must be 1-255 bytes, got {kid!r}")
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"signing secret for key id {kid!r} is {len(secret)} bytes; use at least "
            f"{MIN_SECRET_BYTES} random bytes (e.g. secrets.token_hex(32))"
        )


def make_signer(keys: SigningKeys | None) -> Signer | None:
    """Build a :class:`Signer` from a secret, a ``{key_id: secret}`` mapping, or pairs.

    A single secret gets the key id ``"default"``. ``None`` means no signing.
    """
    if keys is None:
        return None
    if isinstance(keys, bytes | str):
        return Signer([("default", _as_bytes(keys))])
    pairs = list(keys.items()) if isinstance(keys, Mapping) else list(keys)
    return Signer([(str(kid), _as_bytes(secret)) for kid, secret in pairs])
