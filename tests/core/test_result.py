from __future__ import annotations

import pytest

from celeriac.core import (
    FAILURE,
    SUCCESS,
    Codec,
    DecodeError,
    ExceptionInfo,
    RemoteTaskError,
    ResultRecord,
)


class CustomError(Exception):
    pass


class TwoArgs(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(a, b)


class NeedsKeyword(Exception):
    def __init__(self, *, code: int) -> None:
        super().__init__(f"code {code}")


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_round_trip() -> None:
    codec = Codec()
    record = ResultRecord("id", SUCCESS, value={"x": [1]}, name="t", retries=2, worker="w")
    assert ResultRecord.decode(record.encode(codec), codec) == record


def test_extended_fields_and_children_round_trip() -> None:
    codec = Codec()
    record = ResultRecord(
        "id", SUCCESS, value=1, args=(1, "a"), kwargs={"k": 2}, queue="q", children=("c1",)
    )
    assert ResultRecord.decode(record.encode(codec), codec) == record
    plain = ResultRecord("id", SUCCESS, value=1)
    assert set(plain.to_dict()) == {"id", "state", "date_done", "value"}


@pytest.mark.parametrize(
    "field", [{"children": [1]}, {"children": "c1"}, {"args": "x"}, {"kwargs": [1]}]
)
def test_extended_fields_of_the_wrong_type_do_not_decode(field: dict[str, object]) -> None:
    codec = Codec()
    raw = {"id": "id", "state": SUCCESS, **field}
    with pytest.raises(DecodeError):
        ResultRecord.decode(codec.encode(raw), codec)


def test_exception_info_keeps_type_message_and_traceback() -> None:
    info = ExceptionInfo.from_exception(_raised(ZeroDivisionError("division by zero")))
    assert (info.type_name, info.module, info.message) == (
        "ZeroDivisionError",
        "builtins",
        "division by zero",
    )
    assert info.traceback is not None and "ZeroDivisionError: division by zero" in info.traceback
    assert info.qualified_name == "ZeroDivisionError"


@pytest.mark.parametrize(
    "exc", [ValueError("bad"), KeyError("k"), CustomError("mine"), TwoArgs(1, 2)]
)
def test_importable_exceptions_are_rebuilt_as_their_own_type(exc: Exception) -> None:
    codec = Codec()
    record = ResultRecord("id", FAILURE, exc=ExceptionInfo.from_exception(_raised(exc)))
    rebuilt = ResultRecord.decode(record.encode(codec), codec).exc
    assert rebuilt is not None
    again = rebuilt.rebuild()
    assert type(again) is type(exc) and again.args == exc.args


def test_unknown_exception_type_becomes_remote_task_error() -> None:
    info = ExceptionInfo("Gone", "no_such_module_here", "it failed", ("it failed",), "tb text")
    exc = info.rebuild()
    assert isinstance(exc, RemoteTaskError)
    assert str(exc) == "no_such_module_here.Gone: it failed"
    assert exc.remote_traceback == "tb text"


def test_modules_are_never_imported_to_rebuild() -> None:
    info = ExceptionInfo("Thing", "antigravity", "x")
    assert isinstance(info.rebuild(), RemoteTaskError)


def test_non_exception_names_are_not_rebuilt() -> None:
    assert isinstance(ExceptionInfo("path", "os", "x").rebuild(), RemoteTaskError)


def test_constructor_mismatch_falls_back_to_remote_error() -> None:
    info = ExceptionInfo.from_exception(NeedsKeyword(code=3))
    exc = info.rebuild()
    assert isinstance(exc, RemoteTaskError) and "code 3" in str(exc)


def test_unserializable_return_value_becomes_a_failure() -> None:
    codec = Codec()
    record = ResultRecord("id", SUCCESS, value=object())
    stored = ResultRecord.decode(record.encode(codec), codec)
    assert stored.state == FAILURE
    assert stored.exc is not None and stored.exc.type_name == "EncodeError"


def test_unserializable_exception_args_keep_the_message() -> None:
    codec = Codec()
    info = ExceptionInfo.from_exception(ValueError(object()))
    stored = ResultRecord.decode(ResultRecord("id", FAILURE, exc=info).encode(codec), codec)
    assert stored.exc is not None
    assert stored.exc.type_name == "ValueError" and stored.exc.args == (info.message,)


def test_malformed_record_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="'state'"):
        ResultRecord.from_dict({"id": "x"})
    with pytest.raises(DecodeError, match="exception info"):
        ResultRecord.from_dict({"id": "x", "state": FAILURE, "exc": 3})


def test_the_cause_chain_travels_and_is_rebuilt() -> None:
    try:
        try:
            raise KeyError("missing")
        except KeyError as inner:
            raise ProjectErrorWithCause("outer") from inner
    except ProjectErrorWithCause as exc:
        info = ExceptionInfo.from_exception(exc)
    codec = Codec()
    record = ResultRecord.decode(ResultRecord("id", FAILURE, exc=info).encode(codec), codec)
    assert record.exc is not None and record.exc.cause is not None
    rebuilt = record.exc.rebuild()
    assert type(rebuilt) is ProjectErrorWithCause
    assert isinstance(rebuilt.__cause__, KeyError) and rebuilt.__cause__.args == ("missing",)


class ProjectErrorWithCause(Exception):
    pass
