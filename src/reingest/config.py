"""Settings, read once from the environment and passed explicitly (no import-time globals).

Each knob takes ``REINGEST_<NAME>`` first, then the original Grid Lambda's name where it had one
(``BATCH_SIZE``, ``MAX_SIZE``, ``START_STATE``, ``CHECKER_START_STATE``, ``LATENCY_THRESHOLD``,
``PROJECTION_ENDPOINT``, ``API_KEY``, ``IMAGES_TO_INDEX_DYNAMO_TABLE``, ``KINESIS_STREAM``), so
the Lambda handlers run on the original's environment unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError
from .loader.processors import DEFAULT_PROCESSORS, chain
from .states import State

#: the deprecated REINGEST_CLEANERS values → the processor chain each stands for
_CLEANERS_AS_PROCESSORS = {"none": "none", "guardian": "guardian-cleaners"}


def processors_for_cleaners(name: str) -> str:
    """The chain the deprecated cleaners setting names (``guardian`` is the cleaners alone)."""
    try:
        return _CLEANERS_AS_PROCESSORS[name]
    except KeyError:
        raise ConfigurationError(
            f"CLEANERS (deprecated: use PROCESSORS) must be one of "
            f"{', '.join(_CLEANERS_AS_PROCESSORS)}, got {name!r}"
        ) from None


def _processors(env: Mapping[str, str]) -> str:
    """REINGEST_PROCESSORS, else the deprecated REINGEST_CLEANERS, else Grid's default."""
    if env.get("REINGEST_PROCESSORS"):
        setting = env["REINGEST_PROCESSORS"]
    elif env.get("REINGEST_CLEANERS"):
        setting = processors_for_cleaners(env["REINGEST_CLEANERS"])
    else:
        return DEFAULT_PROCESSORS
    try:
        chain(setting)
    except ConfigurationError as error:
        raise ConfigurationError(f"PROCESSORS: {error}") from None
    return setting


@dataclass(frozen=True)
class Settings:
    home: Path
    progress_url: str
    stream_url: str
    index_url: str
    originals_url: str
    services_url: str
    #: ids claimed per batch-index / batch-check run
    batch_size: int = 100
    #: largest projection (bytes of the message) posted on the stream; larger → TooBig
    max_size: int = 1_000_000
    start_state: State = State.NotStarted
    checker_start_state: State = State.Enqueued
    #: skip an index run while the low stream's oldest message is older than this (ms)
    latency_threshold_ms: int = 60_000
    #: how long a claim (of an id or a message) lives before another worker may take it
    lease_seconds: float = 300.0
    #: claims an id may go through before it is put down as UnknownError
    max_attempts: int = 5
    #: projections made in parallel per batch (the original made 5)
    projection_parallelism: int = 5
    #: tries of a projection that fails transiently (timeouts, 5xx) before it is an UnknownError
    projection_tries: int = 4
    #: the longest wait between two tries (backoff doubles from 0.1 s, with jitter, up to this)
    projection_backoff_cap_seconds: float = 5.0
    #: append every claim to this file (an audit trail; see claim_log.py)
    claim_log: Path | None = None
    #: keys accepted by ``reingest serve`` (``REINGEST_API_KEYS``, comma-separated, or ``API_KEY``)
    api_keys: tuple[str, ...] = ()
    #: largest body ``POST /images`` (or an id list) may have, in bytes; larger → 413
    max_upload_bytes: int = 50_000_000
    #: image processors the projection runs, comma-separated: Grid's default
    #: ``guardian-cleaners,suppliers``, or ``none`` (the converter's output, as expected.json
    #: records it)
    processors: str = DEFAULT_PROCESSORS
    #: project over HTTP (``{url}/images/projection/{id}``) instead of reading originals here
    projection_url: str | None = None
    #: the ``X-Gu-Media-Key`` sent to ``projection_url``
    projection_api_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("REINGEST_HOME", ".reingest")).absolute()

        def url(name: str, default: str) -> str:
            return env.get(f"REINGEST_{name}_URL") or default

        def original(name: str, scheme: str) -> str | None:
            """The original Lambda's resource name as one of our URLs, if it is set."""
            return f"{scheme}://{env[name]}" if env.get(name) else None

        def number(name: str, default: float, original: str | None = None) -> float:
            raw = env.get(f"REINGEST_{name}") or (env.get(original) if original else None)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
            if value <= 0:
                raise ConfigurationError(f"{name} must be positive, got {raw!r}")
            return value

        def state(name: str, default: State) -> State:
            raw = env.get(f"REINGEST_{name}") or env.get(name)
            try:
                return State.parse(raw) if raw else default
            except ValueError as error:
                raise ConfigurationError(f"{name}: {error}") from None

        return cls(
            home=home,
            progress_url=url(
                "PROGRESS",
                original("IMAGES_TO_INDEX_DYNAMO_TABLE", "dynamodb")
                or f"sqlite:///{home}/progress.db",
            ),
            stream_url=url(
                "STREAM", original("KINESIS_STREAM", "kinesis") or f"sqlite:///{home}/streams.db"
            ),
            index_url=url("INDEX", f"sqlite:///{home}/index.db"),
            originals_url=url("ORIGINALS", (home / "originals").as_uri()),
            services_url=url("SERVICES", f"sqlite:///{home}/services.db"),
            batch_size=int(number("BATCH_SIZE", cls.batch_size, "BATCH_SIZE")),
            max_size=int(number("MAX_SIZE", cls.max_size, "MAX_SIZE")),
            start_state=state("START_STATE", cls.start_state),
            checker_start_state=state("CHECKER_START_STATE", cls.checker_start_state),
            latency_threshold_ms=int(
                number("LATENCY_THRESHOLD", cls.latency_threshold_ms, "LATENCY_THRESHOLD")
            ),
            lease_seconds=number("LEASE_SECONDS", cls.lease_seconds),
            max_attempts=int(number("MAX_ATTEMPTS", cls.max_attempts)),
            projection_parallelism=int(
                number("PROJECTION_PARALLELISM", cls.projection_parallelism)
            ),
            projection_tries=int(number("PROJECTION_TRIES", cls.projection_tries)),
            projection_backoff_cap_seconds=number(
                "PROJECTION_BACKOFF_CAP_SECONDS", cls.projection_backoff_cap_seconds
            ),
            claim_log=Path(env["REINGEST_CLAIM_LOG"]) if env.get("REINGEST_CLAIM_LOG") else None,
            api_keys=tuple(
                key.strip()
                for key in (env.get("REINGEST_API_KEYS") or env.get("API_KEY") or "").split(",")
                if key.strip()
            ),
            max_upload_bytes=int(number("MAX_UPLOAD_BYTES", cls.max_upload_bytes)),
            processors=_processors(env),
            projection_url=(
                env.get("REINGEST_PROJECTION_URL") or env.get("PROJECTION_ENDPOINT") or None
            ),
            projection_api_key=(
                env.get("REINGEST_PROJECTION_API_KEY") or env.get("API_KEY") or None
            ),
        )
