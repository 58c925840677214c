"""Ingest: load originals into the library, as an upload does (store, project, publish)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .dates import now_iso
from .errors import LoaderError
from .loader import read_file
from .loader.thumbnail import make_thumbnail
from .messages import image_payload
from .originals.base import OriginalsStore, UploadRecord
from .projection import Projector
from .streams.base import Priority, Streams

UPLOAD_SUBJECT = "image"


@dataclass
class IngestReport:
    stored: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)
    #: (file, readable reason) of every file that was not ingested
    failed: list[tuple[Path, str]] = field(default_factory=list)
    #: what stopped each of them, in the same order (the HTTP face answers by its kind)
    errors: list[Exception] = field(default_factory=list)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named directly, and every file below named folders (sorted, hidden ones skipped)."""
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(folder) / name
        else:
            yield path


def ingest_files(
    files: Iterable[Path],
    originals: OriginalsStore,
    projector: Projector,
    streams: Streams,
    uploaded_by: str,
    on_file: Callable[[Path, str | None], None] | None = None,
) -> IngestReport:
    """Store each readable file and publish its image on the high-priority stream. A file that
    fails costs only itself: the loader's refusal or the error is its reason, an original it
    had just stored is removed again, and the rest carry on."""
    report = IngestReport()
    for path in files:
        problem: str | None = None
        try:
            stored = _ingest_file(path, originals, projector, streams, uploaded_by)
        except Exception as error:
            problem = _reason(error)
            report.failed.append((path, problem))
            report.errors.append(error)
        else:
            image_id, new = stored
            (report.stored if new else report.already_stored).append(image_id)
        if on_file:
            on_file(path, problem)
    return report


def _ingest_file(
    path: Path,
    originals: OriginalsStore,
    projector: Projector,
    streams: Streams,
    uploaded_by: str,
) -> tuple[str, bool]:
    data = path.read_bytes()
    read_file(data, path.name)  # refused before anything is stored
    thumbnail = make_thumbnail(data)
    upload = UploadRecord(uploaded_by=uploaded_by, upload_time=now_iso(), filename=path.name)
    image_id, new = originals.put(data, upload)
    try:
        if new:  # Grid makes the thumbnail on upload; the projection then reuses it
            originals.put_thumbnail(image_id, thumbnail)
        image = projector.project(image_id)
        streams.publish(Priority.HIGH, [image_payload(UPLOAD_SUBJECT, image)])
    except BaseException:
        if new:  # an upload that failed leaves nothing behind
            originals.delete(image_id)
        raise
    return image_id, new


def _reason(error: Exception) -> str:
    """What a person reads: the loader's own words, the system's for a file that cannot be
    read, else the error's type and message."""
    if isinstance(error, LoaderError):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}"
