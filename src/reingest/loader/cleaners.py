"""Grid's GuardianMetadataCleaners (grid-model.md §2.1 step 12) as a chain of small functions.

Off by default (the converter's output is what expected.json records); ``REINGEST_CLEANERS=
guardian`` turns the chain on. Each cleaner returns a new ImageMetadata and leaves unset
fields unset.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from reingest.errors import ConfigurationError
from reingest.model import ImageMetadata

Cleaner = Callable[[ImageMetadata], ImageMetadata]
LOCATION_FIELDS = ("subLocation", "city", "state", "country")

_RUBBISH = re.compile(r"[\s.\-]*")
_COPYRIGHT_PREFIX = re.compile(r"^(?:(?:©|\(c\)|copyright)[\s:]*)+|^:\s*", re.IGNORECASE)
_REDUNDANT = frozenset(
    {"Handout", "HO", "Pool", "POOL", "STAFF", "Stringer", "STR", "-", ".", "Uncredited",
     "UNCREDITED", "AFP Contributor", "AFP Contributors"}
)  # fmt: skip
_INITIAL_STOP = re.compile(r"\b([A-Z])\.")
_INITIALS = re.compile(r"\b([A-Z]) (?=[A-Z]\b)")
_SPACES = re.compile(r"\s{2,}")
#: lower-case inside capitalised place names
_JOINERS = frozenset({"of", "and", "the", "upon", "on", "de", "la", "le", "du", "des", "y"})
#: ISO 3166 alpha-2 and alpha-3 codes → Java's English display names (the common ones)
_COUNTRIES: dict[str, str] = {
    code: name
    for codes, name in (
        (("GB", "GBR", "UK"), "United Kingdom"), (("US", "USA"), "United States"),
        (("FR", "FRA"), "France"), (("DE", "DEU"), "Germany"), (("IT", "ITA"), "Italy"),
        (("ES", "ESP"), "Spain"), (("PT", "PRT"), "Portugal"), (("IE", "IRL"), "Ireland"),
        (("NL", "NLD"), "Netherlands"), (("BE", "BEL"), "Belgium"), (("CH", "CHE"), "Switzerland"),
        (("AT", "AUT"), "Austria"), (("SE", "SWE"), "Sweden"), (("NO", "NOR"), "Norway"),
        (("DK", "DNK"), "Denmark"), (("FI", "FIN"), "Finland"), (("PL", "POL"), "Poland"),
        (("GR", "GRC"), "Greece"), (("TR", "TUR"), "Turkey"), (("RU", "RUS"), "Russia"),
        (("UA", "UKR"), "Ukraine"), (("CN", "CHN"), "China"), (("JP", "JPN"), "Japan"),
        (("KR", "KOR"), "South Korea"), (("IN", "IND"), "India"), (("PK", "PAK"), "Pakistan"),
        (("AU", "AUS"), "Australia"), (("NZ", "NZL"), "New Zealand"), (("CA", "CAN"), "Canada"),
        (("MX", "MEX"), "Mexico"), (("BR", "BRA"), "Brazil"), (("AR", "ARG"), "Argentina"),
        (("ZA", "ZAF"), "South Africa"), (("NG", "NGA"), "Nigeria"), (("KE", "KEN"), "Kenya"),
        (("EG", "EGY"), "Egypt"), (("IL", "ISR"), "Israel"), (("IR", "IRN"), "Iran"),
        (("IQ", "IRQ"), "Iraq"), (("SY", "SYR"), "Syria"), (("AF", "AFG"), "Afghanistan"),
        (("SA", "SAU"), "Saudi Arabia"), (("AE", "ARE"), "United Arab Emirates"),
        (("QA", "QAT"), "Qatar"),
    )
    for code in codes
}  # fmt: skip


def _update(metadata: ImageMetadata, **changes: str | None) -> ImageMetadata:
    return metadata.model_copy(update=changes)


def _map_fields(fields: tuple[str, ...], fix: Callable[[str], str | None]) -> Cleaner:
    """A cleaner applying ``fix`` to each set field (an empty result unsets it)."""

    def cleaner(metadata: ImageMetadata) -> ImageMetadata:
        changes = {}
        for name in fields:
            value = getattr(metadata, name)
            if value is not None:
                changes[name] = fix(value) or None
        return _update(metadata, **changes)

    return cleaner


def _rubbish(value: str) -> str | None:
    return None if _RUBBISH.fullmatch(value) else value


def _strip_copyright(value: str) -> str:
    return _COPYRIGHT_PREFIX.sub("", value, count=1).strip()


def _drop_redundant_tokens(value: str) -> str:
    return "/".join(t for t in (t.strip() for t in value.split("/")) if t not in _REDUNDANT)


def _canonical_credit(value: str) -> str:
    return "The Guardian" if value == "Guardian" else value


def _country_name(value: str) -> str:
    return _COUNTRIES.get(value.upper(), value) if len(value) in (2, 3) else value


def _guardian_style(value: str) -> str:
    """Curly apostrophes; no full stops after initials ("C. P. Scott" → "C P Scott")."""
    return _SPACES.sub(" ", _INITIAL_STOP.sub(r"\1", value.replace("'", "’"))).strip()


def _join_initials(value: str) -> str:
    return _INITIALS.sub(r"\1", value)


def _word(word: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


def _capitalise(value: str, joiners: frozenset[str] = frozenset()) -> str:
    """Only a value written all in upper or all in lower case is re-capitalised."""
    if value != value.upper() and value != value.lower():
        return value
    words = value.lower().split(" ")
    return " ".join(w if i and w in joiners else _word(w) for i, w in enumerate(words))


def _capitalise_place(value: str) -> str:
    return _capitalise(value, _JOINERS)


def drop_redundant_title(metadata: ImageMetadata) -> ImageMetadata:
    """The title is dropped when the description already starts with it."""
    title, description = metadata.title, metadata.description
    if title and description and description.startswith(title):
        return _update(metadata, title=None)
    return metadata


#: Grid's order (application.conf); BylineCreditReorganise, ExtractGuardianCreditFromByline,
#: PhotographerRenamer and InsertGuardianImageType are not implemented
GUARDIAN: tuple[Cleaner, ...] = (
    _map_fields(LOCATION_FIELDS, _rubbish),  # CleanRubbishLocation
    _map_fields(("byline", "credit"), _strip_copyright),  # StripCopyrightPrefix
    _map_fields(("byline", "credit"), _drop_redundant_tokens),  # RedundantTokenRemover
    _map_fields(("credit",), _canonical_credit),  # UseCanonicalGuardianCredit
    _map_fields(("country",), _country_name),  # CountryCode
    _map_fields(("byline",), _guardian_style),  # GuardianStyleByline
    _map_fields(("byline",), _capitalise),  # CapitaliseByline
    _map_fields(("byline",), _join_initials),  # InitialJoinerByline
    _map_fields(LOCATION_FIELDS, _capitalise_place),  # Capitalise{Country,State,City,SubLocation}
    drop_redundant_title,  # DropRedundantTitle
)
CHAINS: dict[str, tuple[Cleaner, ...]] = {"none": (), "guardian": GUARDIAN}


def chain(name: str) -> tuple[Cleaner, ...]:
    """The cleaner chain a setting names; raises ConfigurationError for an unknown one."""
    try:
        return CHAINS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown cleaners {name!r}: expected one of {', '.join(CHAINS)}"
        ) from None


def clean(metadata: ImageMetadata, cleaners: tuple[Cleaner, ...]) -> ImageMetadata:
    for cleaner in cleaners:
        metadata = cleaner(metadata)
    return metadata
