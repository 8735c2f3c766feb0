"""The reconnect backoff: `min(60, b*2 + U(0,1))` from 1 s (DESIGN §5)."""

from __future__ import annotations

import itertools
import random

from app.adapters.bus.redis_feed import next_backoff


def waits(seed: int, *, count: int, cap: float = 60.0) -> list[float]:
    rng = random.Random(seed)
    sequence, wait = [1.0], 1.0
    for _ in range(count - 1):
        wait = next_backoff(wait, cap=cap, jitter=rng.uniform(0.0, 1.0))
        sequence.append(wait)
    return sequence


def test_without_jitter_the_wait_doubles_up_to_the_cap() -> None:
    wait, sequence = 1.0, [1.0]
    for _ in range(7):
        wait = next_backoff(wait, cap=60.0, jitter=0.0)
        sequence.append(wait)
    assert sequence == [1, 2, 4, 8, 16, 32, 60, 60]


def test_each_wait_is_double_the_last_plus_at_most_one_second_of_jitter() -> None:
    sequence = waits(20240601, count=12)
    for previous, wait in itertools.pairwise(sequence):
        assert min(60.0, previous * 2) <= wait <= min(60.0, previous * 2 + 1)
    assert sequence[1] <= 3 and sequence[2] <= 7  # the fleet tests' bound: 1 + 3 + 7


def test_the_wait_reaches_the_cap_and_stays_there() -> None:
    sequence = waits(7, count=12)
    assert sequence[-5:] == [60.0] * 5
    assert max(sequence) == 60.0


def test_the_same_seed_gives_the_same_sequence_and_jitter_spreads_replicas() -> None:
    assert waits(42, count=8) == waits(42, count=8)
    assert waits(42, count=3) != waits(43, count=3)
