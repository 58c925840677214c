from __future__ import annotations

import gzip
import json

import pytest

from reingest.errors import MessageDecodeError
from reingest.messages import (
    REINGEST_IMAGE,
    UpdateMessage,
    compressed,
    decode,
    image_payload,
    translate,
)
from reingest.model import Asset, Image, ImageMetadata


def an_image() -> Image:
    return Image(
        id="6792bda493e01a9c6a5eed4389383aaa6043392f",
        uploadTime="2020-01-24T17:36:08.456Z",
        uploadedBy="test",
        source=Asset(file="file:///x"),
        metadata=ImageMetadata(keywords=[], subjects=["sport"]),
    )


def test_reingest_message_round_trips_in_both_wire_forms() -> None:
    payload = image_payload(REINGEST_IMAGE, an_image(), "2024-01-01T00:00:00.000Z")
    for wire in (payload, compressed(payload)):
        decoded = decode(wire)
        assert decoded.subject == REINGEST_IMAGE
        assert decoded.image == an_image().to_json()
        assert decoded.lastModified == "2024-01-01T00:00:00.000Z"


def test_image_payload_is_the_update_message_encoded() -> None:
    """Written without an envelope model, it is still exactly Grid's UpdateMessage."""
    payload = image_payload(REINGEST_IMAGE, an_image(), "2024-01-01T00:00:00.000Z")
    message = UpdateMessage(
        subject=REINGEST_IMAGE, lastModified="2024-01-01T00:00:00.000Z", image=an_image().to_json()
    )
    assert json.loads(payload) == json.loads(message.to_json_bytes())


def test_grid_kinesis_payload_is_zero_byte_then_gzip_json() -> None:
    payload = compressed(image_payload(REINGEST_IMAGE, an_image()))
    assert payload[:1] == b"\x00"
    assert json.loads(gzip.decompress(payload[1:]))["subject"] == REINGEST_IMAGE


def test_epoch_millis_last_modified_is_accepted() -> None:
    body = {"subject": "delete-image", "id": "abc", "lastModified": 1_700_000_000_000}
    assert decode(json.dumps(body).encode()).lastModified == "2023-11-14T22:13:20.000Z"


def test_unknown_fields_survive_a_round_trip() -> None:
    image = an_image().to_json() | {"esInfo": {"migration": {"migratedTo": "x"}}}
    body = {"subject": "image", "image": image, "lastModified": "2024-01-01T00:00:00.000Z"}
    decoded = decode(json.dumps(body).encode())
    assert decoded.image is not None and decoded.image["esInfo"] == image["esInfo"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\x00garbage", "not JSON or gzip"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"lastModified": "2024-01-01T00:00:00Z"}', "subject"),
        (b'{"subject": "reingest-image"}', "^Was unable to deserialise reingest-image"),
        (b'{"subject": "image", "image": {"id": "x"}}', "invalid UpdateMessage: image"),
        (b'{"subject": "delete-image"}', "^Was unable to deserialise delete-image"),
        (b'{"subject": "crop-image", "id": "x"}', "^Could not find processor for crop-image"),
        (
            b'{"subject": "add-image-lease", "id": "x", "mediaLease": {"mediaId": "x"}}',
            "invalid UpdateMessage: mediaLease.access: Field required",
        ),
    ],
)
def test_malformed_messages_raise_a_readable_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageDecodeError, match=reason):
        translate(decode(payload))
