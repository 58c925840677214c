"""Helpers shared by the HTTP-projector and Lambda tests (a plain module, not a plugin): the
sample library stored as ``tests/http``'s ``library`` fixture stores it, and that directory's
``serve_in_thread`` (uvicorn on a free 127.0.0.1 port)."""

from __future__ import annotations

import sys
from pathlib import Path

from reingest.backends import Components
from reingest.ingest import ingest_files
from reingest.originals.base import UploadRecord
from reingest.projection import Projector
from reingest.sample import SampleLibrary
from reingest.services.local import LocalDataServices

# tests/http is not a package (it would shadow the standard library's http): reach its helpers
sys.path.append(str(Path(__file__).parent / "http"))

from http_support import KEY, Library, serve_in_thread

__all__ = ["KEY", "MISSING_ID", "Library", "serve_in_thread", "store_sample"]

#: an id no original is stored under
MISSING_ID = "f" * 40


def store_sample(components: Components, sample: SampleLibrary) -> Library:
    """Good files ingested, broken ones put straight into the store (KnownError material),
    service data loaded for a third of them."""
    services = components.services
    assert isinstance(services, LocalDataServices)
    services.load(sample.services.items())
    projector = Projector(components.originals, services)
    report = ingest_files(sample.good, components.originals, projector, components.streams, "t")
    broken = [
        components.originals.put(path.read_bytes(), UploadRecord(filename=path.name))[0]
        for path in sample.broken
    ]
    return Library(report.stored, broken, sorted(sample.services), sample)
