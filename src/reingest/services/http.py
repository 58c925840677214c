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

An image's seven GETs go out at once on a shared ``CurlPool`` (libcurl: many requests in flight,
connections kept alive), every request with a total deadline (``timeout``). ``prefetch`` starts
them for images batch-index will project soon (``concurrency.ReadAhead``); their latency is
noted for its read-ahead depth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_random_exponential

from ..concurrency import ReadAhead, note_latency
from ..config import read
from ..curl_pool import Answers, CurlPool, Response, TransportError
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
        self.pool = CurlPool(
            {API_KEY_HEADER: key} if key else {},
            timeout=timeout,
            connect_timeout=min(timeout, 10.0),
        )
        self.ahead = ReadAhead(lambda image_id: self.pool.get_all(self._urls(image_id)))

    @classmethod
    def for_domain_root(cls, domain_root: str, api_key: str, **options: Any) -> HttpDataServices:
        """A real Grid's services, each on its own host (``https://media-usage.<root>`` …)."""
        bases = {
            name: f"https://{prefix}{domain_root}" for name, prefix in GRID_HOST_PREFIXES.items()
        }
        return cls(f"https://{domain_root}", api_key, bases=bases, **options)

    def prefetch(self, image_ids: Sequence[str]) -> None:
        self.ahead.prefetch(image_ids)

    def fetch(self, image_id: str) -> ImageData:
        urls = self._urls(image_id)
        answers = self._answers(urls, self.ahead.take(image_id))
        return ImageData.from_json(
            {
                name: _data(endpoint, url, answer, self.attempts)
                for (name, endpoint), url, answer in zip(
                    GRID_ENDPOINTS.items(), urls, answers, strict=True
                )
            }
        )

    def _urls(self, image_id: str) -> list[str]:
        return [
            self.bases[endpoint.service] + endpoint.path.format(id=image_id)
            for endpoint in GRID_ENDPOINTS.values()
        ]

    def _answers(self, urls: Sequence[str], first: Future[Answers]) -> Answers:
        """Every URL's answer, the first round's being ``first`` (Grid starts every call of
        one merge in parallel; so do we). Transient failures are asked again together, with
        backoff, until ``attempts`` rounds; what still fails then is returned as it failed."""
        answers = first.result()
        note_latency(max(answer.seconds for answer in answers))
        if not any(map(_transient, answers)):
            return answers
        replayed = False

        def ask_again() -> bool:
            """Another round over the transient failures (tenacity's first call replays the
            round above, so that it waits before the second); True if some still fail."""
            nonlocal replayed
            if replayed:
                again = [i for i, answer in enumerate(answers) if _transient(answer)]
                fresh = self.pool.get_all([urls[i] for i in again]).result()
                for i, answer in zip(again, fresh, strict=True):
                    answers[i] = answer
            replayed = True
            return any(map(_transient, answers))

        Retrying(
            retry=retry_if_result(bool),
            wait=wait_random_exponential(
                multiplier=self.backoff_seconds, max=self.max_backoff_seconds
            ),
            stop=stop_after_attempt(self.attempts),
            retry_error_callback=lambda _state: True,
        )(ask_again)
        return answers

    def close(self) -> None:
        self.pool.close()


def _transient(answer: Response | TransportError) -> bool:
    """Worth asking again: no answer at all (refused, reset, timed out), or 502/503/504."""
    return isinstance(answer, TransportError) or answer.status_code in TRANSIENT_STATUSES


def _data(
    endpoint: GridEndpoint, url: str, answer: Response | TransportError, attempts: int
) -> Any:
    """The ``data`` of one endpoint's answer (unwrapped), None when the service says 404;
    DownstreamApiError for anything else."""
    if isinstance(answer, TransportError):
        raise DownstreamApiError(
            f"GET {url} failed after {attempts} attempts", f"TransportError: {answer}"
        )
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        retried = attempts if answer.status_code in TRANSIENT_STATUSES else 1
        raise _bad_state(url, answer, retried)
    try:
        data = answer.json()["data"]
    except (ValueError, KeyError, TypeError) as error:
        raise DownstreamApiError(
            f"GET {url}: not an Argo response", f"{type(error).__name__}: {error}"
        ) from error
    if endpoint.entities and isinstance(data, list):
        return [entity.get("data") if isinstance(entity, dict) else entity for entity in data]
    return data


def _bad_state(url: str, response: Response, attempts: int = 1) -> DownstreamApiError:
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
