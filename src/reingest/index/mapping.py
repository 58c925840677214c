"""Grid's index mapping (``mapping.json``) and the document check that enforces it.

``mapping.json`` is Grid's ``Mappings.scala`` and ``IndexSettings.scala`` as elastic4s renders
them for the create-index request. The Elasticsearch backend creates its index with it; the
embedded index runs ``check_document`` on every document it writes, so a document that
Elasticsearch would refuse is refused there too, with Elasticsearch's error type and reason.

The mapping is compiled once into a tree of small checkers (one per mapped field), so a check is
one dict lookup and a type test per field: sub-trees Elasticsearch does not constrain
(``dynamic: true`` objects such as ``fileMetadata``, ``enabled: false`` objects) are not walked.
"""

from __future__ import annotations

import calendar
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson

from ..errors import MappingRejection

_DOCUMENT = json.loads(resources.files(__package__).joinpath("mapping.json").read_text())
#: the ``mappings`` of the create-index request
MAPPING: dict[str, Any] = _DOCUMENT["mappings"]
#: the ``settings`` of the create-index request (analysis included)
SETTINGS: dict[str, Any] = _DOCUMENT["settings"]

STRICT = "strict_dynamic_mapping_exception"
PARSING = "document_parsing_exception"
#: ``index.mapping.nested_objects.limit``: Grid keeps Elasticsearch's default
NESTED_OBJECTS_LIMIT = 10_000

_SCALARS = frozenset({str, int, float, bool})
_INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
#: a decimal number as Java's parsers read it (no NaN, infinities or type suffixes)
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
#: ``strict_date_optional_time``: a 4-digit year, then optionally month, day, 'T' and a time
#: (hours, minutes, seconds, 1-9 fraction digits) with an optional Z or ±HH[[:]mm] offset
_ISO_DATE = re.compile(
    r"(\d{4})(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01])"
    r"(?:T(?:[01]\d|2[0-3])(?::[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?)?)?)?"
)
#: Grid's own date form (``printDateTime``), the one nearly every date has
_GRID_DATE = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z"
)
_LONG = re.compile(r"[+-]?\d+")
#: ``epoch_millis``: milliseconds, optionally negative, optionally with a fraction
_EPOCH_MILLIS = re.compile(r"-?\d+(\.\d{1,6})?")


class _Context:
    """What one document's check carries: its id (for messages) and its nested-object count."""

    __slots__ = ("doc_id", "nested")

    def __init__(self, doc_id: str) -> None:
        self.doc_id = doc_id
        self.nested = 0


class _Field:
    """A mapped field. ``plain`` holds the Python types it takes as they are, so the common case
    costs one set lookup; anything else goes to ``check``."""

    __slots__ = ("element_wise", "path", "plain", "type")

    def __init__(self, path: str, mapped_type: str, plain: frozenset[type] = frozenset()) -> None:
        self.path = path
        self.type = mapped_type
        self.plain = plain
        #: an array is checked element by element (not so for vectors and suggesters)
        self.element_wise = type(self).check is _Field.check

    def check(self, value: Any, ctx: _Context) -> None:
        """Elasticsearch parses every element of an array (nested arrays are flattened)."""
        if type(value) is list:
            for item in value:
                if item is not None and type(item) not in self.plain:
                    self.check(item, ctx)
        else:
            self.check_value(value, ctx)

    def check_value(self, value: Any, ctx: _Context) -> None:
        self.fail(value, ctx)

    def fail(self, value: Any, ctx: _Context) -> None:
        raise MappingRejection(
            PARSING,
            f"failed to parse field [{self.path}] of type [{self.type}] in document with id "
            f"'{ctx.doc_id}'. Preview of field's value: '{_preview(value)}'",
        )


class _Anything(_Field):
    """An ``enabled: false`` object: Elasticsearch skips whatever is there."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "object", frozenset({str, int, float, bool, dict, list}))


class _Integer(_Field):
    """integer / long: numbers in range (a fraction is truncated), numeric strings, "" (null)."""

    __slots__ = ("high", "low")

    def __init__(self, path: str, mapped_type: str) -> None:
        super().__init__(path, mapped_type)
        self.low, self.high = _INT_RANGES[mapped_type]

    def check_value(self, value: Any, ctx: _Context) -> None:
        if type(value) is str:
            if value == "":
                return
            if not _NUMBER.fullmatch(value):
                self.fail(value, ctx)
            number: float = int(value) if _LONG.fullmatch(value) else float(value)
        elif type(value) is int or type(value) is float:
            number = value
        else:
            self.fail(value, ctx)
            return
        if not self.low <= number <= self.high:
            self.fail(value, ctx)


class _Boolean(_Field):
    """true / false, or the strings "true", "false" and "" (false)."""

    def check_value(self, value: Any, ctx: _Context) -> None:
        if type(value) is not str or value not in ("true", "false", ""):
            self.fail(value, ctx)


class _Date(_Field):
    """``strict_date_optional_time||epoch_millis``, Elasticsearch's default date format."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "date", frozenset({int, float}))

    def check_value(self, value: Any, ctx: _Context) -> None:
        if type(value) is str:
            if _GRID_DATE.fullmatch(value) and value[8:10] <= "28":
                return  # as Grid writes dates (checked cheaply first): a day every month has
            match = _ISO_DATE.fullmatch(value)
            if match:
                year, month, day = match.groups()
                if day is None or day <= "28" or _day_exists(int(year), int(month), int(day)):
                    return
            elif _EPOCH_MILLIS.fullmatch(value):
                return
        self.fail(value, ctx)


def _day_exists(year: int, month: int, day: int) -> bool:
    return day <= calendar.monthrange(year, month)[1]


class _Completion(_Field):
    """A completion suggester: a string, ``{"input": …, "weight": …}``, or an array of those."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "completion", frozenset({str}))

    def check(self, value: Any, ctx: _Context) -> None:
        for item in value if type(value) is list else (value,):
            if type(item) is dict:
                self._check_object(item, ctx)
            elif type(item) is not str:
                self._reject(
                    f"failed to parse [{self.path.rpartition('.')[2]}]: expected text or object, but got "
                    f"{_token(item)}"
                )

    def _check_object(self, value: dict[str, Any], ctx: _Context) -> None:
        for key, item in value.items():
            if key == "input":
                if type(item) is list:
                    for text in item:
                        if type(text) is not str:
                            self._reject(
                                f"input array must have string values, but was [{_token(text)}]"
                            )
                elif type(item) is not str:
                    self._reject(f"input must be a string or array, but was [{_token(item)}]")
            elif key == "weight":
                self._check_weight(item)
            elif key == "contexts":
                self._reject(f"contexts field is not supported for field: [{self.path}]")
            else:
                self._reject(
                    f"unknown field name [{key}], must be one of [input, weight, contexts]"
                )

    def _check_weight(self, weight: Any) -> None:
        if type(weight) is str:
            if not _LONG.fullmatch(weight):
                self._reject(f"weight must be an integer, but was [{weight}]")
            weight = int(weight)
        elif type(weight) is float:
            self._reject(f"weight must be an integer, but was [{weight}]")
        elif type(weight) is not int:
            self._reject(f"weight must be a number or string, but was [{_token(weight)}]")
        if not 0 <= weight <= 2**31 - 1:
            self._reject(f"weight must be in the interval [0..2147483647], but was [{weight}]")

    @staticmethod
    def _reject(reason: str) -> None:
        raise MappingRejection(PARSING, f"failed to parse: {reason}")


class _DenseVector(_Field):
    """One vector per document, of exactly ``dims`` numbers (not all zero under cosine)."""

    __slots__ = ("cosine", "dims")

    def __init__(self, path: str, mapping: dict[str, Any]) -> None:
        super().__init__(path, "dense_vector")
        self.dims = mapping["dims"]
        self.cosine = mapping.get("similarity", "cosine") == "cosine"

    def check(self, value: Any, ctx: _Context) -> None:
        if type(value) is not list:
            self._reject(
                "Failed to parse object: expecting token of type [START_ARRAY] but found "
                f"[{_token(value)}]"
            )
        for item in value:
            if type(item) is not int and type(item) is not float:
                self._reject(
                    "Failed to parse object: expecting token of type [VALUE_NUMBER] but found "
                    f"[{_token(item)}]"
                )
        if len(value) != self.dims:
            self._reject(
                f"The [dense_vector] field [{self.path}] in doc [document with id "
                f"'{ctx.doc_id}'] has a different number of dimensions [{len(value)}] than "
                f"defined in the mapping [{self.dims}]"
            )
        if self.cosine and not any(value):
            self._reject("The [cosine] similarity does not support vectors with zero magnitude.")

    @staticmethod
    def _reject(reason: str) -> None:
        raise MappingRejection(PARSING, f"failed to parse: {reason}")


class _Object(_Field):
    """An object or nested field: its mapped properties, and what it does with unknown ones."""

    __slots__ = ("dynamic", "fields", "is_nested", "name")

    def __init__(self, path: str, name: str, mapping: dict[str, Any], inherited: str) -> None:
        super().__init__(path, mapping.get("type", "object"))
        self.name = name
        self.is_nested = self.type == "nested"
        self.dynamic = str(mapping.get("dynamic", inherited)).lower()
        self.fields = {
            key: _compile(f"{path}.{key}" if path else key, key, child, self.dynamic)
            for key, child in mapping.get("properties", {}).items()
        }
        if self.dynamic == "true" and not self.fields:
            self.plain = frozenset({dict})  # takes any object as it is

    def check(self, value: Any, ctx: _Context) -> None:
        if type(value) is dict:
            self.check_fields(value, ctx)
        elif type(value) is list:
            for item in value:
                if item is not None and type(item) not in self.plain:
                    self.check(item, ctx)
        else:
            raise MappingRejection(
                PARSING,
                f"object mapping for [{self.path}] tried to parse field [{self.name}] as object, "
                "but found a concrete value",
            )

    def check_fields(self, value: dict[str, Any], ctx: _Context) -> None:
        if self.is_nested:
            ctx.nested += 1
            if ctx.nested > NESTED_OBJECTS_LIMIT:
                raise MappingRejection(
                    PARSING,
                    "The number of nested documents has exceeded the allowed limit of "
                    f"[{NESTED_OBJECTS_LIMIT}]. This limit can be set by changing the "
                    "[index.mapping.nested_objects.limit] index level setting.",
                )
        fields = self.fields
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                self.unmapped(key, item, ctx)
            elif item is None or type(item) in field.plain:
                continue
            elif type(item) is dict and type(field) is _Object:  # the common cases, inline
                field.check_fields(item, ctx)
            elif type(item) is list and field.element_wise:
                plain = field.plain
                for element in item:
                    if element is not None and type(element) not in plain:
                        field.check(element, ctx)
            else:
                field.check(item, ctx)

    def unmapped(self, key: str, value: Any, ctx: _Context) -> None:
        """A field the mapping does not name: a dotted name is a path into objects (as
        Elasticsearch reads it); otherwise ``dynamic`` decides."""
        if "." in key:
            parts = key.split(".")
            if not all(parts):
                raise MappingRejection(
                    PARSING,
                    "object field starting or ending with a [.] makes object resolution "
                    f"ambiguous: [{key}]",
                )
            if not all(part.strip() for part in parts):
                raise MappingRejection(
                    PARSING, f"object field cannot contain only whitespace: ['{key}']"
                )
            head, _, rest = key.partition(".")
            self.check_fields({head: {rest: value}}, ctx)
        elif not key.strip():
            raise MappingRejection(
                PARSING,
                "field name cannot be an empty string"
                if not key
                else f"field name cannot contain only whitespace: ['{key}']",
            )
        elif self.dynamic == "strict":
            raise MappingRejection(
                STRICT,
                f"mapping set to strict, dynamic introduction of [{key}] within "
                f"[{self.path or '_doc'}] is not allowed",
            )


def _compile(path: str, name: str, mapping: dict[str, Any], dynamic: str) -> _Field:
    """The checker of one mapped field; a mapping this module cannot check is an error here,
    at import, never a silently unchecked field."""
    mapped_type = mapping.get("type", "object")
    if mapped_type in ("object", "nested"):
        if mapping.get("enabled", True) is False:
            return _Anything(path)
        return _Object(path, name, mapping, dynamic)
    if "format" in mapping:
        raise ValueError(f"{path}: date formats other than the default are not supported")
    if mapped_type in ("keyword", "text"):
        return _Field(path, mapped_type, _SCALARS)
    if mapped_type == "date":
        return _Date(path)
    if mapped_type == "boolean":
        return _Boolean(path, mapped_type, frozenset({bool}))
    if mapped_type in _INT_RANGES:
        return _Integer(path, mapped_type)
    if mapped_type == "completion":
        return _Completion(path)
    if mapped_type == "dense_vector":
        return _DenseVector(path, mapping)
    raise ValueError(f"{path}: no check for fields of type {mapped_type!r}")


def _token(value: Any) -> str:
    """The JSON token Elasticsearch's parser would name for ``value``."""
    if value is None:
        return "VALUE_NULL"
    if type(value) is bool:
        return "VALUE_BOOLEAN"
    if type(value) is str:
        return "VALUE_STRING"
    if type(value) is dict:
        return "START_OBJECT"
    if type(value) is list:
        return "START_ARRAY"
    return "VALUE_NUMBER"


def _preview(value: Any) -> str:
    """A value as Elasticsearch previews it (Java's rendering of maps and booleans)."""
    if type(value) is dict:
        return "{" + ", ".join(f"{k}={_preview(v)}" for k, v in value.items()) + "}"
    if type(value) is list:
        return "[" + ", ".join(_preview(v) for v in value) + "]"
    if type(value) is bool:
        return "true" if value else "false"
    return "null" if value is None else str(value)


_ROOT = _Object("", "_doc", MAPPING, "true")


def check_document(document: dict[str, Any], mapping: dict[str, Any] | None = None) -> None:
    """Raise ``MappingRejection`` where Elasticsearch would refuse to index ``document`` under
    ``mapping`` (default ``MAPPING``), with its error type and reason (no ``[line:column]``
    prefix); return otherwise.

    Stateless: fields that ``dynamic: true`` objects map on first sight (``fileMetadata.*``,
    ``identifiers.*``) are taken as they come, as an empty index would take them."""
    root = _ROOT if mapping is None or mapping is MAPPING else _compiled(orjson.dumps(mapping))
    root.check_fields(document, _Context(str(document.get("id"))))


@lru_cache(maxsize=8)
def _compiled(mapping_json: bytes) -> _Object:
    """Another index's mapping (a migration's), compiled once per distinct mapping."""
    return _Object("", "_doc", orjson.loads(mapping_json), "true")
