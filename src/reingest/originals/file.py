"""Originals in a local folder (``file:///path``): Grid's key layout, upload record beside it."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from ..dates import from_epoch
from ..errors import ConfigurationError, ImageNotFound
from .base import OriginalsStore, StoredOriginal, UploadRecord, image_id_of, storage_key

_ID_FILE = re.compile(r"^[0-9a-f]{40}$")


def file_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme != "file" or not parsed.path:
        raise ConfigurationError(f"expected file:///PATH, got {url!r}")
    return Path(unquote(parsed.path))


class FileOriginalsStore(OriginalsStore):
    def __init__(self, url: str) -> None:
        self.root = file_path(url)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, image_id: str) -> Path:
        return self.root / storage_key(image_id)

    def put(self, data: bytes, upload: UploadRecord) -> tuple[str, bool]:
        image_id = image_id_of(data)
        path = self.path_of(image_id)
        if path.exists():
            return image_id, False
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path.with_suffix(".json"), json.dumps(asdict(upload)).encode())
        _write_atomically(path, data)
        return image_id, True

    def get(self, image_id: str) -> StoredOriginal:
        return self._get(image_id, None)

    def get_ranged(self, image_id: str, window: int) -> StoredOriginal:
        return self._get(image_id, window)

    def _get(self, image_id: str, window: int | None) -> StoredOriginal:
        """The original, whole or (``window``) from its first bytes on."""
        path = self.path_of(image_id)
        with self._open(image_id) as handle:
            stat = os.fstat(handle.fileno())
            head = handle.read() if window is None else handle.read(window)
        try:
            upload = UploadRecord(**json.loads(path.with_suffix(".json").read_text()))
        except FileNotFoundError:
            upload = UploadRecord()
        data = head if window is None else self.ranged(image_id, head, stat.st_size, window)
        return StoredOriginal(image_id, data, path.as_uri(), upload, from_epoch(stat.st_mtime))

    def read_range(self, image_id: str, start: int, end: int) -> bytes:
        return self.read_ranges(image_id, [(start, end)])[0]

    def read_ranges(self, image_id: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        """One open for them all: a wave of a PNG's chunk headers is a hundred reads."""
        with self._open(image_id) as handle:
            return [os.pread(handle.fileno(), max(0, end - start), start) for start, end in ranges]

    def _open(self, image_id: str) -> BinaryIO:
        try:
            return self.path_of(image_id).open("rb")
        except (FileNotFoundError, NotADirectoryError) as missing:
            raise ImageNotFound(f"no original stored for {image_id}") from missing

    def exists(self, image_id: str) -> bool:
        return self.path_of(image_id).is_file()

    def thumbnail_path(self, image_id: str) -> Path:
        path = self.path_of(image_id)
        return path.with_name(f"{path.name}.thumb.jpg")

    def thumbnail_uri(self, image_id: str) -> str:
        return self.thumbnail_path(image_id).as_uri()

    def get_thumbnail(self, image_id: str) -> bytes | None:
        try:
            return self.thumbnail_path(image_id).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def put_thumbnail(self, image_id: str, data: bytes) -> None:
        path = self.thumbnail_path(image_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)

    def delete(self, image_id: str) -> bool:
        path = self.path_of(image_id)
        for beside in (path.with_suffix(".json"), self.thumbnail_path(image_id)):
            beside.unlink(missing_ok=True)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def ids(self) -> Iterator[str]:
        """In lexicographic order (the audit merges this with the index's ids): folders are
        walked sorted, and with Grid's layout (one folder per leading character) that is the
        ids' own order; a file named like an id outside its key's folder is not an original."""
        root = str(self.root)
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                if _ID_FILE.match(name) and folder == os.path.join(root, *name[:6]):
                    yield name


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file and rename, so a crash never leaves half an original."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
