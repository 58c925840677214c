"""Grid's UpdateMessage: the envelope thrall reads from the streams.

Wire format: JSON; Grid's Kinesis writers prefix ``0x00`` and gzip the JSON, and readers accept
both forms, so ``decode`` does too.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from .dates import format_iso, from_epoch, now_iso, parse_iso
from .errors import MessageDecodeError
from .index import documents as subjects
from .index.documents import DocumentUpdate
from .model import (
    Collection,
    Crop,
    Edits,
    GridModel,
    Image,
    JsonObject,
    MediaLease,
    SoftDeletedMetadata,
    SyndicationRights,
    Usage,
)

REINGEST_IMAGE = subjects.REINGEST_IMAGE


class UsageNotice(GridModel):
    mediaId: str
    usageJson: list[Usage]


class UpdateMessage(GridModel):
    """Grid's UpdateMessage (common-lib ``ThrallMessageSender.scala``): a subject and the
    optional fields the subjects need."""

    subject: str
    lastModified: str
    #: the image JSON exactly as sent (``decode`` checks it against the Image model), so
    #: thrall indexes it as it came, unknown keys included, without re-serialising
    image: JsonObject | None = None
    id: str | None = None
    usageNotice: UsageNotice | None = None
    edits: Edits | None = None
    softDeletedMetadata: SoftDeletedMetadata | None = None
    collections: list[Collection] | None = None
    leaseId: str | None = None
    crops: list[Crop] | None = None
    mediaLease: MediaLease | None = None
    leases: list[MediaLease] | None = None
    syndicationRights: SyndicationRights | None = None
    bulkIndexRequest: JsonObject | None = None
    usageId: str | None = None


class MissingFields(MessageDecodeError):
    """Grid's MissingFieldsException: the subject's fields are not all there."""


class NoProcessor(MessageDecodeError):
    """Grid's ProcessorNotFoundException: a subject thrall does not know."""


@dataclass(frozen=True)
class Translation:
    """What a subject needs from the message, and what its rule receives."""

    required: tuple[str, ...]
    payload: Callable[[UpdateMessage], Any] = lambda _message: None


def _json(value: GridModel | None) -> JsonObject | None:
    return None if value is None else value.to_json()


def _first_usage(message: UpdateMessage) -> JsonObject:
    assert message.usageNotice is not None
    if not message.usageNotice.usageJson:
        raise MissingFields(f"Was unable to deserialise {message.subject} (no usage in usageJson)")
    return message.usageNotice.usageJson[0].to_json()


_IMAGE = Translation(("image",), lambda m: m.image)
_EDITS = Translation(("id", "edits"), lambda m: _json(m.edits))
#: Grid's MessageTranslator: subject → the fields it requires and the payload of its rule
TRANSLATIONS: dict[str, Translation] = {
    subjects.IMAGE: _IMAGE,
    subjects.REINGEST_IMAGE: _IMAGE,
    subjects.UPDATE_IMAGE: _IMAGE,
    subjects.DELETE_IMAGE: Translation(("id",)),
    subjects.SOFT_DELETE_IMAGE: Translation(
        ("id", "softDeletedMetadata"), lambda m: _json(m.softDeletedMetadata)
    ),
    subjects.UN_SOFT_DELETE_IMAGE: Translation(("id",)),
    subjects.DELETE_IMAGE_EXPORTS: Translation(("id",)),
    subjects.UPDATE_IMAGE_EXPORTS: Translation(
        ("id", "crops"), lambda m: [crop.to_json() for crop in m.crops or []]
    ),
    subjects.UPDATE_IMAGE_USER_METADATA: _EDITS,
    subjects.UPDATE_IMAGE_USAGES: Translation(
        ("id", "usageNotice"),
        lambda m: [usage.to_json() for usage in m.usageNotice.usageJson] if m.usageNotice else [],
    ),
    subjects.REPLACE_IMAGE_LEASES: Translation(
        ("id", "leases"), lambda m: [lease.to_json() for lease in m.leases or []]
    ),
    subjects.ADD_IMAGE_LEASE: Translation(("id", "mediaLease"), lambda m: _json(m.mediaLease)),
    subjects.REMOVE_IMAGE_LEASE: Translation(("id", "leaseId"), lambda m: m.leaseId),
    subjects.SET_IMAGE_COLLECTIONS: Translation(
        ("id", "collections"), lambda m: [c.to_json() for c in m.collections or []]
    ),
    subjects.DELETE_USAGES: Translation(("id",)),
    subjects.DELETE_SINGLE_USAGE: Translation(("id", "usageId"), lambda m: m.usageId),
    subjects.UPDATE_IMAGE_SYNDICATION_METADATA: Translation(
        ("id",), lambda m: _json(m.syndicationRights)
    ),
    subjects.UPDATE_IMAGE_PHOTOSHOOT_METADATA: _EDITS,
    subjects.UPDATE_USAGE_STATUS: Translation(("id", "usageNotice"), _first_usage),
}
assert TRANSLATIONS.keys() == subjects.RULES.keys()


def translate(message: UpdateMessage) -> DocumentUpdate:
    """The index change a message asks for (Grid's MessageTranslator); raises NoProcessor or
    MissingFields with Grid's texts."""
    translation = TRANSLATIONS.get(message.subject)
    if translation is None:
        raise NoProcessor(f"Could not find processor for {message.subject} message")
    missing = [name for name in translation.required if getattr(message, name) is None]
    if missing:
        raise MissingFields(
            f"Was unable to deserialise {message.subject} (missing {', '.join(missing)})"
        )
    image_id = message.image["id"] if message.image is not None else message.id
    assert image_id is not None
    return DocumentUpdate(
        image_id, message.subject, message.lastModified, translation.payload(message)
    )


def image_payload(subject: str, image: Image | bytes, last_modified: str | None = None) -> bytes:
    """The wire bytes of an UpdateMessage carrying ``image`` (a model, or the JSON bytes of
    one), written straight from the model: this runs once per image of every batch, so no
    envelope model is built around it."""
    envelope = orjson.dumps({"subject": subject, "lastModified": last_modified or now_iso()})
    image_bytes = image if isinstance(image, bytes) else image.to_json_bytes()
    return envelope[:-1] + b',"image":' + image_bytes + b"}"


def compressed(payload: bytes) -> bytes:
    """Grid's Kinesis record framing: 0x00 then gzip(JSON); already-framed payloads pass."""
    if payload[:1] == b"\x00":
        return payload
    return b"\x00" + gzip.compress(payload, compresslevel=5)


def uncompressed(payload: bytes) -> bytes:
    """The JSON inside a framed record; a payload that is not valid framing (or inflates past
    ``MAX_MESSAGE_BYTES``) is left as it is (decode then says what is wrong with it)."""
    if payload[:1] != b"\x00":
        return payload
    try:
        return _inflated(payload[1:])
    except MessageDecodeError:
        return payload


def decode(payload: bytes) -> UpdateMessage:
    """Parse a message in either wire form; raise MessageDecodeError with a readable reason.

    Checked before anything is indexed: the size once inflated, ``lastModified`` (an ISO date
    or epoch millis from 1970 to 9999, normalised to Grid's ``…T…:…:….SSSZ``), the image ids (40
    lower-case hex digits) and every field against Grid's models."""
    try:
        raw = _inflated(payload[1:]) if payload[:1] == b"\x00" else payload
        data: Any = orjson.loads(raw)  # thrall's hot path: several times faster than json
    except ValueError as error:
        raise MessageDecodeError(f"not JSON or gzip(JSON): {error}") from error
    if not isinstance(data, dict):
        raise MessageDecodeError(f"expected a JSON object, got {type(data).__name__}")
    data["lastModified"] = _last_modified(data.get("lastModified"), "lastModified")
    image = data.pop("image", None)  # validated once, as an Image, and kept as it came
    message = _validated(UpdateMessage, data, ())
    if image is not None:  # strict, as Grid's thrall parses the whole Image
        _validated(Image, image, ("image",))
        _check_id(image["id"], "image.id")
        message.image = image
    if message.id is not None:
        _check_id(message.id, "id")
    if message.edits is not None and message.edits.lastModified is not None:
        message.edits.lastModified = _last_modified(
            message.edits.lastModified, "edits.lastModified"
        )
    return message


#: the most a message may inflate to: a gzip bomb costs this much memory, not gigabytes
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: epoch millis of 9999-12-31T23:59:59.999Z, the last instant an ISO date can say
_LAST_EPOCH_MILLIS = 253_402_300_799_999
_IMAGE_ID = re.compile(r"[0-9a-f]{40}")
#: Grid's own form of a date (``printDateTime``): kept as it is once checked
_GRID_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _inflated(framed: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # one gzip member, as Grid writes
    try:
        data = inflater.decompress(framed, MAX_MESSAGE_BYTES)
    except zlib.error as error:
        raise MessageDecodeError(f"not JSON or gzip(JSON): {error}") from error
    if inflater.unconsumed_tail:
        raise MessageDecodeError(f"gzip record inflates past {MAX_MESSAGE_BYTES} bytes")
    if not inflater.eof:
        raise MessageDecodeError("not JSON or gzip(JSON): truncated gzip record")
    return data


def _last_modified(value: Any, field: str) -> str:
    """Grid's date reader: an ISO date, or epoch millis; absent means now (as Grid logs and
    does). Anything else, out of range, or without a time zone Python can hold, is refused."""
    if value is None:
        return now_iso()
    if type(value) is str and _GRID_DATE.fullmatch(value):  # already as Grid writes it
        try:
            datetime.fromisoformat(value)
            return value
        except ValueError:
            pass  # 2024-02-30…: said below
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= _LAST_EPOCH_MILLIS:
                raise ValueError("epoch millis out of range")
            return from_epoch(value / 1000)
        if isinstance(value, str):
            return format_iso(parse_iso(value))
    except (ValueError, OverflowError) as error:
        shown = repr(value)[:60]
        raise MessageDecodeError(
            f"invalid UpdateMessage: {field}: not a date ({error}): {shown}"
        ) from error
    raise MessageDecodeError(
        f"invalid UpdateMessage: {field}: expected an ISO date or epoch millis, "
        f"got {type(value).__name__}"
    )


def _check_id(image_id: str, field: str) -> None:
    if not _IMAGE_ID.fullmatch(image_id):
        raise MessageDecodeError(
            f"invalid UpdateMessage: {field}: not a Grid image id (40 lower-case hex digits): "
            f"{image_id[:60]!r}"
        )


Model = TypeVar("Model", bound=GridModel)


def _validated(model: type[Model], data: Any, where: tuple[str, ...]) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(part) for part in (*where, *first["loc"]))
        raise MessageDecodeError(f"invalid UpdateMessage: {path}: {first['msg']}") from error
