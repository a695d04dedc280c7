"""How commit.lua calls are cut: a periodic tick's guard never leaves its message."""

from __future__ import annotations

from celeriac.core.broker import Outgoing, PrioritySteps, Tick
from celeriac.core.broker._lua import MAX_OPS_PER_CALL, WRITE, Commit
from celeriac.core.keys import Keys


def _calls_holding_the_guard(linked: bool) -> list[list[object]]:
    commit = Commit(Keys("p"), PrioritySteps(), linked=linked)
    for n in range(MAX_OPS_PER_CALL - 1):  # a batch that fills a call up to the tick
        commit.send(Outgoing(f"id-{n}", "q", 0, b"m"))
    commit.tick(Tick("entry", "q", 1000, Outgoing("tick-id", "q", 0, b"tick", unique="lock")))
    calls = commit.invocations() if linked else commit.phase(WRITE)
    return [args for _, args in calls if "tick-id" in args]


def test_a_guard_and_its_message_share_one_call() -> None:
    for linked in (True, False):
        (args,) = _calls_holding_the_guard(linked)
        guard = args.index("T")
        assert args[guard + 4 : guard + 6] == ["tick-id", 3]  # skips the 'X' that follows
        assert args[guard + 6] == "X"
        assert args[guard + 8] == b"tick"


def test_a_unique_claim_skips_over_the_guard_too() -> None:
    commit = Commit(Keys("p"), PrioritySteps(), linked=True)
    commit.tick(Tick("entry", "q", 1000, Outgoing("tick-id", "q", 0, b"tick", unique="lock")))
    ((_, args),) = commit.invocations()
    claim = args.index("U")
    skip = args[claim + 5]
    assert isinstance(skip, int)
    assert args[claim + 6 + skip :] == []  # the claim skips every other slot of the tick
    assert args[claim + 6 : claim + 6 + skip].count("T") == 1
