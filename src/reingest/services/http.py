"""Data services over HTTP (``http://`` / ``https://``): a client of Grid's data-service
endpoints, so the projection can merge what a real Grid (or ``reingest serve``) knows.

The URL is a base under which each Grid service lives at its own prefix::

    {base}/usage/usages/media/{id}                     usages      (Argo entities, unwrapped)
    {base}/collections/images/{id}                     collections
    {base}/leases/leases/media/{id}                    leases
    {base}/cropper/crops/{id}                          crops
    {base}/metadata/edits/{id}                         edits
    {base}/metadata/metadata/{id}/syndication          syndication
    {base}/api/images/{id}/softDeletedMetadata         soft-delete status

``reingest serve`` mounts them under ``/services``; for a real Grid, whose services live on
separate hosts, pass ``bases`` (or use ``for_domain_root``). Status handling follows Grid's
``GridClient`` (grid-model.md §3.1): 200 → data, 404 → nothing, anything else → DownstreamError.
Connection errors, timeouts and 502/503/504 are retried with capped, jittered exponential backoff.
The API key (header ``X-Gu-Media-Key``) is given, or read from ``REINGEST_SERVICES_API_KEY`` /
``API_KEY`` when the backend is opened from a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from ..config import read
from ..errors import DownstreamError
from .base import DataServices, ImageData

API_KEY_HEADER = "X-Gu-Media-Key"
TRANSIENT_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class GridEndpoint:
    """Where one kind of service data lives: the Grid service and the path below its base."""

    service: str
    path: str
    #: usages come as Argo entities ``{uri, data}`` whose inner ``data`` is the value
    entities: bool = False


#: ImageData field → endpoint; ``reingest serve`` mounts its routes from this same table
GRID_ENDPOINTS: dict[str, GridEndpoint] = {
    "usages": GridEndpoint("usage", "/usages/media/{id}", entities=True),
    "collections": GridEndpoint("collections", "/images/{id}"),
    "leases": GridEndpoint("leases", "/leases/media/{id}"),
    "crops": GridEndpoint("cropper", "/crops/{id}"),
    "edits": GridEndpoint("metadata", "/edits/{id}"),
    "syndication": GridEndpoint("metadata", "/metadata/{id}/syndication"),
    "status": GridEndpoint("api", "/images/{id}/softDeletedMetadata"),
}

#: Grid service → host prefix of the Guardian's deployment (``lib/config/Services.scala``)
GRID_HOST_PREFIXES = {
    "usage": "media-usage.",
    "collections": "media-collections.",
    "leases": "media-leases.",
    "cropper": "cropper.media.",
    "metadata": "media-metadata.",
    "api": "api.media.",
}


class DownstreamApiError(DownstreamError):
    """A service answered with a status other than 200/404 (Grid's
    ``DownstreamApiInBadStateException``): what it said, and what its own downstream said."""

    def __init__(self, error_message: str, downstream_error_message: str) -> None:
        super().__init__(f"{error_message} ({downstream_error_message})")
        self.error_message = error_message
        self.downstream_error_message = downstream_error_message


class _Transient(Exception):
    """A response worth retrying (502/503/504)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code}")
        self.response = response


class HttpDataServices(DataServices):
    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        bases: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        key = api_key or read("services_api_key", environ)
        root = url.rstrip("/")
        self.bases = {service: f"{root}/{service}" for service in GRID_HOST_PREFIXES}
        self.bases.update({name: base.rstrip("/") for name, base in (bases or {}).items()})
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.client = httpx.Client(
            headers={API_KEY_HEADER: key} if key else {},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )
        # Grid starts every call of one merge in parallel; so do we.
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="grid-services")

    @classmethod
    def for_domain_root(cls, domain_root: str, api_key: str, **options: Any) -> HttpDataServices:
        """A real Grid's services, each on its own host (``https://media-usage.<root>`` …)."""
        bases = {
            name: f"https://{prefix}{domain_root}" for name, prefix in GRID_HOST_PREFIXES.items()
        }
        return cls(f"https://{domain_root}", api_key, bases=bases, **options)

    def fetch(self, image_id: str) -> ImageData:
        futures = {
            name: self._pool.submit(self._get, endpoint, image_id)
            for name, endpoint in GRID_ENDPOINTS.items()
        }
        return ImageData.from_json({name: future.result() for name, future in futures.items()})

    def _get(self, endpoint: GridEndpoint, image_id: str) -> Any:
        """The ``data`` of one endpoint (unwrapped), or None when the service says 404."""
        url = self.bases[endpoint.service] + endpoint.path.format(id=image_id)
        response = self._request(url)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _bad_state(url, response)
        try:
            data = response.json()["data"]
        except (ValueError, KeyError, TypeError) as error:
            raise DownstreamApiError(
                f"GET {url}: not an Argo response", f"{type(error).__name__}: {error}"
            ) from error
        if endpoint.entities and isinstance(data, list):
            return [entity.get("data") if isinstance(entity, dict) else entity for entity in data]
        return data

    def _request(self, url: str) -> httpx.Response:
        """GET with retries on transient failures; raises DownstreamError once they run out."""
        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, httpx.TransportError | _Transient)),
            wait=wait_random_exponential(
                multiplier=self.backoff_seconds, max=self.max_backoff_seconds
            ),
            stop=stop_after_attempt(self.attempts),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self.client.get(url)
                    if response.status_code in TRANSIENT_STATUSES:
                        raise _Transient(response)
                    return response
        except _Transient as failed:
            raise _bad_state(url, failed.response, self.attempts) from None
        except httpx.TransportError as error:
            raise DownstreamApiError(
                f"GET {url} failed after {self.attempts} attempts",
                f"{type(error).__name__}: {error}",
            ) from error
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def _bad_state(url: str, response: httpx.Response, attempts: int = 1) -> DownstreamApiError:
    """Grid's error body ``{message: {errorMessage, downstreamErrorMessage}}``, else the text."""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    error_message = f"GET {url} answered {response.status_code}{tries}"
    downstream = response.text[:500]
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    if isinstance(message, dict):
        error_message = f"{error_message}: {message.get('errorMessage', '')}".rstrip(": ")
        downstream = str(message.get("downstreamErrorMessage", downstream))
    elif isinstance(message, str):
        downstream = message
    return DownstreamApiError(error_message, downstream)
