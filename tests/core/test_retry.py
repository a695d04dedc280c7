from __future__ import annotations

import pytest

from celeriac.core import ConfigurationError, Retry, RetryPolicy


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(delay=2, max_delay=30, jitter=False)
    assert [policy.delay_for(n) for n in range(6)] == [2, 4, 8, 16, 30, 30]


def test_without_backoff_the_delay_is_fixed() -> None:
    policy = RetryPolicy(delay=5, backoff=False, jitter=False)
    assert {policy.delay_for(n) for n in range(4)} == {5}


def test_full_jitter_stays_between_zero_and_the_backoff() -> None:
    policy = RetryPolicy(delay=1, max_delay=8)
    samples = [policy.delay_for(3) for _ in range(300)]
    assert all(0 <= s <= 8 for s in samples)
    assert max(samples) - min(samples) > 2  # actually spread out


def test_a_retry_with_its_own_delay_wins() -> None:
    policy = RetryPolicy(delay=10, jitter=False)
    assert policy.delay_of(Retry(delay=0.5), retries=3) == 0.5
    assert policy.delay_of(Retry(), retries=1) == 20


def test_which_exceptions_retry() -> None:
    policy = RetryPolicy(on=(OSError,), not_on=(FileNotFoundError,))
    assert policy.retries_on(ConnectionError())
    assert not policy.retries_on(FileNotFoundError())
    assert not policy.retries_on(ValueError())
    assert not RetryPolicy().retries_on(OSError())


def test_negative_delays_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(delay=-1)
