"""Search index on SQLite: JSON documents keyed by id, the embedded default.

Every document is checked against Grid's mapping before it is written (``mapping.py``), so the
embedded index refuses what Elasticsearch would refuse, with the same error."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from time import time
from typing import Any

import orjson

from ..errors import AliasesMoved, ConfigurationError, MappingRejection
from ..sqlite_db import SqliteDatabase, in_chunks, sqlite_path
from .base import AliasChange, SearchIndex, check_alias_name, check_index_name
from .documents import FILE_DERIVED, Document, DocumentUpdate, apply_in_order, file_digest
from .mapping import check_document
from .mirroring import Mirror, mark_migration, mirror_writes

SCHEMA = """
-- the first index (``images``), under the name every earlier version used; a rowid table, not
-- WITHOUT ROWID: documents are kilobytes, and a rowid table keeps up to a page of them inline
-- where an index-organised row spills past a quarter page into overflow
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    -- documents.file_digest of the document, kept as it is written: what the checker reads
    file_digest TEXT
);
-- the physical indices: each a table shaped like ``documents``; mapping NULL = the packaged one
CREATE TABLE IF NOT EXISTS indices (
    name TEXT PRIMARY KEY,
    table_name TEXT NOT NULL UNIQUE,
    mapping TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (alias, name)
) WITHOUT ROWID;
"""

#: the physical index of an index home made before indices were named, and its alias
FIRST_INDEX = "images"
CURRENT_ALIAS = "Images_Current"
#: json_extract's paths for the FILE_DERIVED fields (several paths: one JSON array back), for
#: rows written before the file_digest column
_FILE_DERIVED_PATHS = ", ".join(f"'$.{name}'" for name in FILE_DERIVED)
#: a filter field: a dotted path of plain names (never interpolated unchecked into SQL)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class _Physical:
    """A physical index as stored: its name, its table (quoted for SQL) and its mapping."""

    name: str
    table: str
    mapping: dict[str, Any] | None


class SqliteSearchIndex(SearchIndex):
    """``sqlite:///PATH``: every index of one home in one database file, read and written
    through ``Images_Current`` (an alias, like Grid's). Aliases and documents share
    transactions, so an alias change is atomic and a mirrored write lands in every index or in
    none."""

    def __init__(self, url: str) -> None:
        self.db = SqliteDatabase(sqlite_path(url), SCHEMA)
        self.target = CURRENT_ALIAS
        self._owner = True
        self._mappings: dict[tuple[str, float], dict[str, Any] | None] = {}
        with self.db.write() as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
            if "file_digest" not in columns:  # an index made by an earlier version gains it
                conn.execute("ALTER TABLE documents ADD COLUMN file_digest TEXT")
            if conn.execute("SELECT 1 FROM indices LIMIT 1").fetchone() is None:
                conn.execute(
                    "INSERT INTO indices VALUES (?, 'documents', NULL, ?)", (FIRST_INDEX, time())
                )
                conn.execute("INSERT INTO aliases VALUES (?, ?)", (CURRENT_ALIAS, FIRST_INDEX))

    def using(self, target: str) -> SqliteSearchIndex:
        view = copy(self)
        view.target = target
        view._owner = False
        return view

    # -- indices and aliases

    def create_index(
        self, name: str, mapping: Mapping[str, Any] | None = None, aliases: Sequence[str] = ()
    ) -> None:
        check_index_name(name)
        for alias in aliases:
            check_alias_name(alias)
        table = f"documents:{name}"
        with self.db.write() as conn:
            taken = conn.execute(
                "SELECT 1 FROM indices WHERE name = ? UNION SELECT 1 FROM aliases WHERE alias = ?",
                (name, name),
            ).fetchone()
            if taken:
                raise ConfigurationError(f"index {name!r} already exists")
            conn.execute(
                "INSERT INTO indices VALUES (?, ?, ?, ?)",
                (name, table, None if mapping is None else orjson.dumps(mapping).decode(), time()),
            )
            conn.execute(
                f"CREATE TABLE {_quoted(table)} (id TEXT PRIMARY KEY, document TEXT NOT NULL, "
                "file_digest TEXT)"
            )
            for alias in aliases:
                _add_alias(conn, alias, name)

    def delete_index(self, name: str) -> None:
        with self.db.write() as conn:
            physical = _physical(conn, name, self._mappings)
            if physical is None or physical.name != name:
                raise ConfigurationError(f"no index named {name!r}")
            conn.execute(f"DROP TABLE {physical.table}")
            conn.execute("DELETE FROM aliases WHERE name = ?", (name,))
            conn.execute("DELETE FROM indices WHERE name = ?", (name,))

    def indices(self) -> list[str]:
        with self.db.read() as conn:
            return [name for (name,) in conn.execute("SELECT name FROM indices ORDER BY name")]

    def aliases(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        with self.db.read() as conn:
            for alias, name in conn.execute("SELECT alias, name FROM aliases ORDER BY alias, name"):
                found.setdefault(alias, []).append(name)
        return found

    def change_aliases(self, changes: Sequence[AliasChange]) -> None:
        with self.db.write() as conn:  # one transaction: every change or none
            for change in changes:
                check_alias_name(change.alias)
                if change.action == "add":
                    _add_alias(conn, change.alias, change.index)
                elif not conn.execute(
                    "DELETE FROM aliases WHERE alias = ? AND name = ?", (change.alias, change.index)
                ).rowcount:
                    raise ConfigurationError(f"alias {change.alias!r} is not on {change.index!r}")

    # -- documents

    def get(self, image_id: str) -> Document | None:
        return self.get_many([image_id]).get(image_id)

    def get_many(self, ids: Sequence[str]) -> dict[str, Document]:
        with self.db.read() as conn:
            return _fetch(conn, self._table(conn), ids)

    def file_digests(self, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.db.read() as conn:
            table = self._table(conn)
            for marks, chunk in in_chunks(ids):
                for image_id, digest, values in conn.execute(
                    "SELECT id, file_digest, CASE WHEN file_digest IS NULL THEN "
                    f"json_extract(document, {_FILE_DERIVED_PATHS}) END "
                    f"FROM {table} WHERE id IN ({marks})",
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
                        f"SELECT id FROM {self._table(conn)} WHERE id > ? ORDER BY id LIMIT ?",
                        (last, batch_size),
                    )
                ]
            if not page:
                return
            yield from page
            last = page[-1]

    def apply(self, updates: Sequence[DocumentUpdate], mirrors: Sequence[Mirror] = ()) -> set[str]:
        with self.db.write() as conn:
            physical = self._physical(conn)
            before = _fetch(conn, physical.table, [u.image_id for u in updates])
            after, deleted = apply_in_order(before, updates)
            for mirror in mirrors:
                refused = self._write_mirror(conn, mirror, after, deleted)
                if mirror.marks:
                    mark_migration(after, updates, mirror.index, refused)
            # a stale or repeated message leaves its document unwritten
            changed = {
                image_id: doc
                for image_id, doc in after.items()
                if doc is not None and doc != before.get(image_id)
            }
            for doc in changed.values():
                check_document(doc, physical.mapping)  # refused as Elasticsearch would refuse it
            _write(conn, physical.table, changed, deleted & before.keys())
        return deleted

    def _write_mirror(
        self,
        conn: sqlite3.Connection,
        mirror: Mirror,
        documents: dict[str, Document | None],
        deleted: set[str],
    ) -> dict[str, str]:
        """Copy the batch's documents into ``mirror``; returns the ids it refused, with why."""
        physical = _physical(conn, mirror.index, self._mappings)
        moved = (
            mirror.alias is not None
            and not conn.execute(
                "SELECT 1 FROM aliases WHERE alias = ? AND name = ?", (mirror.alias, mirror.index)
            ).fetchone()
        )
        if physical is None or moved:
            raise AliasesMoved(f"{mirror.alias or mirror.index} no longer names {mirror.index}")
        copies, removed = mirror_writes(documents, deleted)
        refused: dict[str, str] = {}
        for image_id, copy_ in list(copies.items()):
            try:
                check_document(copy_, physical.mapping)
            except MappingRejection as rejection:
                refused[image_id] = str(rejection)
                del copies[image_id]
        _write(conn, physical.table, copies, removed)
        return refused

    def _physical(self, conn: sqlite3.Connection) -> _Physical:
        physical = _physical(conn, self.target, self._mappings)
        if physical is None:
            raise ConfigurationError(
                f"{self.target!r} names no single index in {self.db.path} "
                "(see `reingest migrate status`)"
            )
        return physical

    def _table(self, conn: sqlite3.Connection) -> str:
        return self._physical(conn).table

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {self._table(conn)}").fetchone()[0])

    def clear(self) -> int:
        with self.db.write() as conn:
            return conn.execute(f"DELETE FROM {self._table(conn)}").rowcount

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
            table = self._table(conn)
            total = int(conn.execute(f"SELECT COUNT(*) FROM {table} {where}", params).fetchone()[0])
            rows = conn.execute(
                f"SELECT document FROM {table} {where} "
                "ORDER BY json_extract(document, '$.uploadTime') DESC, id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return total, [orjson.loads(text) for (text,) in rows]

    def close(self) -> None:
        if self._owner:
            self.db.close()


def _physical(
    conn: sqlite3.Connection,
    target: str,
    mappings: dict[tuple[str, float], dict[str, Any] | None],
) -> _Physical | None:
    """The one index ``target`` names (an alias pointing at exactly one, or an index's own
    name); its parsed mapping is cached per index (a mapping never changes once created)."""
    rows = (
        conn.execute(
            "SELECT i.name, i.table_name, i.created_at FROM aliases a JOIN indices i "
            "ON i.name = a.name WHERE a.alias = ?",
            (target,),
        ).fetchall()
        or conn.execute(
            "SELECT name, table_name, created_at FROM indices WHERE name = ?", (target,)
        ).fetchall()
    )
    if len(rows) != 1:
        return None
    name, table, created_at = rows[0]
    key = (name, created_at)
    if key not in mappings:
        (text,) = conn.execute("SELECT mapping FROM indices WHERE name = ?", (name,)).fetchone()
        mappings[key] = None if text is None else orjson.loads(text)
    return _Physical(name, _quoted(table), mappings[key])


def _add_alias(conn: sqlite3.Connection, alias: str, index: str) -> None:
    """Within the caller's transaction: ``alias`` onto ``index``, which must exist."""
    if not conn.execute("SELECT 1 FROM indices WHERE name = ?", (index,)).fetchone():
        raise ConfigurationError(f"no index named {index!r}")
    if conn.execute("SELECT 1 FROM indices WHERE name = ?", (alias,)).fetchone():
        raise ConfigurationError(f"{alias!r} is an index, not an alias")
    conn.execute("INSERT OR IGNORE INTO aliases VALUES (?, ?)", (alias, index))


def _quoted(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def _fetch(conn: sqlite3.Connection, table: str, ids: Sequence[str]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for marks, chunk in in_chunks(ids):
        for image_id, text in conn.execute(
            f"SELECT id, document FROM {table} WHERE id IN ({marks})", chunk
        ):
            found[image_id] = orjson.loads(text)
    return found


def _write(
    conn: sqlite3.Connection, table: str, documents: Mapping[str, Document], deleted: Iterable[str]
) -> None:
    conn.executemany(
        f"INSERT OR REPLACE INTO {table} (id, document, file_digest) VALUES (?, ?, ?)",
        (
            (image_id, orjson.dumps(doc).decode(), file_digest(doc))
            for image_id, doc in documents.items()
        ),
    )
    for marks, chunk in in_chunks(sorted(deleted)):
        conn.execute(f"DELETE FROM {table} WHERE id IN ({marks})", chunk)
