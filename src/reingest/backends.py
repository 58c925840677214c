"""Backends chosen by URL scheme, imported lazily so a missing driver only matters when used."""

from __future__ import annotations

import importlib
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from .config import Settings
from .errors import ConfigurationError
from .index.base import SearchIndex
from .originals.base import OriginalsStore
from .progress.base import ProgressTable
from .services.base import DataServices
from .streams.base import Streams

if TYPE_CHECKING:
    from .projection import ImageProjector, Projector

T = TypeVar("T")

#: component → scheme → "module:Class" (relative to this package)
REGISTRY: dict[str, dict[str, str]] = {
    "progress": {
        "sqlite": "progress.sqlite:SqliteProgressTable",
        "postgresql": "progress.postgres:PostgresProgressTable",
        "dynamodb": "progress.dynamodb:DynamoProgressTable",
    },
    "streams": {
        "sqlite": "streams.sqlite:SqliteStreams",
        "redis": "streams.redis_streams:RedisStreams",
        "kinesis": "streams.kinesis:KinesisStreams",
    },
    "index": {
        "sqlite": "index.sqlite:SqliteSearchIndex",
        "http": "index.elasticsearch:ElasticsearchIndex",
        "https": "index.elasticsearch:ElasticsearchIndex",
    },
    "originals": {
        "file": "originals.file:FileOriginalsStore",
        "s3": "originals.s3:S3OriginalsStore",
    },
    "services": {
        "sqlite": "services.local:LocalDataServices",
        "http": "services.http:HttpDataServices",
        "https": "services.http:HttpDataServices",
    },
}

#: the pip extra that brings a scheme's driver (schemes not listed need none)
EXTRAS = {
    "postgresql": "postgres",
    "redis": "redis",
    "dynamodb": "aws",
    "kinesis": "aws",
    "s3": "aws",
}


def open_backend(component: str, url: str, interface: type[T]) -> T:
    scheme = urlparse(url).scheme
    choices = REGISTRY[component]
    if scheme not in choices:
        known = ", ".join(f"{s}://" for s in choices)
        raise ConfigurationError(f"no {component} backend for {url!r}; known schemes: {known}")
    module_name, class_name = choices[scheme].split(":")
    try:
        module = importlib.import_module(f"{__package__}.{module_name}")
    except ImportError as missing:
        raise ConfigurationError(
            f"the {scheme}:// {component} backend needs {missing.name}: "
            f"pip install 'reingest[{_extra(component, scheme)}]'"
        ) from missing
    backend: Any = getattr(module, class_name)(url)
    assert isinstance(backend, interface)
    return backend


class Components:
    """The backends of one deployment, each opened from settings on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def progress(self) -> ProgressTable:
        return open_backend("progress", self.settings.progress_url, ProgressTable)

    @cached_property
    def streams(self) -> Streams:
        return open_backend("streams", self.settings.stream_url, Streams)

    @cached_property
    def index(self) -> SearchIndex:
        return open_backend("index", self.settings.index_url, SearchIndex)

    @cached_property
    def originals(self) -> OriginalsStore:
        return open_backend("originals", self.settings.originals_url, OriginalsStore)

    @cached_property
    def services(self) -> DataServices:
        return open_backend("services", self.settings.services_url, DataServices)

    @cached_property
    def projector(self) -> ImageProjector:
        """The projection batch-index uses: here (loader + data services), or over HTTP when
        ``projection_url`` is set (the original's PROJECTION_ENDPOINT), checked first (its key,
        and that it answers like the API its URL names)."""
        if self.settings.projection_url:
            from .projection_client import HttpProjector

            remote = HttpProjector(self.settings.projection_url, self.settings.projection_api_key)
            try:
                remote.verify()
            except BaseException:
                remote.close()
                raise
            return remote
        return self.local_projector

    @cached_property
    def local_projector(self) -> Projector:
        """Projection here, from the originals store and data services (what an upload or
        the projection endpoint uses, whatever ``projection_url`` says)."""
        from .projection import Projector

        settings = self.settings
        return Projector(
            self.originals, self.services, settings.processors, settings.originals_window
        )

    def close(self) -> None:
        closing = getattr(self.__dict__.pop("projector", None), "close", None)
        if closing is not None:
            closing()
        for name in ("progress", "streams", "index", "originals", "services"):
            if name in self.__dict__:
                self.__dict__.pop(name).close()

    def __enter__(self) -> Components:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _extra(component: str, scheme: str) -> str:
    if component == "index" and scheme.startswith("http"):
        return "elasticsearch"
    return EXTRAS.get(scheme, scheme)
