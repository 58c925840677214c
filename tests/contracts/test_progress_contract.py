"""Behaviour every progress-table backend must show (one suite, parametrised over backends)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reingest.progress.base import Outcome, ProgressTable
from reingest.states import State

#: real servers for the non-embedded backends (tests/servers.py; moto for AWS: tests/aws.py)
pytest_plugins = ["servers", "aws"]


def make_ids(n: int, offset: int = 0) -> list[str]:
    return [f"{i + offset:040x}" for i in range(n)]


@pytest.fixture(params=["sqlite", "postgresql", "dynamodb"])
def table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProgressTable]:
    from reingest.backends import open_backend

    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")  # started only when this param runs
    elif request.param == "dynamodb":
        from aws import unique_name

        request.getfixturevalue("aws_env")  # moto, started only when this param runs
        # one write at a time: moto undoes a failed transaction by restoring a snapshot of the
        # whole table, which erases concurrent writes (DynamoDB itself has no such problem)
        url = f"dynamodb://{unique_name('progress')}?parallelism=1"
    else:
        url = f"sqlite:///{tmp_path}/progress.db"
    backend = open_backend("progress", url, ProgressTable)
    yield backend
    backend.close()


def test_add_is_idempotent_and_counts_only_new_ids(table: ProgressTable) -> None:
    assert table.add(make_ids(30)) == 30
    assert table.add(make_ids(40)) == 10
    assert table.counts() == {State.NotStarted: 40}


def test_add_reports_every_id_it_wrote(table: ProgressTable) -> None:
    written: list[int] = []
    assert table.add(iter(make_ids(150)), on_written=written.append) == 150
    assert sum(written) == 150
    assert [image_id for image_id, _ in table.scan()] == make_ids(150)


def test_claims_are_exclusive_and_carry_owner_lease_and_attempts(table: ProgressTable) -> None:
    table.add(make_ids(10))
    first = table.claim(State.NotStarted, State.InProgress, "a", 6, 60)
    second = table.claim(State.NotStarted, State.InProgress, "b", 6, 60)
    assert len(first) == 6 and len(second) == 4
    assert not {c.id for c in first} & {c.id for c in second}
    rows = table.get([first[0].id])
    assert rows[0].owner == "a" and rows[0].state == State.InProgress
    assert rows[0].lease_until is not None and rows[0].lease_until > time.time()
    assert first[0].attempts == 1
    assert table.counts() == {State.InProgress: 10}


def test_settle_applies_only_to_the_current_owner(table: ProgressTable) -> None:
    table.add(make_ids(2))
    claims = table.claim(State.NotStarted, State.InProgress, "a", 2, 60)
    outcome = Outcome(claims[0].id, State.KnownError, "CorruptFile: truncated")
    assert table.settle("someone-else", [outcome]) == 0
    assert table.settle("a", [outcome, Outcome(claims[1].id, State.Enqueued, None, "v1")]) == 2
    rows = {r.id: r for r in table.get([c.id for c in claims])}
    assert rows[claims[0].id].state == State.KnownError
    assert rows[claims[0].id].reason == "CorruptFile: truncated"
    assert rows[claims[0].id].owner is None
    assert rows[claims[1].id].enqueued_version == "v1"


def test_expired_claims_return_to_their_start_state(table: ProgressTable) -> None:
    table.add(make_ids(3))
    table.claim(State.NotStarted, State.InProgress, "dead-worker", 3, 0.01)
    time.sleep(0.05)
    assert table.expire_claims(time.time(), max_attempts=5) == 3
    assert table.counts() == {State.NotStarted: 3}
    again = table.claim(State.NotStarted, State.InProgress, "alive", 3, 60)
    assert [c.attempts for c in again] == [2, 2, 2]


def test_expired_locating_claims_go_back_to_enqueued(table: ProgressTable) -> None:
    table.add(make_ids(1))
    claim = table.claim(State.NotStarted, State.InProgress, "a", 1, 60)[0]
    table.settle("a", [Outcome(claim.id, State.Enqueued, None, "v")])
    table.claim(State.Enqueued, State.Locating, "checker", 1, 0.01)
    time.sleep(0.05)
    table.expire_claims(time.time(), max_attempts=5)
    assert table.get([claim.id])[0].state == State.Enqueued


def test_ids_claimed_too_often_end_in_unknown_error(table: ProgressTable) -> None:
    table.add(make_ids(1))
    for _ in range(2):
        table.claim(State.NotStarted, State.InProgress, "crashy", 1, 0.01)
        time.sleep(0.03)
        table.expire_claims(time.time(), max_attempts=2)
    row = table.get(make_ids(1))[0]
    assert row.state == State.UnknownError
    assert row.reason is not None and "claim expired 2 times" in row.reason


def test_live_claims_do_not_expire(table: ProgressTable) -> None:
    table.add(make_ids(2))
    table.claim(State.NotStarted, State.InProgress, "a", 2, 60)
    assert table.expire_claims(time.time(), max_attempts=5) == 0


def test_counters_match_a_full_count(table: ProgressTable) -> None:
    table.add(make_ids(50))
    claims = table.claim(State.NotStarted, State.InProgress, "a", 20, 60)
    table.settle("a", [Outcome(c.id, State.Enqueued) for c in claims[:15]])
    table.reset([State.Enqueued], State.NotStarted)
    assert table.counts() == table.recount()
    assert table.counts() == {State.NotStarted: 45, State.InProgress: 5}


def test_scan_streams_every_id_in_order(table: ProgressTable) -> None:
    ids = make_ids(25)
    table.add(reversed(ids))
    assert list(table.scan(batch_size=7)) == [(i, State.NotStarted) for i in ids]


def test_reset_by_state_and_reason(table: ProgressTable) -> None:
    table.add(make_ids(4))
    claims = table.claim(State.NotStarted, State.InProgress, "a", 4, 60)
    table.settle(
        "a",
        [
            Outcome(claims[0].id, State.KnownError, "CorruptFile: x"),
            Outcome(claims[1].id, State.KnownError, "CorruptFile: x"),
            Outcome(claims[2].id, State.KnownError, "UnsupportedFileType: y"),
            Outcome(claims[3].id, State.NotFound, "no original"),
        ],
    )
    assert table.reset([State.KnownError], State.NotStarted, reason="CorruptFile: x") == 2
    assert table.counts() == {State.NotStarted: 2, State.KnownError: 1, State.NotFound: 1}
    row = table.get([claims[0].id])[0]
    assert row.attempts == 0 and row.owner is None


def test_reset_of_chosen_ids_moves_only_those_in_the_given_states(table: ProgressTable) -> None:
    ids = make_ids(6)
    table.add(ids)
    claims = table.claim(State.NotStarted, State.InProgress, "a", 4, 60)
    table.settle(
        "a",
        [
            Outcome(claims[0].id, State.Verified),
            Outcome(claims[1].id, State.Verified),
            Outcome(claims[2].id, State.KnownError, "CorruptFile: x"),
        ],
    )  # claims[3] stays InProgress: in flight
    chosen = [claims[0].id, claims[2].id, claims[3].id, ids[5], make_ids(1, 99)[0]]
    assert table.reset([State.Verified, State.KnownError], State.NotStarted, ids=chosen) == 2
    states = {row.id: row.state for row in table.get(ids)}
    assert states == {
        claims[0].id: State.NotStarted,
        claims[1].id: State.Verified,
        claims[2].id: State.NotStarted,
        claims[3].id: State.InProgress,
        ids[4]: State.NotStarted,
        ids[5]: State.NotStarted,
    }
    assert table.counts() == table.recount()


def test_failure_groups_count_by_reason_with_examples(table: ProgressTable) -> None:
    table.add(make_ids(6))
    claims = table.claim(State.NotStarted, State.InProgress, "a", 6, 60)
    table.settle(
        "a",
        [Outcome(c.id, State.KnownError, "CorruptFile: x") for c in claims[:5]]
        + [Outcome(claims[5].id, State.UnknownError, "OSError: disk")],
    )
    groups = table.failure_groups([State.KnownError, State.UnknownError], examples=3)
    assert [(g.state, g.reason, g.count) for g in groups] == [
        (State.KnownError, "CorruptFile: x", 5),
        (State.UnknownError, "OSError: disk", 1),
    ]
    assert groups[0].examples == [c.id for c in claims[:3]]
