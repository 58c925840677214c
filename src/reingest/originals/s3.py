"""Originals in S3 (``s3://bucket/prefix``): Grid's key layout and upload record.

Keys are ``<prefix>/<storage_key(id)>`` (``a/b/c/d/e/f/abcdef…``), so a real Grid image bucket
can be read in place (``s3://bucket``). The upload record is S3 user metadata, exactly as
Grid's image-loader writes it (grid-model.md §2.1 step 7): ``uploaded-by``, ``upload-time``
(ISO), ``file-name`` and ``identifier!<key>``, every value URL-encoded. On read, keys with ``_``
count as ``-`` and values are URL-decoded (values that were never encoded read as they are).

An original is never overwritten: ``HeadObject`` first (cheap, and no upload when it exists),
then ``PutObject`` with ``IfNoneMatch='*'`` so that two concurrent uploads of the same bytes
cannot replace one another. The bucket must exist (it is not created here).

A projection reads an original's first window with one ranged GET (boto3: the upload record
comes with it), then the ranges its structure points at. The ranges ``RangedSource`` asks for
at once (a block and the PNG chunk headers its stride predicts, up to ``WAVE``) are GETs all in
flight together on one libcurl multi handle (``CurlPool``), from one presigned URL (SigV4, the
``Range`` header unsigned), so a wave costs one round trip, not one per range, and 0.15 ms of
client CPU a GET over kept-alive connections rather than the 3–4 ms a boto3 GET costs here (a
PNG's hundred chunk headers would take 0.3–0.4 s of CPU, under the GIL the loader needs). A
range libcurl does not bring back as asked (an error status, a throttled or refused request, a
failed transfer) is read again through boto3, which retries and maps errors as for any GET
(404: ImageNotFound), with a warning: reads that keep falling back are slow.

URL options: ``endpoint_url``, ``region`` (as for ``dynamodb://``); ``request_cost``, what a
round trip costs beyond its bytes, in bytes (default 1 MiB: see ``RangedSource``; 0 reads the
fewest bytes whatever the number of round trips).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

from botocore.exceptions import ClientError

from ..config import read
from ..curl_pool import CurlPool, Response, TransportError
from ..dates import format_iso, parse_iso
from ..errors import ConfigurationError, ImageNotFound
from ..progress.dynamodb import aws_client, error_code
from .base import OriginalsStore, StoredOriginal, UploadRecord, image_id_of, storage_key

_ID = re.compile(r"^[0-9a-f]{40}$")
IDENTIFIER_PREFIX = "identifier!"
_MISSING = {"404", "NoSuchKey", "NotFound"}
_EXISTS = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_PAST_THE_END = {"InvalidRange", "416"}
#: a GET's round trip (~20 ms in a region), in which about a megabyte would have arrived
REQUEST_COST = 1 << 20
#: how long a presigned URL for a wave of ranged GETs stays valid (it is used at once)
PRESIGNED_FOR = 600

log = logging.getLogger(__name__)


class _PastTheEnd(Exception):
    """A ranged GET that starts at or after the object's end (S3 answers 416)."""


def encode_metadata(upload: UploadRecord) -> dict[str, str]:
    """The S3 user metadata Grid's loader writes for an upload (values URL-encoded)."""
    metadata = {"uploaded-by": _encode(upload.uploaded_by)}
    if upload.upload_time is not None:
        metadata["upload-time"] = _encode(upload.upload_time)
    if upload.filename is not None:
        metadata["file-name"] = _encode(upload.filename)
    for key, value in upload.identifiers.items():
        metadata[f"{IDENTIFIER_PREFIX}{key}"] = _encode(value)
    return metadata


def decode_metadata(metadata: Mapping[str, str]) -> UploadRecord:
    """Read an upload record back from S3 user metadata, as Grid does (§4.7):
    ``_`` in keys counts as ``-``, values are URL-decoded, ``upload-time`` becomes UTC."""
    values: dict[str, str] = {}
    identifiers: dict[str, str] = {}
    for raw_key, raw_value in metadata.items():
        key = raw_key.lower().replace("_", "-")
        value = unquote(raw_value)
        if key.startswith(IDENTIFIER_PREFIX):
            identifiers[raw_key[len(IDENTIFIER_PREFIX) :]] = value
        else:
            values[key] = value
    upload_time = values.get("upload-time")
    if upload_time is not None:
        try:
            upload_time = format_iso(parse_iso(upload_time).astimezone(UTC))
        except ValueError:
            upload_time = None  # unreadable: fall back to the object's Last-Modified
    return UploadRecord(
        uploaded_by=values.get("uploaded-by") or "re-ingester",
        upload_time=upload_time,
        filename=values.get("file-name"),
        identifiers=identifiers,
    )


def _encode(value: str) -> str:
    # like Grid's writer: everything but unreserved characters percent-encoded (UTF-8), so the
    # metadata stays ASCII as S3 requires
    return quote(value, safe="*")


class S3OriginalsStore(OriginalsStore):
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigurationError(f"expected s3://BUCKET[/PREFIX], got {url!r}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.request_cost = _request_cost(parse_qs(parsed.query).get("request_cost"))
        self.client = aws_client("s3", url, signature_version="s3v4")
        # the certificates boto3 trusts too: a private CA (MinIO, a TLS-inspecting proxy) set
        # for boto3 through AWS_CA_BUNDLE would otherwise send every wave back to boto3
        ca_bundle = read("aws_ca_bundle") or None
        self._curl = CurlPool(timeout=30.0, connect_timeout=10.0, ca_bundle=ca_bundle)

    def key_of(self, image_id: str) -> str:
        return self._prefixed(storage_key(image_id))

    def _prefixed(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri_of(self, image_id: str) -> str:
        """The asset URI as Grid writes it (grid-model.md §1.2)."""
        return f"http://{self.bucket}.s3.amazonaws.com/{self.key_of(image_id)}"

    def put(self, data: bytes, upload: UploadRecord) -> tuple[str, bool]:
        image_id = image_id_of(data)
        if self.exists(image_id):
            return image_id, False
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key_of(image_id),
                Body=data,
                Metadata=encode_metadata(upload),
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error_code(error) in _EXISTS:  # stored by someone else meanwhile
                return image_id, False
            raise
        return image_id, True

    def get(self, image_id: str) -> StoredOriginal:
        return self._get(image_id, None)

    def get_ranged(self, image_id: str, window: int) -> StoredOriginal:
        return self._get(image_id, window)

    def _get(self, image_id: str, window: int | None) -> StoredOriginal:
        """The original, whole or (``window``) from its first bytes on: one GET either way,
        its size read from the ranged answer's Content-Range."""
        if window is None:
            response = self._get_object(image_id)
        else:
            try:
                response = self._get_object(image_id, Range=f"bytes=0-{window - 1}")
            except _PastTheEnd:  # an empty original has no first byte to range on
                response = self._get_object(image_id)
        with response["Body"] as body:
            head = body.read()
        size = _object_size(response)
        return StoredOriginal(
            image_id,
            head if window is None else self.ranged(image_id, head, size, window),
            self.uri_of(image_id),
            decode_metadata(response.get("Metadata") or {}),
            format_iso(response["LastModified"]),
        )

    def read_range(self, image_id: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        try:
            response = self._get_object(image_id, Range=f"bytes={start}-{end - 1}")
        except _PastTheEnd:
            return b""
        with response["Body"] as body:
            data: bytes = body.read()
        return data

    def read_ranges(self, image_id: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        """The GETs all in flight at once, through libcurl (see above)."""
        asked = [(start, end) for start, end in ranges if end > start]
        if not asked:
            return [b"" for _ in ranges]
        url = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.key_of(image_id)},
            ExpiresIn=PRESIGNED_FOR,
        )
        lines = [[f"Range: bytes={start}-{end - 1}"] for start, end in asked]
        answers = self._curl.get_all([url] * len(asked), lines).result()
        found = [_ranged_body(answer) for answer in answers]
        bodies = dict(zip(asked, found, strict=True))
        failed = [answer for answer, body in zip(answers, found, strict=True) if body is None]
        if failed:
            log.warning(
                "%d of %d ranged GETs of %s over libcurl failed (first: %s): read through boto3",
                len(failed),
                len(asked),
                image_id,
                failed[0] if isinstance(failed[0], TransportError) else failed[0].status_code,
            )
        results = []
        for span in ranges:  # an empty range, or one not read as asked: through boto3
            body = bodies.get(span)
            results.append(self.read_range(image_id, *span) if body is None else body)
        return results

    def _get_object(self, image_id: str, **options: str) -> Any:
        """GetObject; raises ImageNotFound, or _PastTheEnd for a range after the last byte."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key_of(image_id), **options)
        except ClientError as error:
            code = error_code(error)
            if code in _MISSING:
                raise ImageNotFound(f"no original stored for {image_id}") from error
            if code in _PAST_THE_END:
                raise _PastTheEnd from error
            raise

    def exists(self, image_id: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key_of(image_id))
        except ClientError as error:
            if error_code(error) in _MISSING:
                return False
            raise
        return True

    def delete(self, image_id: str) -> bool:
        """The original and Grid's optimised PNG beside it (``optimised/<key>``); S3 deletes
        are idempotent, so whether there was an original is asked first."""
        existed = self.exists(image_id)
        keys = [self.key_of(image_id), self._prefixed(f"optimised/{storage_key(image_id)}")]
        self.client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
        )
        return existed

    def close(self) -> None:
        self._curl.close()

    def ids(self) -> Iterator[str]:
        """S3 lists keys in UTF-8 binary order, and ``a/b/c/d/e/f/<id>`` keys sort as their ids."""
        start = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            for entry in page.get("Contents", []):
                name = entry["Key"].rsplit("/", 1)[-1]
                # only originals: Grid's image bucket also holds optimised/<key> PNGs
                if _ID.match(name) and entry["Key"] == self.key_of(name):
                    yield name


def _ranged_body(answer: Response | TransportError | None) -> bytes | None:
    """The bytes of a ranged GET that S3 answered as asked (206), else None."""
    if isinstance(answer, Response) and answer.status_code == 206:
        return answer.content
    return None


def _object_size(response: Mapping[str, Any]) -> int:
    """The whole object's size: after the slash of a ranged answer's Content-Range."""
    content_range = response.get("ContentRange")
    if content_range:
        return int(content_range.rsplit("/", 1)[1])
    return int(response["ContentLength"])


def _request_cost(values: list[str] | None) -> int:
    """The URL's ``request_cost`` (bytes, 0 or more), else REQUEST_COST."""
    if not values:
        return REQUEST_COST
    if not values[-1].isdigit():
        raise ConfigurationError(f"request_cost must be a number of bytes, got {values[-1]!r}")
    return int(values[-1])
