"""``HttpDataServices`` against our own server over real HTTP (uvicorn in a thread), and its
status handling and retries against small misbehaving servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from http_support import KEY, Library, serve_in_thread

from reingest.backends import Components, open_backend
from reingest.errors import DownstreamError
from reingest.projection import Projector
from reingest.services.base import DataServices
from reingest.services.http import DownstreamApiError, HttpDataServices

ID = "0" * 40
FAST: dict[str, Any] = {
    "attempts": 3,
    "backoff_seconds": 0.01,
    "max_backoff_seconds": 0.05,
    "timeout": 5.0,
}


@pytest.fixture
def remote(server_url: str) -> Iterator[HttpDataServices]:
    services = HttpDataServices(server_url + "/services", KEY, **FAST)
    yield services
    services.close()


def test_the_projection_over_http_equals_the_local_one(
    components: Components, library: Library, remote: HttpDataServices
) -> None:
    local = Projector(components.originals, components.services)
    over_http = Projector(components.originals, remote)
    for image_id in library.good:
        assert remote.fetch(image_id) == components.services.fetch(image_id)
        assert over_http.project(image_id).to_json() == local.project(image_id).to_json()
    assert remote.fetch(ID) == components.services.fetch(ID)  # all 404 → empty


def test_the_registry_opens_http_urls_with_the_key_from_the_environment(
    server_url: str, library: Library, components: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REINGEST_SERVICES_API_KEY", KEY)
    services = open_backend("services", server_url + "/services/", DataServices)
    assert isinstance(services, HttpDataServices)
    image_id = library.with_services[0]
    assert services.fetch(image_id) == components.services.fetch(image_id)
    services.close()


def test_a_wrong_key_is_a_downstream_error(server_url: str, library: Library) -> None:
    services = HttpDataServices(server_url + "/services", "wrong", **FAST)
    with pytest.raises(DownstreamApiError, match="answered 401"):
        services.fetch(library.good[0])
    services.close()


def flaky_app(failures: int, status: int, body: dict[str, object] | None = None) -> FastAPI:
    """Every endpoint fails ``failures`` times with ``status``, then answers as Grid does."""
    app = FastAPI()
    calls: dict[str, int] = {}
    app.state.calls = calls

    @app.get("/{path:path}")
    def anything(path: str) -> JSONResponse:
        calls[path] = calls.get(path, 0) + 1
        if calls[path] <= failures:
            return JSONResponse(body or {"message": "unwell"}, status_code=status)
        if path.startswith("leases/"):
            return JSONResponse({"data": {"leases": [], "lastModified": None}})
        return JSONResponse({"errorKey": "not-found"}, status_code=404)

    return app


def test_transient_statuses_are_retried_then_succeed() -> None:
    app = flaky_app(failures=2, status=503)
    with serve_in_thread(app) as url:
        services = HttpDataServices(url, **FAST)
        assert services.fetch(ID).usages == []
        services.close()
    assert set(app.state.calls.values()) == {3}
    assert len(app.state.calls) == 7


def test_transient_statuses_that_persist_become_downstream_errors() -> None:
    app = flaky_app(failures=99, status=502)
    with serve_in_thread(app) as url:
        services = HttpDataServices(url, **FAST)
        with pytest.raises(DownstreamError, match="502 after 3 attempts"):
            services.fetch(ID)
        services.close()
    assert max(app.state.calls.values()) == 3


def test_other_statuses_fail_at_once_with_grids_message() -> None:
    body = {"message": {"errorMessage": "ES is down", "downstreamErrorMessage": "timeout"}}
    app = flaky_app(failures=99, status=500, body=body)
    with serve_in_thread(app) as url:
        services = HttpDataServices(url, **FAST)
        with pytest.raises(DownstreamApiError) as raised:
            services.fetch(ID)
        services.close()
    assert "ES is down" in raised.value.error_message
    assert raised.value.downstream_error_message == "timeout"
    assert max(app.state.calls.values()) == 1  # not retried


def test_connection_errors_are_retried_with_backoff_then_raise() -> None:
    with serve_in_thread(FastAPI()) as url:
        pass  # the port is free again: nothing listens there
    services = HttpDataServices(url, **FAST)
    started = time.monotonic()
    with pytest.raises(DownstreamError, match=r"failed after 3 attempts.*ConnectError"):
        services.fetch(ID)
    assert time.monotonic() - started < 5
    services.close()


def test_per_service_bases_reach_a_grid_spread_over_hosts(
    server_url: str, components: Components, library: Library
) -> None:
    """A real Grid has one host per service: each base is ``<host>`` without our prefix."""
    bases = {
        name: f"{server_url}/services/{name}"
        for name in ("usage", "collections", "leases", "cropper", "metadata", "api")
    }
    services = HttpDataServices("http://unused.invalid", KEY, bases=bases, **FAST)
    image_id = library.with_services[0]
    assert services.fetch(image_id) == components.services.fetch(image_id)
    services.close()
    grid = HttpDataServices.for_domain_root("media.example.org", KEY)
    assert grid.bases["usage"] == "https://media-usage.media.example.org"
    grid.close()
