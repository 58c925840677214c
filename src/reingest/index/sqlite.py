"""Search index on SQLite: JSON documents keyed by id, the embedded default.

Every document is checked against Grid's mapping before it is written (``mapping.py``), so the
embedded index refuses what Elasticsearch would refuse, with the same error."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence

import orjson

from ..sqlite_db import SqliteDatabase, in_chunks, sqlite_path
from .base import SearchIndex
from .documents import FILE_DERIVED, Document, DocumentUpdate, apply_in_order, file_digest
from .mapping import check_document

SCHEMA = """
-- a rowid table, not WITHOUT ROWID: documents are kilobytes, and a rowid table keeps up to a
-- page of them inline where an index-organised row spills past a quarter page into overflow
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    -- documents.file_digest of the document, kept as it is written: what the checker reads
    file_digest TEXT
);
"""

#: json_extract's paths for the FILE_DERIVED fields (several paths: one JSON array back), for
#: rows written before the file_digest column
_FILE_DERIVED_PATHS = ", ".join(f"'$.{name}'" for name in FILE_DERIVED)
#: a filter field: a dotted path of plain names (never interpolated unchecked into SQL)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class SqliteSearchIndex(SearchIndex):
    def __init__(self, url: str) -> None:
        self.db = SqliteDatabase(sqlite_path(url), SCHEMA)
        with self.db.write() as conn:  # an index made by an earlier version gains the column
            columns = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
            if "file_digest" not in columns:
                conn.execute("ALTER TABLE documents ADD COLUMN file_digest TEXT")

    def get(self, image_id: str) -> Document | None:
        return self.get_many([image_id]).get(image_id)

    def get_many(self, ids: Sequence[str]) -> dict[str, Document]:
        with self.db.read() as conn:
            return _fetch(conn, ids)

    def file_digests(self, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.db.read() as conn:
            for marks, chunk in in_chunks(ids):
                for image_id, digest, values in conn.execute(
                    "SELECT id, file_digest, CASE WHEN file_digest IS NULL THEN "
                    f"json_extract(document, {_FILE_DERIVED_PATHS}) END "
                    f"FROM documents WHERE id IN ({marks})",
                    chunk,
                ):
                    found[image_id] = digest or file_digest(
                        dict(zip(FILE_DERIVED, orjson.loads(values), strict=True))
                    )
        return found

    def ids(self, batch_size: int = 10_000) -> Iterator[str]:
        last = ""
        while True:
            with self.db.read() as conn:  # one short read per page: writers are never held up
                page = [
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM documents WHERE id > ? ORDER BY id LIMIT ?",
                        (last, batch_size),
                    )
                ]
            if not page:
                return
            yield from page
            last = page[-1]

    def apply(self, updates: Sequence[DocumentUpdate]) -> set[str]:
        with self.db.write() as conn:
            before = _fetch(conn, [u.image_id for u in updates])
            after, deleted = apply_in_order(before, updates)
            # a stale or repeated message leaves its document unwritten
            changed = {
                image_id: doc
                for image_id, doc in after.items()
                if doc is not None and doc != before.get(image_id)
            }
            for doc in changed.values():
                check_document(doc)  # refused as Elasticsearch would refuse it
            conn.executemany(
                "INSERT OR REPLACE INTO documents (id, document, file_digest) VALUES (?, ?, ?)",
                (
                    (image_id, orjson.dumps(doc).decode(), file_digest(doc))
                    for image_id, doc in changed.items()
                ),
            )
            for marks, chunk in in_chunks(sorted(deleted & before.keys())):
                conn.execute(f"DELETE FROM documents WHERE id IN ({marks})", chunk)
        return deleted

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def clear(self) -> int:
        with self.db.write() as conn:
            return conn.execute("DELETE FROM documents").rowcount

    def search(
        self, text: str | None, filters: Mapping[str, str], limit: int, offset: int
    ) -> tuple[int, list[Document]]:
        """A LIKE per word over the JSON text (case-insensitive for ASCII), json_extract per
        filter: enough for the embedded index; a real deployment searches Elasticsearch."""
        clauses: list[str] = []
        params: list[str | int] = []
        for word in (text or "").split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("document LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        for field, value in filters.items():
            if not _FIELD.match(field):
                raise ValueError(f"not a field name: {field!r}")
            clauses.append("json_extract(document, ?) = ?")
            params += [f"$.{field}", value]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.db.read() as conn:
            total = int(
                conn.execute(f"SELECT COUNT(*) FROM documents {where}", params).fetchone()[0]
            )
            rows = conn.execute(
                f"SELECT document FROM documents {where} "
                "ORDER BY json_extract(document, '$.uploadTime') DESC, id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return total, [orjson.loads(text) for (text,) in rows]

    def close(self) -> None:
        self.db.close()


def _fetch(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for marks, chunk in in_chunks(ids):
        for image_id, text in conn.execute(
            f"SELECT id, document FROM documents WHERE id IN ({marks})", chunk
        ):
            found[image_id] = orjson.loads(text)
    return found
