from __future__ import annotations

import hashlib
import json

from reingest.backends import Components
from reingest.messages import REINGEST_IMAGE, UpdateMessage, image_payload
from reingest.model import Asset, Image, ImageMetadata, Usage
from reingest.originals.base import UploadRecord
from reingest.streams.base import Priority
from reingest.thrall import consume_once, drain


def grid_id(name: str) -> str:
    """A Grid image id (40 lower-case hex digits) named for the test; ids pass as they are."""
    is_id = len(name) == 40 and all(c in "0123456789abcdef" for c in name)
    return name if is_id else hashlib.sha1(name.encode()).hexdigest()


def image(name: str, title: str = "t") -> Image:
    return Image(
        id=grid_id(name),
        uploadTime="2020-01-01T00:00:00.000Z",
        uploadedBy="u",
        source=Asset(file="file:///x"),
        metadata=ImageMetadata(title=title),
        originalMetadata=ImageMetadata(title=title),
    )


LATER = "2030-01-01T00:00:00.000Z"


def usage(usage_id: str) -> Usage:
    return Usage(id=usage_id, platform="print", media="image", status="pending", lastModified=LATER)


def test_high_priority_is_always_consumed_before_low(components: Components) -> None:
    streams, index = components.streams, components.index
    streams.publish(
        Priority.LOW, [image_payload(REINGEST_IMAGE, image(f"low{i}")) for i in range(5)]
    )
    streams.publish(Priority.HIGH, [image_payload(REINGEST_IMAGE, image("edit"))])
    first = consume_once(streams, index, "t", 30, batch=2)
    assert first.priority == Priority.HIGH and first.applied == 1
    assert index.get(grid_id("edit")) is not None and index.count() == 1
    second = consume_once(streams, index, "t", 30, batch=2)
    assert second.priority == Priority.LOW and second.applied == 2
    streams.publish(Priority.HIGH, [image_payload(REINGEST_IMAGE, image("edit2"))])
    assert consume_once(streams, index, "t", 30, batch=2).priority == Priority.HIGH
    assert drain(streams, index, "t", 30, max_cycles=10) == (3, 0)
    assert consume_once(streams, index, "t", 30).idle


def test_bad_messages_are_dead_lettered_with_a_reason_and_the_rest_applied(
    components: Components,
) -> None:
    streams, index = components.streams, components.index
    unknown = UpdateMessage(
        subject="update-image-photoshoot-metadata", lastModified="2024-01-01T00:00:00Z"
    )
    streams.publish(
        Priority.LOW,
        [
            b"{broken",
            image_payload(REINGEST_IMAGE, image("good")),
            json.dumps(
                {"subject": "reingest-image", "lastModified": "2024-01-01T00:00:00Z"}
            ).encode(),
            unknown.to_json_bytes(),
        ],
    )
    assert drain(streams, index, "t", 30, max_cycles=5) == (1, 3)
    assert index.get(grid_id("good")) is not None
    reasons = sorted(d.reason for d in streams.dead_letters())
    assert reasons == [
        "Was unable to deserialise reingest-image (missing image)",
        "Was unable to deserialise update-image-photoshoot-metadata (missing id, edits)",
        reasons[2],
    ]
    assert reasons[2].startswith("not JSON")
    assert streams.lag(Priority.LOW).depth == 0


def test_unknown_subjects_are_dead_lettered_with_grids_reason(components: Components) -> None:
    unknown = UpdateMessage(
        subject="resize-image", id=grid_id("a"), lastModified="2024-01-01T00:00:00Z"
    )
    components.streams.publish(Priority.HIGH, [unknown.to_json_bytes()])
    assert drain(components.streams, components.index, "t", 30, max_cycles=5) == (0, 1)
    [dead] = components.streams.dead_letters()
    assert dead.reason == "Could not find processor for resize-image message"


def test_a_delete_in_the_same_batch_as_the_upload_deletes_the_image_and_its_original(
    components: Components,
) -> None:
    streams, index, originals = components.streams, components.index, components.originals
    image_id, _ = originals.put(b"original bytes", UploadRecord())
    originals.put_thumbnail(image_id, b"thumbnail")
    kept_id, _ = originals.put(b"an image with usages", UploadRecord())
    used = image(kept_id).model_copy(update={"usages": [usage("u1")]})
    delete = UpdateMessage(subject="delete-image", id=image_id, lastModified=LATER)
    keep = UpdateMessage(subject="delete-image", id=kept_id, lastModified=LATER)
    streams.publish(
        Priority.HIGH,
        [
            image_payload("image", image(image_id)),
            image_payload("image", used),
            delete.to_json_bytes(),
            keep.to_json_bytes(),
        ],
    )
    assert drain(streams, index, "t", 30, 5, originals=originals) == (4, 0)
    assert index.get(image_id) is None and not originals.exists(image_id)
    assert originals.get_thumbnail(image_id) is None
    # Grid keeps an image that has usages or exports ("Image cannot be deleted")
    assert index.get(kept_id) is not None and originals.exists(kept_id)


def test_a_document_the_mapping_refuses_is_dead_lettered_and_its_neighbours_indexed(
    components: Components,
) -> None:
    streams, index = components.streams, components.index
    unknown_field = image("bad-top").model_copy(update={"notAGridField": 1})
    unknown_metadata = image("bad-metadata").model_copy(
        update={"metadata": ImageMetadata(title="t", foo="x")}
    )
    streams.publish(
        Priority.LOW,
        [
            image_payload(REINGEST_IMAGE, image("good1")),
            image_payload(REINGEST_IMAGE, unknown_field),
            image_payload(REINGEST_IMAGE, unknown_metadata),
            image_payload(REINGEST_IMAGE, image("good2")),
        ],
    )
    assert drain(streams, index, "t", 30, max_cycles=5) == (2, 2)
    names = ["good1", "good2", "bad-top", "bad-metadata"]
    found = index.get_many([grid_id(name) for name in names])
    assert sorted(found) == sorted([grid_id("good1"), grid_id("good2")])
    prefix = "index rejected the update: strict_dynamic_mapping_exception: "
    assert sorted(d.reason for d in streams.dead_letters()) == [
        f"{prefix}mapping set to strict, dynamic introduction of [foo] within [metadata] is not "
        "allowed",
        f"{prefix}mapping set to strict, dynamic introduction of [notAGridField] within [_doc] "
        "is not allowed",
    ]
    assert streams.lag(Priority.LOW).depth == 0


def test_a_user_edit_overtakes_a_hundred_thousand_waiting_reingest_messages(
    components: Components,
) -> None:
    streams, index = components.streams, components.index
    backlog = image_payload(REINGEST_IMAGE, image("reingested"))
    for _ in range(10):
        streams.publish(Priority.LOW, [backlog] * 10_000)
    consume_once(streams, index, "t", 30, batch=200)  # thrall is busy with the backlog...
    streams.publish(Priority.HIGH, [image_payload(REINGEST_IMAGE, image("edit", "user edit"))])
    cycle = consume_once(streams, index, "t", 30, batch=200)  # ...and the edit is next
    assert cycle.priority == Priority.HIGH and cycle.applied == 1
    document = index.get(grid_id("edit"))
    assert document is not None and document["metadata"]["title"] == "user edit"
    assert streams.lag(Priority.LOW).depth == 100_000 - 200


def test_a_poison_message_costs_itself_and_the_edits_behind_it_still_apply(
    components: Components,
) -> None:
    streams, index = components.streams, components.index
    streams.publish(Priority.HIGH, [image_payload(REINGEST_IMAGE, image("a"))])
    drain(streams, index, "t", 30, 5)
    edit = UpdateMessage(
        subject="set-image-collections", id=grid_id("a"), collections=[], lastModified=LATER
    ).to_json_bytes()
    poison = [
        json.dumps({"subject": "delete-image", "id": grid_id("a"), "lastModified": 10**18}),
        json.dumps({"subject": "delete-image", "id": "../../etc/passwd"}),
        json.dumps({"subject": "image", "lastModified": True, "image": image("b").to_json()}),
    ]
    streams.publish(Priority.HIGH, [p.encode() for p in poison] + [edit])
    assert drain(streams, index, "t", 30, 5) == (1, 3)
    document = index.get(grid_id("a"))
    assert document is not None and document["lastModified"] == LATER
    assert index.get(grid_id("b")) is None


def test_an_update_its_document_cannot_take_is_dead_lettered_alone(
    components: Components,
) -> None:
    """A rule that fails on what a document holds (here usages that are not a list, written
    by something else) dead-letters that message, even when it is the whole batch."""
    streams, index = components.streams, components.index
    odd = image("a").to_json() | {"usages": {"not": "a list"}}
    with index.db.write() as conn:  # type: ignore[attr-defined]  # as an older version wrote it
        conn.execute(
            "INSERT INTO documents (id, document) VALUES (?, ?)", (odd["id"], json.dumps(odd))
        )
    status = {
        "subject": "update-usage-status",
        "id": grid_id("a"),
        "usageNotice": {"mediaId": grid_id("a"), "usageJson": [usage("u1").to_json()]},
    }
    streams.publish(Priority.HIGH, [json.dumps(status).encode()])
    assert drain(streams, index, "t", 30, 5) == (0, 1)
    [dead] = streams.dead_letters()
    assert dead.reason.startswith("index rejected the update: update-usage-status cannot apply")
