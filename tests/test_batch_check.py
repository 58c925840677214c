from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from reingest import migration
from reingest.backends import Components
from reingest.batch_check import check_batch
from reingest.index.base import AliasChange, new_index_name
from reingest.index.documents import DocumentUpdate, file_digest
from reingest.index.mapping import MAPPING
from reingest.progress.base import Outcome
from reingest.states import State
from reingest.streams.base import Priority

IDS = [f"{i:040x}" for i in range(4)]
V1 = "2024-01-01T00:00:00.000Z"


def projection(image_id: str, title: str = "from the file") -> dict[str, object]:
    return {"id": image_id, "originalMetadata": {"title": title}, "source": {"file": "x"}}


#: what batch-index records: the digest of the projection's file-derived content
ENQUEUED = file_digest(projection(""))


def enqueue(components: Components, version: str = ENQUEUED) -> None:
    progress = components.progress
    progress.add(IDS)
    claims = progress.claim(State.NotStarted, State.InProgress, "i", 10, 60)
    progress.settle("i", [Outcome(c.id, State.Enqueued, None, version) for c in claims])


def test_landed_projections_verify_and_others_are_inconsistent(components: Components) -> None:
    enqueue(components)
    components.index.apply([DocumentUpdate.image(projection(IDS[0]), V1)])
    components.index.apply([DocumentUpdate.image(projection(IDS[1], "other code"), V1)])
    # edits do not touch the file-derived fields: still the projection that was enqueued
    edits = {"metadata": {"title": "edited"}, "lastModified": "2030-01-01T00:00:00.000Z"}
    components.index.apply([DocumentUpdate.user_metadata(IDS[0], edits, V1)])
    report = check_batch(
        components.progress, components.index, components.streams, components.settings, "c"
    )
    rows = {r.id: r for r in components.progress.get(IDS)}
    assert rows[IDS[0]].state == State.Verified
    assert rows[IDS[1]].state == State.Inconsistent
    assert rows[IDS[1]].reason == (
        "index holds other file-derived content than the projection enqueued"
    )
    assert rows[IDS[2]].state == State.Inconsistent and rows[IDS[2]].reason == "not in the index"
    assert report.outcomes == {State.Verified: 1, State.Inconsistent: 3}


def test_rows_enqueued_by_an_older_version_need_only_a_document(components: Components) -> None:
    enqueue(components, version=V1)  # older versions recorded the message time
    components.index.apply([DocumentUpdate.image(projection(IDS[0], "anything"), V1)])
    report = check_batch(
        components.progress, components.index, components.streams, components.settings, "c"
    )
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
        index.apply([DocumentUpdate.image(projection(image_id), V1) for image_id in IDS])
        return real_pending()

    monkeypatch.setattr(streams, "pending", thrall_finishes_first)
    report = check_batch(components.progress, index, streams, components.settings, "c")
    assert report.outcomes == {State.Verified: 4}


def test_during_a_migration_projections_are_verified_in_its_index_with_its_refusals(
    components: Components,
) -> None:
    index = components.index
    narrower = copy.deepcopy(MAPPING)
    del narrower["properties"]["uploadedBy"]  # strict at the top: now refused
    target = new_index_name(datetime.now(UTC))
    index.create_index(target, narrower)
    index.change_aliases([AliasChange("add", migration.MIGRATION, target)])
    enqueue(components)
    uploaded = [{**projection(i), "uploadedBy": "someone"} for i in IDS[:2]]
    migration.write(index, [DocumentUpdate.image(image, V1) for image in uploaded])
    # landed in the current index before the migration began: not yet copied
    index.apply([DocumentUpdate.image(projection(IDS[2]), V1)])
    index.using(target).apply([DocumentUpdate.image(projection(IDS[3]), V1)])
    report = check_batch(components.progress, index, components.streams, components.settings, "c")
    rows = {r.id: r for r in components.progress.get(IDS)}
    assert {i: r.state for i, r in rows.items()} == {
        IDS[0]: State.Inconsistent,
        IDS[1]: State.Inconsistent,
        IDS[2]: State.Inconsistent,
        IDS[3]: State.Verified,  # what counts is the migration index
    }
    assert rows[IDS[0]].reason is not None
    assert rows[IDS[0]].reason.startswith("the migration index refused it: ")
    assert "uploadedBy" in rows[IDS[0]].reason
    assert rows[IDS[2]].reason == "not in the index"
    assert report.outcomes == {State.Verified: 1, State.Inconsistent: 3}
