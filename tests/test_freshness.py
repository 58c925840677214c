"""A user's edit that lands while a reingest is in flight is never lost, in either order, and
the reingest is not lost to the edit: its re-derived fields land and the checker proves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reingest.backends import Components
from reingest.batch_check import check_batch
from reingest.batch_index import index_batch
from reingest.dates import now_iso
from reingest.messages import UpdateMessage, image_payload
from reingest.model import Edits, ImageMetadata
from reingest.originals.base import UploadRecord
from reingest.projection import Projector
from reingest.states import State
from reingest.streams.base import Priority
from reingest.thrall import consume_once, drain


@pytest.mark.parametrize("edit_priority", [Priority.HIGH, Priority.LOW])
def test_an_edit_during_reingestion_survives_and_the_image_still_verifies(
    components: Components, fixtures_dir: Path, edit_priority: Priority
) -> None:
    image_id, _ = components.originals.put(
        (fixtures_dir / "getty.jpg").read_bytes(), UploadRecord(filename="getty.jpg")
    )
    projector = Projector(components.originals, components.services)
    # indexed long ago, by extraction code that read less from the file than today's
    reingested = projector.project(image_id)
    old = reingested.model_copy(
        update={"originalMetadata": ImageMetadata(title="old extraction"), "fileMetadata": None}
    )
    upload = image_payload("image", old, now_iso())
    components.streams.publish(Priority.HIGH, [upload])
    drain(components.streams, components.index, "thrall", 30, max_cycles=5)

    components.progress.add([image_id])
    index_batch(components.progress, projector, components.streams, components.settings, "i")
    assert components.progress.counts() == {State.Enqueued: 1}

    # the user edits the image after the projection was made, before thrall applied it;
    # on the LOW stream the edit lands behind the reingest message, on HIGH ahead of it
    edited_at = now_iso()
    edits = Edits(metadata=ImageMetadata(title="Edited by a user"), lastModified=edited_at)
    edit = UpdateMessage(
        subject="update-image-user-metadata", id=image_id, edits=edits, lastModified=edited_at
    )
    components.streams.publish(edit_priority, [edit.to_json_bytes()])

    first = consume_once(components.streams, components.index, "thrall", 30, batch=1)
    assert first.priority == Priority.HIGH if edit_priority == Priority.HIGH else Priority.LOW
    drain(components.streams, components.index, "thrall", 30, max_cycles=10)
    document = components.index.get(image_id)
    assert document is not None
    assert document["metadata"]["title"] == "Edited by a user"
    assert document["metadata"]["credit"] == "AFP/Getty Images"
    assert document["lastModified"] == edited_at
    # the reingest's re-derived fields landed although the edit is newer than the projection
    assert document["originalMetadata"] == reingested.originalMetadata.to_json()
    assert document["fileMetadata"] == reingested.fileMetadata.to_json()

    check_batch(components.progress, components.index, components.streams, components.settings, "c")
    assert components.progress.counts() == {State.Verified: 1}
