"""Helpers and fixtures shared by the HTTP-projector and Lambda tests (load it with
``pytest_plugins = ["projection_support"]``): the
sample library stored as ``tests/http``'s ``library`` fixture stores it, and that directory's
``serve_in_thread`` (uvicorn on a free 127.0.0.1 port)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reingest.backends import Components
from reingest.quickstart import store_sample_library
from reingest.sample import SampleLibrary, generate_sample_library

# tests/http is not a package (it would shadow the standard library's http): reach its helpers
sys.path.append(str(Path(__file__).parent / "http"))

from http_support import KEY, Library, serve_in_thread

__all__ = ["KEY", "MISSING_ID", "Library", "serve_in_thread", "store_sample"]

#: an id no original is stored under
MISSING_ID = "f" * 40


def store_sample(components: Components, sample: SampleLibrary) -> Library:
    """The sample stored as quickstart stores it (good ingested, broken straight into the
    store, service data loaded)."""
    good, broken = store_sample_library(components, sample)
    return Library(good, broken, sorted(sample.services), sample)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleLibrary:
    return generate_sample_library(tmp_path_factory.mktemp("sample"), count=6)


@pytest.fixture
def library(components: Components, sample: SampleLibrary) -> Library:
    return store_sample(components, sample)
