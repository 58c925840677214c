"""Exceptions of reingest.

ReingestError
├── ConfigurationError        bad URL, unknown scheme, missing driver
├── ImageNotFound             no original stored for an id
├── LoaderError               the loader cannot read an original (permanent: KnownError)
│   ├── UnsupportedFileType   not a JPEG, PNG or TIFF (raw camera files included)
│   └── CorruptFile           claims to be a supported type but cannot be read
├── DownstreamError           a data service answered with an unexpected status
│   └── TransientError        unavailable for now: worth another try
│       └── AliasesMoved      a migration step moved an alias while a write was planned
├── MessageDecodeError        a stream message that is not a valid UpdateMessage
├── DocumentRejected          the index cannot take one update (its rule failed, the mapping refuses it)
│   └── MappingRejection      the index mapping refuses a document (Elasticsearch's error)
└── ClaimLost                 a worker tried to settle ids it no longer owns
"""

from __future__ import annotations


class ReingestError(Exception):
    """Base of every error reingest raises on purpose."""


class ConfigurationError(ReingestError):
    """The configuration names a backend or value reingest cannot use."""


class ImageNotFound(ReingestError):
    """No original is stored under this id."""


class LoaderError(ReingestError):
    """The loader cannot read this original; retrying will not help."""


class UnsupportedFileType(LoaderError):
    """The file is not one of the supported image types."""


class CorruptFile(LoaderError):
    """The file looks like a supported type but cannot be read."""


class DownstreamError(ReingestError):
    """A source of truth answered with something other than data or 'not found'."""


class TransientError(DownstreamError):
    """A source of truth is unavailable for now (timeout, 502/503/504, connection refused)."""


class AliasesMoved(TransientError):
    """An alias a write was planned against moved before the write (a migration completed or
    rolled back meanwhile): plan it again."""


class MessageDecodeError(ReingestError):
    """A stream message could not be decoded into an UpdateMessage."""


class DocumentRejected(ReingestError):
    """One update cannot be applied to its document, whatever the index's health: a rule
    failed on what the document holds, or the mapping refuses the result. Retrying will not
    help; thrall dead-letters that message alone."""


class MappingRejection(DocumentRejected):
    """A document the index mapping refuses, told as Elasticsearch tells it: the error type
    (``strict_dynamic_mapping_exception``, ``document_parsing_exception``) and its reason."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(f"{error_type}: {reason}")
        self.error_type = error_type
        self.reason = reason


class ClaimLost(ReingestError):
    """The ids being settled are no longer claimed by this worker (its lease expired)."""
