"""The envelope: serializer name, signature, size limit and accept list."""

from __future__ import annotations

import pickle

import pytest

from celeriac.core import (
    Codec,
    ConfigurationError,
    ContentDisallowed,
    DecodeError,
    EncodeError,
    SignatureError,
)
from celeriac.core.codec import MAGIC
from celeriac.core.signing import make_signer

KEY_A = b"a" * 32
KEY_B = b"b" * 32


def signed(
    *keys: tuple[str, bytes], serializer: str = "json", accept: tuple[str, ...] = ("json",)
) -> Codec:
    return Codec(serializer, accept, make_signer(list(keys)))


def test_round_trip_unsigned() -> None:
    codec = Codec()
    assert codec.decode(codec.encode({"x": [1, 2]})) == {"x": [1, 2]}


def test_round_trip_signed() -> None:
    codec = signed(("k1", KEY_A))
    data = codec.encode({"x": 1})
    assert data[0] == MAGIC
    assert b"k1" in data[:16]
    assert codec.decode(data) == {"x": 1}


def test_every_flipped_byte_is_detected() -> None:
    codec = signed(("k1", KEY_A))
    data = codec.encode({"task": "add", "args": [1, 2]})
    for i in range(1, len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        with pytest.raises(DecodeError):
            codec.decode(bytes(tampered))


def test_unsigned_message_is_refused_when_keys_are_configured() -> None:
    data = Codec().encode({"x": 1})
    with pytest.raises(SignatureError, match="unsigned message refused"):
        signed(("k1", KEY_A)).decode(data)


def test_wrong_secret_is_refused() -> None:
    data = signed(("k1", KEY_A)).encode({"x": 1})
    with pytest.raises(SignatureError, match="bad signature for key id 'k1'"):
        signed(("k1", KEY_B)).decode(data)


def test_unknown_key_id_is_refused_and_named() -> None:
    data = signed(("old", KEY_A)).encode({"x": 1})
    with pytest.raises(SignatureError, match=r"unknown key id 'old'.*new"):
        signed(("new", KEY_B)).decode(data)


def test_rotation_signs_with_the_first_key_and_accepts_every_key() -> None:
    old = signed(("k1", KEY_A))
    rotated = signed(("k2", KEY_B), ("k1", KEY_A))
    assert rotated.decode(old.encode("from old")) == "from old"
    fresh = rotated.encode("from new")
    assert b"k2" in fresh[:16]
    assert signed(("k2", KEY_B)).decode(fresh) == "from new"
    with pytest.raises(SignatureError):
        old.decode(fresh)


def test_signature_is_checked_before_the_serializer_runs() -> None:
    """A pickle payload that would run code is refused unread when its MAC is wrong."""

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (exec, ("raise SystemExit('pickle was decoded')",))

    attacker = signed(("k1", KEY_B), serializer="pickle", accept=("pickle",))
    victim = signed(("k1", KEY_A), serializer="pickle", accept=("pickle",))
    with pytest.raises(SignatureError):
        victim.decode(attacker.encode(Boom()))


def test_pickle_is_refused_unless_accepted() -> None:
    data = Codec("pickle", ("pickle",)).encode({"x": 1})
    with pytest.raises(ContentDisallowed, match=r"'pickle'.*accepted types are \['json'\]"):
        Codec().decode(data)
    assert Codec("json", ("json", "pickle")).decode(data) == {"x": 1}


def test_msgpack_round_trip_when_accepted() -> None:
    codec = Codec("msgpack", ("msgpack",))
    assert codec.decode(codec.encode({"b": b"\x01"})) == {"b": b"\x01"}


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", bytes([MAGIC]), bytes([MAGIC, 40]) + b"js", bytes([MAGIC, 4]) + b"json"],
)
def test_garbage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Codec().decode(data)


def test_undecodable_body_is_a_decode_error() -> None:
    data = bytes([MAGIC, 4]) + b"json" + b"\x00" + b"{not json"
    with pytest.raises(DecodeError, match="cannot deserialize 'json'"):
        Codec().decode(data)


def test_truncated_signature_is_refused() -> None:
    data = signed(("k1", KEY_A)).encode({"x": 1})
    with pytest.raises(SignatureError):
        signed(("k1", KEY_A)).decode(data[:10])


def test_size_limit_on_both_sides() -> None:
    small = Codec(max_size=100)
    with pytest.raises(EncodeError, match="over the 100-byte limit"):
        small.encode("x" * 200, what="message for task 'big'")
    with pytest.raises(DecodeError, match="over the 100-byte limit"):
        small.decode(Codec().encode("x" * 200))


def test_unserializable_value_is_an_encode_error_naming_it() -> None:
    with pytest.raises(EncodeError, match="cannot serialize message for task 'x' with 'json'"):
        Codec().encode({"f": object()}, what="message for task 'x'")


def test_typo_in_accept_list_fails_at_configuration() -> None:
    with pytest.raises(ConfigurationError, match="unknown serializer 'jsno'"):
        Codec("json", ("jsno",))


def test_unsigned_codec_reads_signed_messages() -> None:
    assert Codec().decode(signed(("k1", KEY_A)).encode(5)) == 5


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ([], "at least one"),
        ([("k", b"short")], "at least 16"),
        ([("", KEY_A)], "key id"),
        ([("k", KEY_A), ("k", KEY_B)], "unique"),
    ],
)
def test_bad_signing_keys(keys: list[tuple[str, bytes]], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        make_signer(keys)


def test_signing_key_forms() -> None:
    single = make_signer("s" * 20)
    assert single is not None and single.key_id == "default"
    mapping = make_signer({"a": KEY_A, "b": "text-secret-longer-than-16"})
    assert mapping is not None and mapping.key_id == "a"
    assert make_signer(None) is None


def test_pickle_body_never_loaded_when_refused() -> None:
    payload = pickle.dumps(1)
    data = bytes([MAGIC, 6]) + b"pickle" + b"\x00" + payload
    with pytest.raises(ContentDisallowed):
        Codec().decode(data)
