"""The envelope every message and result travels in: serializer name, signature, body.

Layout (all lengths one byte)::

    0xC1 | len(serializer) serializer | len(key id) key id | [32-byte MAC] | body

The MAC is HMAC-SHA256 over everything before it plus the body, so neither the body nor
the serializer name can be changed without breaking it. When this process holds signing
keys, the MAC is checked before anything else is looked at: an unsigned or tampered
payload is rejected before its serializer is even chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import ContentDisallowed, DecodeError, EncodeError, SignatureError
from .serializers import get_serializer
from .signing import DIGEST_SIZE, Signer

__all__ = ["DEFAULT_MAX_SIZE", "MAGIC", "Codec"]

MAGIC = 0xC1
DEFAULT_MAX_SIZE = 64 * 1024 * 1024


class Codec:
    """Encodes values into signed envelopes and decodes them, enforcing the accept list."""

    def __init__(
        self,
        serializer: str = "json",
        accept: Iterable[str] = ("json",),
        signer: Signer | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        self.serializer = get_serializer(serializer)
        self.accept = frozenset(accept)
        for name in self.accept:
            get_serializer(name)  # fail now on a typo, not on the first message
        self.signer = signer
        self.max_size = max_size
        name_bytes = self.serializer.name.encode()
        self._header = bytes([MAGIC, len(name_bytes)]) + name_bytes + self._key_header()

    def _key_header(self) -> bytes:
        if self.signer is None:
            return b"\x00"
        kid = self.signer.key_id_bytes
        return bytes([len(kid)]) + kid

    def encode(self, value: Any, what: str = "value") -> bytes:
        """Serialize and sign ``value``; ``what`` names it in error messages."""
        try:
            body = self.serializer.dumps(value)
        except Exception as exc:
            raise EncodeError(
                f"cannot serialize {what} with {self.serializer.name!r}: {exc}"
            ) from exc
        if self.signer is None:
            data = self._header + body
        else:
            data = self._header + self.signer.sign(self._header, body) + body
        if len(data) > self.max_size:
            raise EncodeError(
                f"{what} is {len(data)} bytes, over the {self.max_size}-byte limit; "
                "pass large data by reference (a URL or key) instead"
            )
        return data

    def decode(self, data: bytes) -> Any:
        """Check size, signature and accept list, then deserialize."""
        if len(data) > self.max_size:
            raise DecodeError(f"payload is {len(data)} bytes, over the {self.max_size}-byte limit")
        name, body = self._open(data)
        if name not in self.accept:
            raise ContentDisallowed(
                f"refusing to decode content type {name!r}: accepted types are "
                f"{sorted(self.accept)}; add it to the accept list if this is intended"
            )
        try:
            return get_serializer(name).loads(body)
        except Exception as exc:
            raise DecodeError(f"cannot deserialize {name!r} payload: {exc}") from exc

    def _open(self, data: bytes) -> tuple[str, bytes]:
        """Split the envelope and verify it; returns (serializer name, body)."""
        try:
            if data[0] != MAGIC:
                raise DecodeError("not a celeriac envelope (bad magic byte)")
            name_end = 2 + data[1]
            kid_end = name_end + 1 + data[name_end]
            name = data[2:name_end].decode("ascii")
            kid = data[name_end + 1 : kid_end].decode()
        except (IndexError, UnicodeDecodeError) as exc:
            raise DecodeError(f"truncated or malformed envelope ({len(data)} bytes)") from exc
        if not kid:
            if self.signer is not None:
                raise SignatureError("unsigned message refused: this process requires signatures")
            return name, data[kid_end:]
        mac, body = data[kid_end : kid_end + DIGEST_SIZE], data[kid_end + DIGEST_SIZE :]
        if self.signer is not None:
            if len(mac) != DIGEST_SIZE:
                raise SignatureError("truncated signature")
            self.signer.verify(kid, mac, data[:kid_end], body)
        return name, body
