"""Data services kept locally in SQLite (``sqlite:///path``): the embedded default."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..sqlite_db import SqliteDatabase, sqlite_path
from .base import DataServices, ImageData

SCHEMA = """
CREATE TABLE IF NOT EXISTS service_data (
    image_id TEXT NOT NULL,
    service TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (image_id, service)
);  -- rowid table: service JSON stays inline instead of spilling into overflow pages
"""


class LocalDataServices(DataServices):
    def __init__(self, url: str) -> None:
        self.db = SqliteDatabase(sqlite_path(url), SCHEMA)

    def fetch(self, image_id: str) -> ImageData:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT service, data FROM service_data WHERE image_id = ?", (image_id,)
            ).fetchall()
        return ImageData.from_json({service: json.loads(data) for service, data in rows})

    def load(self, records: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Store service data per image (validated first); a service given again replaces
        what was there. Returns how many images were loaded."""
        loaded = 0
        with self.db.write() as conn:
            for image_id, services in records:
                ImageData.from_json(services)
                conn.executemany(
                    "INSERT OR REPLACE INTO service_data VALUES (?, ?, ?)",
                    ((image_id, name, json.dumps(value)) for name, value in services.items()),
                )
                loaded += 1
        return loaded

    def close(self) -> None:
        self.db.close()
