"""What the shared contract suites cannot show for the server backends: real concurrency, and
errors that name the server but not the password."""

from __future__ import annotations

import threading
import time

import pytest

from reingest.backends import open_backend
from reingest.errors import ConfigurationError
from reingest.progress.base import Outcome, ProgressTable
from reingest.states import State
from reingest.streams.base import Delivery, Priority, Streams

pytest_plugins = ["servers"]


def test_concurrent_claims_on_postgres_are_disjoint_and_complete(postgres_url: str) -> None:
    ids = [f"{i:040x}" for i in range(2_000)]
    setup = open_backend("progress", postgres_url, ProgressTable)
    setup.add(ids)
    workers = 4
    claimed: list[list[str]] = [[] for _ in range(workers)]
    settled = [0] * workers
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        # one instance (one connection) per thread, as separate worker processes would have
        table = open_backend("progress", postgres_url, ProgressTable)
        try:
            start.wait()
            while batch := table.claim(State.NotStarted, State.InProgress, f"w{n}", 50, 60):
                claimed[n].extend(c.id for c in batch)
                # settling also moves counters: writers contend on them, not only on rows
                settled[n] += table.settle(
                    f"w{n}", [Outcome(c.id, State.Enqueued) for c in batch[::2]]
                )
        except BaseException as error:
            errors.append(error)
        finally:
            table.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    every = [i for batch in claimed for i in batch]
    assert len(every) == len(set(every)) == len(ids)  # nobody shared an id, nobody missed one
    assert sorted(every) == ids
    assert sum(1 for batch in claimed if batch) > 1  # the threads really did overlap
    assert setup.counts() == setup.recount()
    assert setup.counts() == {State.Enqueued: sum(settled), State.InProgress: 2_000 - sum(settled)}
    setup.close()


def test_reopening_an_existing_postgres_table_keeps_rows_and_counters(postgres_url: str) -> None:
    first = open_backend("progress", postgres_url, ProgressTable)
    first.add(["a", "b"])
    first.close()
    again = open_backend("progress", postgres_url, ProgressTable)
    assert again.add(["b", "c"]) == 1
    assert again.counts() == again.recount() == {State.NotStarted: 3}
    again.close()


def test_postgres_connection_errors_name_the_server_not_the_password() -> None:
    with pytest.raises(ConfigurationError) as raised:
        open_backend(
            "progress", "postgresql://me:s3cret@127.0.0.1:1/things?connect_timeout=2", ProgressTable
        )
    assert "127.0.0.1:1" in str(raised.value) and "things" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_redis_connection_errors_name_the_server_not_the_password() -> None:
    with pytest.raises(ConfigurationError) as raised:
        open_backend("streams", "redis://:s3cret@127.0.0.1:1/0", Streams)
    assert "127.0.0.1:1" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_two_redis_consumers_never_share_a_message(redis_url: str) -> None:
    streams = open_backend("streams", redis_url, Streams)
    streams.publish(Priority.LOW, [str(i).encode() for i in range(500)])
    received: list[list[Delivery]] = [[], []]

    def consume(n: int) -> None:
        mine = open_backend("streams", redis_url, Streams)
        while batch := mine.receive(Priority.LOW, f"c{n}", 20, 60):
            received[n].extend(batch)
            mine.ack(batch)
        mine.close()

    threads = [threading.Thread(target=consume, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    payloads = [d.payload for batch in received for d in batch]
    assert sorted(payloads) == sorted(str(i).encode() for i in range(500))
    assert streams.lag(Priority.LOW).depth == 0
    streams.close()


def test_redis_dead_letters_are_kept_once_in_order(redis_url: str) -> None:
    streams = open_backend("streams", redis_url, Streams)
    streams.publish(Priority.LOW, [b"first"])
    time.sleep(0.002)  # stream ids have millisecond resolution: order across streams needs a tick
    streams.publish(Priority.HIGH, [b"second"])
    [low] = streams.receive(Priority.LOW, "c", 1, 60)
    [high] = streams.receive(Priority.HIGH, "c", 1, 60)
    streams.dead_letter(low, "bad")
    streams.dead_letter(low, "bad")  # a retry after a crash between store and ack
    streams.dead_letter(high, "worse")
    letters = streams.dead_letters()
    assert [(d.priority, d.payload, d.reason) for d in letters] == [
        (Priority.LOW, b"first", "bad"),
        (Priority.HIGH, b"second", "worse"),
    ]
    assert streams.dead_letter_count() == 2
    streams.close()
