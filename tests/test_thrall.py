from __future__ import annotations

import json

from reingest.backends import Components
from reingest.messages import REINGEST_IMAGE, UpdateMessage, image_payload
from reingest.model import Asset, Image, ImageMetadata
from reingest.streams.base import Priority
from reingest.thrall import consume_once, drain


def image(image_id: str, title: str = "t") -> Image:
    return Image(
        id=image_id,
        uploadTime="2020-01-01T00:00:00.000Z",
        uploadedBy="u",
        source=Asset(file="file:///x"),
        metadata=ImageMetadata(title=title),
        originalMetadata=ImageMetadata(title=title),
    )


def test_high_priority_is_always_consumed_before_low(components: Components) -> None:
    streams, index = components.streams, components.index
    streams.publish(
        Priority.LOW, [image_payload(REINGEST_IMAGE, image(f"low{i}")) for i in range(5)]
    )
    streams.publish(Priority.HIGH, [image_payload(REINGEST_IMAGE, image("edit"))])
    first = consume_once(streams, index, "t", 30, batch=2)
    assert first.priority == Priority.HIGH and first.applied == 1
    assert index.get("edit") is not None and index.count() == 1
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
    assert index.get("good") is not None
    reasons = sorted(d.reason for d in streams.dead_letters())
    assert reasons[0].startswith("missing field image")
    assert "no processor for subject" in reasons[1]
    assert reasons[2].startswith("not JSON")
    assert streams.lag(Priority.LOW).depth == 0


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
    assert sorted(index.get_many(["good1", "good2", "bad-top", "bad-metadata"])) == [
        "good1",
        "good2",
    ]
    prefix = "index rejected the document: MappingRejection: strict_dynamic_mapping_exception: "
    assert sorted(d.reason for d in streams.dead_letters()) == [
        f"{prefix}mapping set to strict, dynamic introduction of [foo] within [metadata] is not "
        "allowed",
        f"{prefix}mapping set to strict, dynamic introduction of [notAGridField] within [_doc] "
        "is not allowed",
    ]
    assert streams.lag(Priority.LOW).depth == 0


def test_delete_image_removes_the_document(components: Components) -> None:
    streams, index = components.streams, components.index
    streams.publish(Priority.HIGH, [image_payload(REINGEST_IMAGE, image("a"))])
    drain(streams, index, "t", 30, 5)
    delete = UpdateMessage(subject="delete-image", id="a", lastModified="2030-01-01T00:00:00Z")
    streams.publish(Priority.HIGH, [delete.to_json_bytes()])
    drain(streams, index, "t", 30, 5)
    assert index.get("a") is None


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
    document = index.get("edit")
    assert document is not None and document["metadata"]["title"] == "user edit"
    assert streams.lag(Priority.LOW).depth == 100_000 - 200
