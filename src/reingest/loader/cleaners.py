"""Grid's GuardianMetadataCleaners (grid-model.md §2.1 step 12) as a chain of small functions.

``processors.guardian_cleaners`` runs the chain as one image processor (``REINGEST_PROCESSORS``
names it ``guardian-cleaners``). Each cleaner returns a new ImageMetadata and leaves unset
fields unset. A cleaner receives the file's metadata too; only InsertGuardianImageType (a
processor in Grid, run after the cleaners) reads it.

Grid's regular expressions are Java ones, whose ``\\s``, ``\\w`` and ``(?i)`` are ASCII-only:
hence ``re.ASCII`` below.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from reingest.model import FileMetadata, ImageMetadata

Cleaner = Callable[[ImageMetadata, FileMetadata], ImageMetadata]
MetadataCleaner = Callable[[ImageMetadata], ImageMetadata]
LOCATION_FIELDS = ("subLocation", "city", "state", "country")

_RUBBISH = re.compile(r"\s*[.\-]*\s*", re.ASCII)
_COPYRIGHT_PREFIX = re.compile(r"(?:©|copyright(?: of)?|\(c\)|\s|:)*", re.ASCII | re.IGNORECASE)
#: whole tokens (compared trimmed) that RedundantTokenRemover drops from byline and credit
_REDUNDANT = frozenset(
    {"Handout", "Handout .", "HANDOUT", "HO", "HO HANDOUT", "Pool", "POOL", "POOL New", "STAFF",
     "Staff", "STRINGER", "stringer", "Stringer", "STR", "-", "UNCREDITED", "Uncredited",
     "uncredited", "XXSTRINGERXX xxxxx", "AFP Contributor", "AFP Contributor#AFP",
     "Reuters Photographer", "REUTERS PHOTOGRAPHER", "Contributor#8523328"}
)  # fmt: skip
_LINE_TERMINATOR = re.compile("[\n\r\u0085\u2028\u2029]")
_TOKEN_SEPARATOR = re.compile(" via |/")
_SPACEY_SLASH = re.compile(r"\s*/\s*", re.ASCII)
_INITIAL_STOP = re.compile(r"\b(\w)\.(?:\s|\b|$)", re.ASCII)
#: Java's \p{Lu}, limited to the Basic Multilingual Plane
_UPPER = "".join(re.escape(c) for c in map(chr, range(0x10000)) if unicodedata.category(c) == "Lu")
_INITIALS = re.compile(rf"\b([{_UPPER}])[ \t\n\x0b\f\r]([{_UPPER}])\b")
_FOR_THE_PAPER = re.compile(r"(.+) for the (guardian|observer)[.]?", re.ASCII | re.IGNORECASE)
_FOR_THE_SOMETHING = re.compile(r"(.+) for the (.+)[.]?", re.ASCII | re.IGNORECASE)
#: a byline cut short by IPTC's 32-byte limit ("… for the Guard") is 31 UTF-16 units long
_TRUNCATED_LENGTH = 31
_PAPERS = ("Guardian", "Observer")
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
#: PhotographerRenamer: an agency's spelling of a whole byline → the photographer's own.
#: Grid keeps several hundred of these; this is a sample, to be extended as data.
_PHOTOGRAPHERS: dict[str, str] = {
    "WPA Pool": "WPA",
    "Lipnitzki": "Boris Lipnitzki",
    "Czarek Sokolowski": "Czarek Sokołowski",
    "Goran Tomasevic": "Goran Tomašević",
    "Francois Mori": "François Mori",
    "Jerome Delay": "Jérôme Delay",
    "Bulent Kilic": "Bülent Kılıç",
    "Brendan Mcdermid": "Brendan McDermid",
    "Hannah Mckay": "Hannah McKay",
    "Jason Obrien": "Jason O’Brien",
    "Dave M Benett": "David M Benett",
}
#: InsertGuardianImageType: IPTC digital source type (cv.iptc.org/newscodes/digitalsourcetype)
#: → Guardian image type; a code listed as None, or not listed, clears the image type
_IMAGE_TYPES: dict[str, str | None] = {
    **dict.fromkeys(
        ("digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm"), "Photograph"
    ),
    **dict.fromkeys(("print", "minorHumanEdits", "humanEdits", "virtualRecording")),
    **dict.fromkeys(
        (
            "compositeWithTrainedAlgorithmicMedia",
            "algorithmicallyEnhanced",
            "softwareImage",
            "digitalArt",
            "digitalCreation",
            "dataDrivenMedia",
            "trainedAlgorithmicMedia",
            "algorithmicMedia",
            "screenCapture",
            "compositeSynthetic",
        ),
        "Illustration",
    ),
    **dict.fromkeys(("composite", "compositeCapture"), "Composite"),
}
_SOURCE_TYPE_PREFIXES = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/",
    "https://cv.iptc.org/newscodes/digitalsourcetype/",
)
DIGITAL_SOURCE_TYPE = "Iptc4xmpExt:DigitalSourceType"


def _update(metadata: ImageMetadata, **changes: str | None) -> ImageMetadata:
    return metadata.model_copy(update=changes)


def _map_fields(fields: tuple[str, ...], fix: Callable[[str], str | None]) -> MetadataCleaner:
    """A cleaner applying ``fix`` to each set field (``None`` unsets it; like Grid, an empty
    string is kept)."""

    def cleaner(metadata: ImageMetadata) -> ImageMetadata:
        changes = {}
        for name in fields:
            value = getattr(metadata, name)
            if value is not None:
                changes[name] = fix(value)
        return _update(metadata, **changes)

    return cleaner


def java_split(value: str, separator: re.Pattern[str]) -> list[str]:
    """Java's String.split: trailing empty parts dropped, but "" splits to [""]."""
    parts = separator.split(value)
    while len(parts) > 1 and not parts[-1]:
        parts.pop()
    return [] if parts == [""] and value else parts


def _rubbish(value: str) -> str | None:
    return None if _RUBBISH.fullmatch(value) else value


def _strip_copyright(value: str) -> str:
    rest = value[_COPYRIGHT_PREFIX.match(value).end() :]  # type: ignore[union-attr]
    # Java's "." stops at line terminators, so Grid leaves such a value alone
    return value if _LINE_TERMINATOR.search(rest) else rest


def _drop_redundant_tokens(value: str) -> str:
    parts = java_split(value, _TOKEN_SEPARATOR)
    return "/".join(part for part in parts if part.strip() not in _REDUNDANT)


def redundant_token_remover(metadata: ImageMetadata) -> ImageMetadata:
    """Drops meaningless tokens; a byline left blank is unset, but a credit made only of such
    tokens keeps its last one."""
    byline, credit = metadata.byline, metadata.credit
    if byline is not None:
        byline = _drop_redundant_tokens(byline).strip() or None
    if credit is not None:
        kept: str | None = _drop_redundant_tokens(credit)
        if not kept:
            parts = java_split(credit, _TOKEN_SEPARATOR)
            kept = parts[-1] if parts else None
        credit = kept.strip() if kept is not None else None
    return _update(metadata, byline=byline, credit=credit)


def byline_credit_reorganise(metadata: ImageMetadata) -> ImageMetadata:
    """Spaces around slashes go; when both are set and not single names, the byline keeps its
    first part and the rest moves to the credit, which loses any copy of the byline."""
    byline, credit = (
        None if field is None else _SPACEY_SLASH.sub("/", field)
        for field in (metadata.byline, metadata.credit)
    )
    if byline is not None and credit is not None:
        byline_parts = [part for part in byline.split("/") if part]
        credit_parts = [part for part in credit.split("/") if part]
        ambiguous = not byline_parts or (len(byline_parts) == 1 and len(credit_parts) == 1)
        if not ambiguous:
            byline = byline_parts[0]
            moved = [part for part in byline_parts[1:] if part not in credit_parts]
            kept = [part for part in credit_parts if part != byline]
            credit = "/".join(dict.fromkeys(moved + kept))
    return _update(metadata, byline=byline, credit=credit)


def _canonical_credit(value: str) -> str:
    return "The Guardian" if value == "Guardian" else value


def _utf16_length(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def extract_guardian_credit_from_byline(metadata: ImageMetadata) -> ImageMetadata:
    """ "X for the Guardian" (or Observer, any case, maybe with a full stop, maybe truncated)
    → byline "X" and credit "The Guardian", replacing any credit."""
    byline = metadata.byline
    if byline is None:
        return metadata
    if match := _FOR_THE_PAPER.fullmatch(byline):
        paper = match[2].lower().capitalize()
        return _update(metadata, byline=match[1], credit=f"The {paper}")
    match = _FOR_THE_SOMETHING.fullmatch(byline)
    if match and _utf16_length(byline) == _TRUNCATED_LENGTH:
        for paper in _PAPERS:
            if paper.lower().startswith(match[2].lower()):
                return _update(metadata, byline=match[1], credit=f"The {paper}")
    return metadata


def _country_name(value: str) -> str:
    return _COUNTRIES.get(value.upper(), value) if len(value) in (2, 3) else value


def _guardian_style(value: str) -> str:
    """Curly apostrophes; no full stops after initials ("C. P. Scott" → "C P Scott")."""
    return _INITIAL_STOP.sub(r"\1 ", value.replace("'", "’")).strip()


def _join_initials(value: str) -> str:
    return _INITIALS.sub(r"\1\2", value)


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


def _rename_photographer(value: str) -> str:
    return _PHOTOGRAPHERS.get(value, value)


photographer_renamer = _map_fields(("byline",), _rename_photographer)


def drop_redundant_title(metadata: ImageMetadata) -> ImageMetadata:
    """The title is dropped when the description already starts with it."""
    title, description = metadata.title, metadata.description
    if title and description and description.startswith(title):
        return _update(metadata, title=None)
    return metadata


def xmp_head_string(file_metadata: FileMetadata, name: str) -> str | None:
    """Grid's readXmpHeadStringProp: a string value, or an array's first string."""
    value = file_metadata.xmp.get(name)
    if isinstance(value, list):
        return next((item for item in value if isinstance(item, str)), None)
    return value if isinstance(value, str) else None


def image_type(digital_source_type: str) -> str | None:
    """The Guardian image type for an IPTC digital source type URI (http or https)."""
    for prefix in _SOURCE_TYPE_PREFIXES:
        if digital_source_type.startswith(prefix):
            return _IMAGE_TYPES.get(digital_source_type.removeprefix(prefix))
    return None


def insert_guardian_image_type(
    metadata: ImageMetadata, file_metadata: FileMetadata
) -> ImageMetadata:
    """With a digital source type in the XMP, imageType becomes its image type (or unset)."""
    source_type = xmp_head_string(file_metadata, DIGITAL_SOURCE_TYPE)
    if source_type is None:
        return metadata
    return _update(metadata, imageType=image_type(source_type))


def _ignoring_file(cleaner: MetadataCleaner) -> Cleaner:
    def run(metadata: ImageMetadata, _file_metadata: FileMetadata) -> ImageMetadata:
        return cleaner(metadata)

    return run


#: Grid's order (MetadataCleaners, ending with the InsertGuardianImageType processor)
GUARDIAN: tuple[Cleaner, ...] = (
    *map(
        _ignoring_file,
        (
            _map_fields(LOCATION_FIELDS, _rubbish),  # CleanRubbishLocation
            _map_fields(("byline", "credit"), _strip_copyright),  # StripCopyrightPrefix
            redundant_token_remover,  # RedundantTokenRemover
            byline_credit_reorganise,  # BylineCreditReorganise
            _map_fields(("credit",), _canonical_credit),  # UseCanonicalGuardianCredit
            extract_guardian_credit_from_byline,  # ExtractGuardianCreditFromByline
            _map_fields(("country",), _country_name),  # CountryCode
            _map_fields(("byline",), _guardian_style),  # GuardianStyleByline
            _map_fields(("byline",), _capitalise),  # CapitaliseByline
            _map_fields(("byline",), _join_initials),  # InitialJoinerByline
            _map_fields(LOCATION_FIELDS, _capitalise_place),  # Capitalise{Country,...}
            drop_redundant_title,  # DropRedundantTitle
            photographer_renamer,  # PhotographerRenamer
        ),
    ),
    insert_guardian_image_type,  # InsertGuardianImageType
)


def clean(
    metadata: ImageMetadata,
    cleaners: tuple[Cleaner, ...],
    file_metadata: FileMetadata | None = None,
) -> ImageMetadata:
    file_metadata = file_metadata if file_metadata is not None else FileMetadata()
    for cleaner in cleaners:
        metadata = cleaner(metadata, file_metadata)
    return metadata
