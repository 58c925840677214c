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
    body = {"subject": "delete-image", "id": "a" * 40, "lastModified": 1_700_000_000_000}
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
        (b'{"subject": "crop-image", "id": "' + b"a" * 40 + b'"}', "^Could not find processor"),
        (
            b'{"subject": "add-image-lease", "id": "' + b"a" * 40 + b'", "mediaLease": {}}',
            "invalid UpdateMessage: mediaLease.access: Field required",
        ),
        (
            b'{"subject": "delete-image", "id": "../../etc/passwd"}',
            r"^invalid UpdateMessage: id: not a Grid image id \(40 lower-case hex digits\)",
        ),
        (
            b'{"subject": "delete-image", "id": "' + b"A" * 40 + b'"}',
            "^invalid UpdateMessage: id: not a Grid image id",
        ),
    ],
)
def test_malformed_messages_raise_a_readable_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageDecodeError, match=reason):
        translate(decode(payload))


ID = "a" * 40


@pytest.mark.parametrize(
    ("last_modified", "reason"),
    [
        (10**18, "epoch millis out of range"),
        (-1, "epoch millis out of range"),
        (True, "expected an ISO date or epoch millis, got bool"),
        (1.5e12, "expected an ISO date or epoch millis, got float"),
        ("not a date", "not a date"),
        ("2020-01-01T00:00:00+99:00", "not a date"),
        ("9999-12-31T20:00:00-10:00", "not a date"),
        ({"date": 1}, "got dict"),
    ],
)
def test_a_last_modified_that_is_not_a_sane_date_is_refused(
    last_modified: object, reason: str
) -> None:
    body = {"subject": "delete-image", "id": ID, "lastModified": last_modified}
    with pytest.raises(
        MessageDecodeError, match=f"^invalid UpdateMessage: lastModified: .*{reason}"
    ):
        decode(json.dumps(body).encode())


def test_last_modified_is_normalised_to_grids_format() -> None:
    body = {"subject": "delete-image", "id": ID, "lastModified": "2024-06-01T12:00:00+02:00"}
    assert decode(json.dumps(body).encode()).lastModified == "2024-06-01T10:00:00.000Z"


def test_edits_with_a_garbage_time_are_refused() -> None:
    edits = {"metadata": {}, "lastModified": "yesterday"}
    body = {"subject": "update-image-user-metadata", "id": ID, "edits": edits}
    with pytest.raises(MessageDecodeError, match=r"^invalid UpdateMessage: edits\.lastModified"):
        decode(json.dumps(body).encode())


def test_a_gzip_bomb_is_refused_after_inflating_at_most_the_cap() -> None:
    import gzip

    from reingest.messages import MAX_MESSAGE_BYTES

    bomb = b"\x00" + gzip.compress(b" " * (MAX_MESSAGE_BYTES + 1))
    with pytest.raises(MessageDecodeError, match="inflates past"):
        decode(bomb)
    with pytest.raises(MessageDecodeError, match="truncated gzip"):
        decode(bomb[:100])
