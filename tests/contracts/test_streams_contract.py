"""Behaviour every streams backend must show."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reingest.streams.base import Priority, Streams

#: real servers for the non-embedded backends (tests/servers.py; moto for AWS: tests/aws.py)
pytest_plugins = ["servers", "aws"]


@pytest.fixture(params=["sqlite", "redis", "kinesis"])
def streams(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Streams]:
    from reingest.backends import open_backend

    if request.param == "redis":
        url = request.getfixturevalue("redis_url")  # started only when this param runs
    elif request.param == "kinesis":
        from aws import unique_name

        request.getfixturevalue("aws_env")  # moto, started only when this param runs
        url = f"kinesis://{unique_name('streams')}"
    else:
        url = f"sqlite:///{tmp_path}/streams.db"
    backend = open_backend("streams", url, Streams)
    yield backend
    backend.close()


def test_messages_come_back_in_order_per_priority(streams: Streams) -> None:
    streams.publish(Priority.LOW, [b"l1", b"l2"])
    streams.publish(Priority.HIGH, [b"h1"])
    low = streams.receive(Priority.LOW, "c", 10, 60)
    assert [d.payload for d in low] == [b"l1", b"l2"]
    assert [d.payload for d in streams.receive(Priority.HIGH, "c", 10, 60)] == [b"h1"]


def test_each_priority_is_a_stream_of_its_own_the_migration_one_included(
    streams: Streams,
) -> None:
    streams.publish(Priority.MIGRATION, [b"m1", b"m2"])
    streams.publish(Priority.LOW, [b"l1"])
    assert streams.lag(Priority.MIGRATION).depth == 2 and streams.lag(Priority.HIGH).depth == 0
    assert streams.pending() == 3
    migrated = streams.receive(Priority.MIGRATION, "c", 10, 60)
    assert [d.payload for d in migrated] == [b"m1", b"m2"]
    assert all(d.priority is Priority.MIGRATION for d in migrated)
    streams.ack(migrated)
    assert streams.lag(Priority.MIGRATION).depth == 0
    assert [d.payload for d in streams.receive(Priority.LOW, "c", 10, 60)] == [b"l1"]


def test_a_leased_message_is_not_delivered_twice_until_its_lease_ends(streams: Streams) -> None:
    streams.publish(Priority.LOW, [b"m"])
    # a lease long enough to outlast the next call on a loaded machine (moto's Kinesis is slow)
    assert len(streams.receive(Priority.LOW, "a", 10, 1.0)) == 1
    assert streams.receive(Priority.LOW, "b", 10, 60) == []
    time.sleep(1.1)
    again = streams.receive(Priority.LOW, "b", 10, 60)
    assert [d.payload for d in again] == [b"m"] and again[0].deliveries == 2


def test_acked_messages_are_gone(streams: Streams) -> None:
    streams.publish(Priority.LOW, [b"a", b"b"])
    deliveries = streams.receive(Priority.LOW, "c", 1, 0.01)
    streams.ack(deliveries)
    time.sleep(0.05)
    assert [d.payload for d in streams.receive(Priority.LOW, "c", 10, 60)] == [b"b"]


def test_lag_reports_depth_and_age_of_the_oldest_unacked_message(streams: Streams) -> None:
    assert streams.lag(Priority.LOW).depth == 0
    assert streams.lag(Priority.LOW).oldest_age_seconds == 0
    streams.publish(Priority.LOW, [b"a", b"b", b"c"])
    time.sleep(0.05)
    lag = streams.lag(Priority.LOW)
    assert lag.depth == 3 and lag.oldest_age_seconds >= 0.05
    assert streams.lag(Priority.HIGH).depth == 0


def test_dead_letters_keep_the_message_and_its_reason(streams: Streams) -> None:
    streams.publish(Priority.HIGH, [b"not json"])
    delivery = streams.receive(Priority.HIGH, "c", 1, 60)[0]
    streams.dead_letter(delivery, "not JSON")
    [dead] = streams.dead_letters()
    assert dead.payload == b"not json" and dead.reason == "not JSON"
    assert streams.dead_letter_count() == 1
    assert streams.lag(Priority.HIGH).depth == 0


def dead_letter_all(streams: Streams, priority: Priority, payloads: list[bytes]) -> None:
    """Publish ``payloads`` and dead-letter each, with its payload as the reason."""
    streams.publish(priority, payloads)
    for delivery in streams.receive(priority, "c", len(payloads), 60):
        streams.dead_letter(delivery, f"bad {delivery.payload.decode()}")


def test_dead_letters_page_oldest_first_with_ids_unique_across_priorities(
    streams: Streams,
) -> None:
    dead_letter_all(streams, Priority.LOW, [b"l1", b"l2"])
    time.sleep(0.002)  # some backends order by a millisecond clock
    dead_letter_all(streams, Priority.HIGH, [b"h1"])
    letters = streams.dead_letters()
    assert [d.payload for d in letters] == [b"l1", b"l2", b"h1"]
    assert len({d.id for d in letters}) == 3
    assert [d.payload for d in streams.dead_letters(limit=2, offset=1)] == [b"l2", b"h1"]
    assert streams.dead_letters(limit=5, offset=3) == []


def test_replayed_dead_letters_go_back_to_their_stream_in_order_and_leave_the_dead(
    streams: Streams,
) -> None:
    dead_letter_all(streams, Priority.LOW, [b"l1", b"l2", b"l3"])
    dead_letter_all(streams, Priority.HIGH, [b"h1"])
    letters = {d.payload: d for d in streams.dead_letters()}
    chosen = [letters[b"l1"].id, letters[b"h1"].id, letters[b"l3"].id, "no-such-letter"]
    assert streams.replay_dead_letters(chosen) == 3
    assert [d.payload for d in streams.dead_letters()] == [b"l2"]
    assert streams.dead_letter_count() == 1
    low = streams.receive(Priority.LOW, "c", 10, 60)
    assert [d.payload for d in low] == [b"l1", b"l3"]
    assert [d.payload for d in streams.receive(Priority.HIGH, "c", 10, 60)] == [b"h1"]
    # a replay of ids already replayed (a second operator, a re-run) posts nothing
    assert streams.replay_dead_letters(chosen) == 0
    assert streams.lag(Priority.LOW).depth == 2


def test_a_replayed_message_that_fails_again_is_a_dead_letter_again(streams: Streams) -> None:
    dead_letter_all(streams, Priority.LOW, [b"m"])
    [letter] = streams.dead_letters()
    assert streams.replay_dead_letters([letter.id]) == 1
    [again] = streams.receive(Priority.LOW, "c", 1, 60)
    streams.dead_letter(again, "still bad")
    [dead] = streams.dead_letters()
    assert (dead.payload, dead.reason, dead.priority) == (b"m", "still bad", Priority.LOW)
