"""Fixtures of the HTTP face: a small sample library, the app in-process (TestClient), and the
app served over real HTTP by uvicorn in a thread on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from http_support import KEY, OTHER_KEY, Library, serve_in_thread

from reingest.backends import Components
from reingest.http import create_app
from reingest.quickstart import store_sample_library
from reingest.sample import SampleLibrary, generate_sample_library


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleLibrary:
    return generate_sample_library(tmp_path_factory.mktemp("sample"), count=9)


@pytest.fixture
def library(components: Components, sample: SampleLibrary) -> Library:
    """The sample stored as quickstart stores it: good files ingested, broken ones put straight
    into the store, service data loaded for a third of them."""
    good, broken = store_sample_library(components, sample)
    return Library(good, broken, sorted(sample.services), sample)


@pytest.fixture
def app(components: Components) -> FastAPI:
    return create_app(components, api_keys=[KEY, OTHER_KEY], sample_seconds=0.2)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def server_url(app: FastAPI) -> Iterator[str]:
    with serve_in_thread(app) as url:
        yield url
