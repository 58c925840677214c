"""Search index on SQLite: JSON documents keyed by id, the embedded default."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from ..batching import chunked
from ..sqlite_db import SqliteDatabase, sqlite_path
from .base import ImageUpdate, SearchIndex
from .documents import Document, apply_image

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    last_modified TEXT
) WITHOUT ROWID;
"""

CHUNK = 500


class SqliteSearchIndex(SearchIndex):
    def __init__(self, url: str) -> None:
        self.db = SqliteDatabase(sqlite_path(url), SCHEMA)

    def get(self, image_id: str) -> Document | None:
        return self.get_many([image_id]).get(image_id)

    def get_many(self, ids: Sequence[str]) -> dict[str, Document]:
        with self.db.read() as conn:
            return _fetch(conn, ids)

    def apply_images(self, updates: Sequence[ImageUpdate]) -> None:
        with self.db.write() as conn:
            current = _fetch(conn, [u.image["id"] for u in updates])
            for update in updates:
                image_id = update.image["id"]
                current[image_id] = apply_image(
                    current.get(image_id), update.image, update.last_modified
                )
            conn.executemany(
                "INSERT OR REPLACE INTO documents (id, document, last_modified) VALUES (?, ?, ?)",
                (
                    (image_id, json.dumps(doc, ensure_ascii=False), doc.get("lastModified"))
                    for image_id, doc in current.items()
                ),
            )

    def delete(self, image_id: str) -> bool:
        with self.db.write() as conn:
            return conn.execute("DELETE FROM documents WHERE id = ?", (image_id,)).rowcount > 0

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def clear(self) -> int:
        with self.db.write() as conn:
            return conn.execute("DELETE FROM documents").rowcount

    def close(self) -> None:
        self.db.close()


def _fetch(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for chunk in chunked(ids, CHUNK):
        marks = ",".join("?" * len(chunk))
        for image_id, text in conn.execute(
            f"SELECT id, document FROM documents WHERE id IN ({marks})", chunk
        ):
            found[image_id] = json.loads(text)
    return found
