"""Grid's UpdateMessage: the envelope thrall reads from the streams.

Wire format: JSON; Grid's Kinesis writers prefix ``0x00`` and gzip the JSON, and readers accept
both forms, so ``decode`` does too.
"""

from __future__ import annotations

import gzip
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from .dates import from_epoch, now_iso
from .errors import MessageDecodeError
from .model import Edits, GridModel, Image, JsonObject

REINGEST_IMAGE = "reingest-image"
#: subjects whose payload is a whole image (Grid translates all three to an ImageMessage)
IMAGE_SUBJECTS = frozenset({"image", REINGEST_IMAGE, "update-image"})
DELETE_IMAGE = "delete-image"
USER_METADATA = "update-image-user-metadata"


class UpdateMessage(GridModel):
    subject: str
    lastModified: str
    #: the image JSON exactly as sent (``decode`` checks it against the Image model), so
    #: thrall indexes it as it came, unknown keys included, without re-serialising
    image: JsonObject | None = None
    id: str | None = None
    edits: Edits | None = None


def image_payload(subject: str, image: Image, last_modified: str | None = None) -> bytes:
    """The wire bytes of an UpdateMessage carrying ``image``, written straight from the model:
    this runs once per image of every batch, so no envelope model is built around it."""
    envelope = orjson.dumps({"subject": subject, "lastModified": last_modified or now_iso()})
    return envelope[:-1] + b',"image":' + image.to_json_bytes() + b"}"


def compressed(payload: bytes) -> bytes:
    """Grid's Kinesis record framing: 0x00 then gzip(JSON); already-framed payloads pass."""
    if payload[:1] == b"\x00":
        return payload
    return b"\x00" + gzip.compress(payload, compresslevel=5)


def uncompressed(payload: bytes) -> bytes:
    """The JSON inside a framed record; a payload that is not valid framing is left as it is
    (decode then says what is wrong with it)."""
    if payload[:1] != b"\x00":
        return payload
    try:
        return gzip.decompress(payload[1:])
    except (OSError, EOFError):
        return payload


def decode(payload: bytes) -> UpdateMessage:
    """Parse a message in either wire form; raise MessageDecodeError with a readable reason."""
    try:
        raw = gzip.decompress(payload[1:]) if payload[:1] == b"\x00" else payload
        data: Any = orjson.loads(raw)  # thrall's hot path: several times faster than json
    except (OSError, EOFError, ValueError) as error:
        raise MessageDecodeError(f"not JSON or gzip(JSON): {error}") from error
    if not isinstance(data, dict):
        raise MessageDecodeError(f"expected a JSON object, got {type(data).__name__}")
    if isinstance(data.get("lastModified"), int):
        data["lastModified"] = from_epoch(data["lastModified"] / 1000)
    if "lastModified" not in data:
        data["lastModified"] = now_iso()
    message = _validated(UpdateMessage, data, ())
    if message.image is not None:  # strict, as Grid's thrall parses the whole Image
        _validated(Image, message.image, ("image",))
    if message.subject in IMAGE_SUBJECTS and message.image is None:
        raise MessageDecodeError(f"missing field image for subject {message.subject}")
    if message.subject in (DELETE_IMAGE, USER_METADATA) and not message.id:
        raise MessageDecodeError(f"missing field id for subject {message.subject}")
    if message.subject == USER_METADATA and message.edits is None:
        raise MessageDecodeError(f"missing field edits for subject {message.subject}")
    return message


Model = TypeVar("Model", bound=GridModel)


def _validated(model: type[Model], data: Any, where: tuple[str, ...]) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(part) for part in (*where, *first["loc"]))
        raise MessageDecodeError(f"invalid UpdateMessage: {path}: {first['msg']}") from error
