from __future__ import annotations

import pytest

from reingest.backends import Components
from reingest.batch_check import check_batch
from reingest.index.documents import DocumentUpdate
from reingest.progress.base import Outcome
from reingest.states import State
from reingest.streams.base import Priority

IDS = [f"{i:040x}" for i in range(4)]
V1 = "2024-01-01T00:00:00.000Z"


def enqueue(components: Components, version: str = V1) -> None:
    progress = components.progress
    progress.add(IDS)
    claims = progress.claim(State.NotStarted, State.InProgress, "i", 10, 60)
    progress.settle("i", [Outcome(c.id, State.Enqueued, None, version) for c in claims])


def test_fresh_documents_verify_and_missing_ones_are_inconsistent(components: Components) -> None:
    enqueue(components)
    components.index.apply([DocumentUpdate.image({"id": IDS[0]}, V1)])
    components.index.apply([DocumentUpdate.image({"id": IDS[1]}, "2023-01-01T00:00:00.000Z")])
    report = check_batch(
        components.progress, components.index, components.streams, components.settings, "c"
    )
    rows = {r.id: r for r in components.progress.get(IDS)}
    assert rows[IDS[0]].state == State.Verified
    assert rows[IDS[1]].state == State.Inconsistent
    assert rows[IDS[1]].reason == "index holds an older document than the projection enqueued"
    assert rows[IDS[2]].state == State.Inconsistent and rows[IDS[2]].reason == "not in the index"
    assert report.outcomes == {State.Verified: 1, State.Inconsistent: 3}


def test_missing_documents_wait_while_thrall_still_has_messages(components: Components) -> None:
    enqueue(components)
    components.streams.publish(Priority.LOW, [b"{}"])
    check_batch(components.progress, components.index, components.streams, components.settings, "c")
    assert components.progress.counts() == {State.Enqueued: 4}
    assert components.progress.get(IDS[:1])[0].reason == "not indexed yet"


def test_documents_written_between_the_index_read_and_the_stream_read_still_verify(
    components: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thrall applies and acks the last messages after the checker read the index but before
    it asked the streams: an empty stream then must not make the ids Inconsistent."""
    enqueue(components)
    streams, index = components.streams, components.index
    real_pending = streams.pending

    def thrall_finishes_first() -> int:
        index.apply([DocumentUpdate.image({"id": image_id}, V1) for image_id in IDS])
        return real_pending()

    monkeypatch.setattr(streams, "pending", thrall_finishes_first)
    report = check_batch(components.progress, index, streams, components.settings, "c")
    assert report.outcomes == {State.Verified: 4}
