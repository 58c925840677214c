"""Settings, read once from the environment and passed explicitly (no import-time globals).

Every environment variable reingest reads is declared once, in ``REGISTRY``: its names in
precedence order (``REINGEST_<NAME>`` first, then the original Grid Lambda's name where it had
one, so the Lambda handlers run on the original's environment unchanged), how its text is parsed
and checked, its default and one line of meaning. ``Settings.from_env``, ``reingest config``,
the dashboard's settings page and the README's table are all built from it, so none of them can
forget a variable or disagree about one.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ConfigurationError
from .loader.processors import DEFAULT_PROCESSORS, chain
from .originals.source import WINDOW
from .states import State

#: the prefix of our own variables; an unknown name with it is reported (a typo, most likely)
PREFIX = "REINGEST_"

#: the deprecated REINGEST_CLEANERS values → the processor chain each stands for
_CLEANERS_AS_PROCESSORS = {"none": "none", "guardian": "guardian-cleaners"}


def processors_for_cleaners(name: str, variable: str = "CLEANERS") -> str:
    """The chain the deprecated cleaners setting names (``guardian`` is the cleaners alone)."""
    try:
        return _CLEANERS_AS_PROCESSORS[name]
    except KeyError:
        raise ConfigurationError(
            f"{variable} (deprecated: use PROCESSORS) must be one of "
            f"{', '.join(_CLEANERS_AS_PROCESSORS)}, got {name!r}"
        ) from None


@dataclass(frozen=True)
class Settings:
    """What a run is configured with; each field's meaning is its entry in ``REGISTRY``."""

    home: Path
    progress_url: str
    stream_url: str
    index_url: str
    originals_url: str
    services_url: str
    batch_size: int = 100
    max_size: int = 1_000_000
    start_state: State = State.NotStarted
    checker_start_state: State = State.Enqueued
    latency_threshold_ms: int = 60_000
    throttle_latency_ms: int = 1_000
    throttle_min_rate: float = 5.0
    throttle_max_rate: float = 10_000.0
    throttle_step: float = 20.0
    lease_seconds: float = 300.0
    max_attempts: int = 5
    projection_max_in_flight: int = 32
    projection_tries: int = 4
    projection_backoff_cap_seconds: float = 5.0
    claim_log: Path | None = None
    api_keys: tuple[str, ...] = ()
    max_upload_bytes: int = 50_000_000
    processors: str = DEFAULT_PROCESSORS
    originals_window: int = WINDOW
    projection_url: str | None = None
    projection_api_key: str | None = None
    migration_rollback_days: float = 7.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings ``env`` (``os.environ`` by default) gives; ConfigurationError naming the
        variable of the first invalid value."""
        fields = [one for one in resolve(os.environ if env is None else env) if one.setting.field]
        for one in fields:
            if one.error:
                raise ConfigurationError(one.error)
        return cls(**{one.setting.key: one.value for one in fields})


# -- parsers: (text, variable) → value, or ConfigurationError naming the variable --------------


def _text(raw: str, variable: str) -> str:
    return raw


def _path(raw: str, variable: str) -> Path:
    return Path(raw)


def _positive(raw: str, variable: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{variable} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigurationError(f"{variable} must be a finite number, got {raw!r}")
    if value <= 0:
        raise ConfigurationError(f"{variable} must be positive, got {raw!r}")
    return value


def _count(raw: str, variable: str) -> int:
    """A positive whole number (``1e6`` is one; ``2.5`` or ``0.5`` is not, rather than 2 or 0)."""
    value = _positive(raw, variable)
    if not value.is_integer():
        raise ConfigurationError(f"{variable} must be a whole number, got {raw!r}")
    return int(value)


def _count_or_zero(raw: str, variable: str) -> int:
    """A whole number, 0 included."""
    if raw.strip() == "0":
        return 0
    try:
        return _count(raw, variable)
    except ConfigurationError:
        raise ConfigurationError(
            f"{variable} must be 0 or a positive whole number, got {raw!r}"
        ) from None


def _state(raw: str, variable: str) -> State:
    try:
        return State.parse(raw)
    except ValueError as error:
        raise ConfigurationError(f"{variable}: {error}") from None


def _keys(raw: str, variable: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in raw.split(",") if key.strip())


def _processors(raw: str, variable: str) -> str:
    try:
        chain(raw)
    except ConfigurationError as error:
        raise ConfigurationError(f"{variable}: {error}") from None
    return raw


def _cleaners(raw: str, variable: str) -> str:
    return processors_for_cleaners(raw, variable)


def _scheme(scheme: str) -> Callable[[str, str], str]:
    """The original Lambda's resource name as one of our URLs (``TABLE`` → ``dynamodb://TABLE``)."""
    return lambda raw, _variable: f"{scheme}://{raw}"


# -- the registry ---------------------------------------------------------------------------

GRID = "Grid's name"


@dataclass(frozen=True)
class Name:
    """One environment name of a setting; ``translate`` makes its text the setting's text."""

    env: str
    note: str = ""
    translate: Callable[[str, str], str] | None = None


@dataclass(frozen=True)
class Setting:
    """One setting: where it is read from, how it is checked, what it defaults to and means."""

    #: the Settings field; for a setting read where it is used, the name code asks ``read`` for
    key: str
    #: environment names, the first one set (non-empty) wins
    names: tuple[Name, ...]
    meaning: str
    parse: Callable[[str, str], Any] = _text
    default: Any = None
    #: a default computed from the home in effect (the URLs under REINGEST_HOME)
    under_home: Callable[[Path], Any] | None = None
    #: the default as the README shows it, when its value alone would not say it
    default_text: str = ""
    #: shown masked: never printed, served or logged whole
    secret: bool = False
    #: a Settings field; False for what a backend, the Lambdas or the tests read where they use it
    field: bool = True

    def resolve(self, env: Mapping[str, str], home: Path) -> Resolved:
        for name in self.names:
            raw = env.get(name.env)
            if not raw:  # unset or empty: the next name, then the default
                continue
            source = f"env {name.env}" + (f" ({name.note})" if name.note else "")
            try:
                text = name.translate(raw, name.env) if name.translate else raw
                return Resolved(self, self.parse(text, name.env), source)
            except ConfigurationError as error:
                return Resolved(self, None, source, error=str(error), raw=raw)
        if self.under_home:
            return Resolved(self, self.under_home(home), "derived from REINGEST_HOME")
        return Resolved(self, self.default, "default")

    def default_shown(self) -> str:
        if self.default_text:
            return self.default_text
        if isinstance(self.default, State):
            return f"{self.default.value} ({self.default.name})"
        return as_text(_shown(self.default, secret=False))


@dataclass(frozen=True)
class Resolved:
    """A setting's value in one environment, and where that value came from."""

    setting: Setting
    value: Any
    source: str
    error: str | None = None
    #: the text of an invalid value
    raw: str | None = None

    def shown(self) -> Any:
        """The value as JSON, secrets masked (and any password inside a URL)."""
        if self.error:
            return _mask(self.raw or "") if self.setting.secret else _hide_password(self.raw or "")
        return _shown(self.value, self.setting.secret)


def _env(name: str) -> tuple[Name, ...]:
    return (Name(name),)


def _ours_or_grids(name: str, grid: str | None = None) -> tuple[Name, ...]:
    """``REINGEST_<name>``, then the original Lambda's name (``grid``, default the same name)."""
    return (Name(PREFIX + name), Name(grid or name, GRID))


def _url(name: str, meaning: str, default: Callable[[Path], str], text: str) -> Setting:
    return Setting(
        f"{name.lower()}_url",
        _env(f"{PREFIX}{name}_URL"),
        meaning,
        under_home=default,
        default_text=text,
    )


REGISTRY: tuple[Setting, ...] = (
    Setting(
        "home",
        _env("REINGEST_HOME"),
        "where embedded data lives; the default URLs below are under it",
        _path,
        Path(".reingest"),
        default_text="./.reingest",
    ),
    Setting(
        "progress_url",
        (
            Name("REINGEST_PROGRESS_URL"),
            Name(
                "IMAGES_TO_INDEX_DYNAMO_TABLE", f"{GRID}, as dynamodb://NAME", _scheme("dynamodb")
            ),
        ),
        "progress table: sqlite:///, postgresql://, dynamodb://TABLE",
        under_home=lambda home: f"sqlite:///{home}/progress.db",
        default_text="sqlite:///$REINGEST_HOME/progress.db",
    ),
    Setting(
        "stream_url",
        (
            Name("REINGEST_STREAM_URL"),
            Name("KINESIS_STREAM", f"{GRID}, as kinesis://NAME", _scheme("kinesis")),
        ),
        "high/low priority streams: sqlite:///, redis://, kinesis://STREAM",
        under_home=lambda home: f"sqlite:///{home}/streams.db",
        default_text="sqlite:///$REINGEST_HOME/streams.db",
    ),
    _url(
        "INDEX",
        "search index: sqlite:///, or an Elasticsearch http(s)://HOST:PORT/INDEX",
        lambda home: f"sqlite:///{home}/index.db",
        "sqlite:///$REINGEST_HOME/index.db",
    ),
    _url(
        "ORIGINALS",
        "originals store in Grid's key layout: file://, s3://BUCKET/PREFIX",
        lambda home: (home / "originals").as_uri(),
        "file://$REINGEST_HOME/originals",
    ),
    _url(
        "SERVICES",
        "data services the projection merges: sqlite:/// (local), or http(s):// (any Grid's)",
        lambda home: f"sqlite:///{home}/services.db",
        "sqlite:///$REINGEST_HOME/services.db",
    ),
    Setting(
        "batch_size",
        _ours_or_grids("BATCH_SIZE"),
        "ids claimed per index or check batch",
        _count,
        Settings.batch_size,
    ),
    Setting(
        "max_size",
        _ours_or_grids("MAX_SIZE"),
        "largest message (bytes) posted on the stream; larger → TooBig",
        _count,
        Settings.max_size,
    ),
    Setting(
        "start_state",
        _ours_or_grids("START_STATE"),
        "the state batch-index claims from (a number or a name)",
        _state,
        Settings.start_state,
    ),
    Setting(
        "checker_start_state",
        _ours_or_grids("CHECKER_START_STATE"),
        "the state batch-check claims from (a number or a name)",
        _state,
        Settings.checker_start_state,
    ),
    Setting(
        "latency_threshold_ms",
        _ours_or_grids("LATENCY_THRESHOLD"),
        "skip an index run while the low stream's oldest message is older than this (ms)",
        _count,
        Settings.latency_threshold_ms,
    ),
    Setting(
        "throttle_latency_ms",
        _env("REINGEST_THROTTLE_LATENCY_MS"),
        "the most a user edit should wait (ms): reingestion slows while the high stream's "
        "oldest message is older, or a thrall batch takes over 3/4 of it to write",
        _count,
        Settings.throttle_latency_ms,
    ),
    Setting(
        "throttle_min_rate",
        _env("REINGEST_THROTTLE_MIN_RATE"),
        "the throttle never slows thrall's consumption below the high stream, or an indexer, "
        "below this (images/s each)",
        _positive,
        Settings.throttle_min_rate,
    ),
    Setting(
        "throttle_max_rate",
        _env("REINGEST_THROTTLE_MAX_RATE"),
        "nor lets either go faster than this (images/s each; where each starts)",
        _positive,
        Settings.throttle_max_rate,
    ),
    Setting(
        "throttle_step",
        _env("REINGEST_THROTTLE_STEP"),
        "images/s the throttle adds per second while the index is healthy (a cut multiplies "
        "by 0.7)",
        _positive,
        Settings.throttle_step,
    ),
    Setting(
        "lease_seconds",
        _env("REINGEST_LEASE_SECONDS"),
        "how long a claim (of an id or a message) lives before another worker may take it",
        _positive,
        Settings.lease_seconds,
    ),
    Setting(
        "max_attempts",
        _env("REINGEST_MAX_ATTEMPTS"),
        "claims an id may go through before it is put down as UnknownError",
        _count,
        Settings.max_attempts,
    ),
    Setting(
        "projection_max_in_flight",
        (
            Name("REINGEST_PROJECTION_MAX_IN_FLIGHT"),
            Name("REINGEST_PROJECTION_PARALLELISM", "older name"),
        ),
        "most projections batch-index keeps in flight; it keeps as many as the measured "
        "network latency needs (Little's law), 1 with embedded services (run inline)",
        _count,
        Settings.projection_max_in_flight,
    ),
    Setting(
        "projection_tries",
        _env("REINGEST_PROJECTION_TRIES"),
        "tries of a transiently failing projection (timeouts, 5xx) before UnknownError",
        _count,
        Settings.projection_tries,
    ),
    Setting(
        "projection_backoff_cap_seconds",
        _env("REINGEST_PROJECTION_BACKOFF_CAP_SECONDS"),
        "longest wait between two tries of a projection (doubling from 0.1 s, with jitter)",
        _positive,
        Settings.projection_backoff_cap_seconds,
    ),
    Setting(
        "claim_log",
        _env("REINGEST_CLAIM_LOG"),
        "append every claim (`time owner state id`) to this file, to audit exclusivity",
        _path,
    ),
    Setting(
        "api_keys",
        (Name("REINGEST_API_KEYS"), Name("API_KEY", GRID)),
        "keys `reingest serve` and the projection Lambda accept in X-Gu-Media-Key "
        "(comma-separated)",
        _keys,
        Settings.api_keys,
        secret=True,
    ),
    Setting(
        "max_upload_bytes",
        _env("REINGEST_MAX_UPLOAD_BYTES"),
        "largest body `POST /images` or an id-list upload may have (bytes); larger → 413",
        _count,
        Settings.max_upload_bytes,
    ),
    Setting(
        "processors",
        (
            Name("REINGEST_PROCESSORS"),
            Name("REINGEST_CLEANERS", "deprecated: guardian, none", _cleaners),
        ),
        "image processors the loader runs, in order, comma-separated: guardian-cleaners, "
        "suppliers; or none alone, the converter's raw output (no usage rights)",
        _processors,
        Settings.processors,
    ),
    Setting(
        "originals_window",
        _env("REINGEST_ORIGINALS_WINDOW"),
        "bytes of an original the projection reads first; more only where its structure points "
        "past them, the whole file to make a missing thumbnail or when cheaper (0: always whole)",
        _count_or_zero,
        Settings.originals_window,
    ),
    Setting(
        "projection_url",
        _ours_or_grids("PROJECTION_URL", "PROJECTION_ENDPOINT"),
        "batch-index asks this server for projections instead of reading originals here",
    ),
    Setting(
        "projection_api_key",
        _ours_or_grids("PROJECTION_API_KEY", "API_KEY"),
        "the X-Gu-Media-Key sent to the projection URL",
        secret=True,
    ),
    Setting(
        "migration_rollback_days",
        _env("REINGEST_MIGRATION_ROLLBACK_DAYS"),
        "after a migration completes, writes also go to the previous index this many days, "
        "so a rollback loses no edit",
        _positive,
        Settings.migration_rollback_days,
    ),
    Setting(
        "services_api_key",
        _ours_or_grids("SERVICES_API_KEY", "API_KEY"),
        "the X-Gu-Media-Key sent to http(s):// data services (read when they open)",
        secret=True,
        field=False,
    ),
    Setting(
        "es_api_key",
        _env("REINGEST_ES_API_KEY"),
        "API key of an Elasticsearch index URL (read when it opens; user:pass@ in the URL "
        "works too)",
        secret=True,
        field=False,
    ),
    Setting(
        "aws_endpoint_url",
        _env("REINGEST_AWS_ENDPOINT_URL"),
        "endpoint of every AWS backend (moto, LocalStack): over a URL's `?endpoint_url=`, under "
        "its `?<service>_endpoint_url=`; unset → boto3's own (`AWS_ENDPOINT_URL`)",
        field=False,
    ),
    Setting(
        "aws_ca_bundle",
        _env("AWS_CA_BUNDLE"),
        "boto3's own: certificates to trust for AWS endpoints (a private CA); the S3 originals "
        "store's libcurl reads trust them too (unset → certifi's)",
        field=False,
    ),
    Setting(
        "schedule_rule_name",
        _env("SCHEDULE_RULE_NAME"),
        "Lambdas: the EventBridge rule batch-index / batch-check disable once nothing is left "
        "(unset → the rule in the event)",
        field=False,
    ),
    Setting(
        "stage",
        (Name("STAGE", GRID),),
        "Lambdas: TEST / PROD in the template's function and rule names; not read by reingest",
        field=False,
    ),
    Setting(
        "images_endpoint",
        (Name("IMAGES_ENDPOINT", GRID),),
        "accepted and ignored: the checker reads the index directly",
        field=False,
    ),
    Setting(
        "domain_root",
        (Name("DOMAIN_ROOT", GRID),),
        "accepted and ignored: a real Grid's services, one host each, have no URL form yet "
        "(HttpDataServices.for_domain_root)",
        field=False,
    ),
    Setting(
        "test_es_url",
        _env("REINGEST_TEST_ES_URL"),
        "tests: an Elasticsearch server the shared index suite runs on too",
        field=False,
    ),
    Setting(
        "fuzz_seed",
        _env("REINGEST_FUZZ_SEED"),
        "tests: the seed of the loader and thrall fuzzers",
        default_text="20261202 (thrall), 0 (loader)",
        field=False,
    ),
    Setting(
        "fuzz_messages",
        _env("REINGEST_FUZZ_MESSAGES"),
        "tests: messages the thrall fuzzer sends",
        default_text="3000",
        field=False,
    ),
    Setting(
        "fuzz_seconds",
        _env("REINGEST_FUZZ_SECONDS"),
        "tests: seconds the loader fuzzer spends per format",
        default_text="8",
        field=False,
    ),
    Setting(
        "fuzz_cases",
        _env("REINGEST_FUZZ_CASES"),
        "tests: most cases the loader fuzzer tries per format",
        default_text="1000000",
        field=False,
    ),
    Setting(
        "chromium",
        _env("REINGEST_CHROMIUM"),
        "tests: the browser the dashboard's browser tests drive",
        default_text="/usr/bin/chromium",
        field=False,
    ),
)

BY_KEY = {setting.key: setting for setting in REGISTRY}
KNOWN_NAMES = frozenset(name.env for setting in REGISTRY for name in setting.names)


def resolve(env: Mapping[str, str]) -> list[Resolved]:
    """Every setting in ``env``, in registry order; an invalid value carries its error."""
    home = REGISTRY[0].resolve(env, Path())
    home = replace(home, value=home.value.absolute())
    return [home, *(setting.resolve(env, home.value) for setting in REGISTRY[1:])]


def read(key: str, env: Mapping[str, str] | None = None) -> Any:
    """One setting, for code that reads it where it is used (a backend when it opens)."""
    wanted = BY_KEY[key]
    found = next(
        one for one in resolve(os.environ if env is None else env) if one.setting is wanted
    )
    if found.error:
        raise ConfigurationError(found.error)
    return found.value


def unknown_variables(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """``REINGEST_*`` names no setting has (in any case), each with the likeliest it meant."""
    ours = sorted(name[len(PREFIX) :] for name in KNOWN_NAMES if name.startswith(PREFIX))
    unknown = []
    for name in sorted(env):
        if name.upper().startswith(PREFIX) and name not in KNOWN_NAMES:
            close = difflib.get_close_matches(name[len(PREFIX) :].upper(), ours, n=1)
            unknown.append((name, PREFIX + close[0] if close else None))
    return unknown


def unknown_message(name: str, guess: str | None) -> str:
    meant = f" (did you mean {guess}?)" if guess else ""
    return f"{name} is not a reingest setting{meant}; it is ignored"


def report(env: Mapping[str, str], settings: Settings | None = None) -> dict[str, Any]:
    """Every setting as ``reingest config --json`` and the dashboard show it, secrets masked,
    and the unknown ``REINGEST_*`` names. With ``settings``, its fields are the values shown
    (a server shows what it runs with), ``given in code`` where the environment says otherwise."""
    rows = []
    for one in resolve(env):
        shown = one.shown()
        source = one.source
        if settings is not None and one.setting.field and not one.error:
            value = getattr(settings, one.setting.key)
            if value != one.value:
                shown, source = _shown(value, one.setting.secret), "given in code"
        row = {
            "key": one.setting.key,
            "names": [name.env for name in one.setting.names],
            "value": shown,
            "source": source,
            "default": one.setting.default_shown(),
            "meaning": one.setting.meaning,
            "secret": one.setting.secret,
        }
        if one.error:
            row["error"] = one.error
        rows.append(row)
    unknown = [
        {"name": name, "didYouMean": guess, "message": unknown_message(name, guess)}
        for name, guess in unknown_variables(env)
    ]
    return {"settings": rows, "unknown": unknown}


def markdown_table() -> str:
    """The README's configuration table (a test keeps the README's copy equal to it)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in REGISTRY:
        names = ", ".join(
            f"`{name.env}`" + (f" ({name.note})" if name.note else "") for name in setting.names
        )
        default = setting.default_shown()
        default = f"`{default}`" if default != "unset" else default
        lines.append(f"| {names} | {default} | {setting.meaning} |")
    return "\n".join(lines) + "\n"


# -- showing values -------------------------------------------------------------------------


def _shown(value: Any, secret: bool) -> Any:
    """A value as JSON: None for unset, states by name, secrets masked."""
    if value is None or value == ():
        return None
    if isinstance(value, tuple):
        return [_shown(item, secret) for item in value]
    if isinstance(value, State):
        return value.name
    if isinstance(value, Path):
        return str(value)
    if secret:
        return _mask(str(value))
    return _hide_password(value) if isinstance(value, str) else value


def as_text(shown: Any) -> str:
    """A shown value as one line of text (``unset``, ``a, b``, ``300`` for 300.0)."""
    if shown is None:
        return "unset"
    if isinstance(shown, list):
        return ", ".join(map(str, shown))
    return f"{shown:g}" if isinstance(shown, float) else str(shown)


def _mask(secret: str) -> str:
    """``****`` and, for a long enough secret, its last two characters (to tell keys apart)."""
    return "****" + (secret[-2:] if len(secret) >= 12 else "")


_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):[^/?#]*@")


def _hide_password(text: str) -> str:
    """``scheme://user:****@host…``: index, progress and stream URLs may carry a password."""
    return _URL_PASSWORD.sub(r"\1:****@", text)
