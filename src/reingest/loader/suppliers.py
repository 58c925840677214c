"""Grid's SupplierProcessors: recognise an agency or staff photographer, set usageRights, tidy
the credit (grid-model.md §2.1 step 12, after the cleaners).

Each processor is an ``Image → Image`` function, run in Grid's order; a later match replaces an
earlier one's usage rights. Grid's regular expressions are Java ones: ``.`` stops at any line
terminator, ``$`` also matches before a final one, and ``(?i)`` is ASCII-only, hence ``_DOT``,
``_END`` and ``re.ASCII`` below.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from reingest.dates import parse_iso
from reingest.loader.cleaners import java_split, xmp_head_string
from reingest.loader.usage_rights import (
    AGENCY,
    STAFF_PUBLICATIONS,
    UsageRights,
    agency,
    photographer_rights,
    rights_to_metadata,
)
from reingest.model import Image

Processor = Callable[[Image], Image]

_DOT = "[^\n\r\u0085\u2028\u2029]"
_END = "(?=(?:\r\n|[\n\r\u0085\u2028\u2029])?\\Z)"
_SLASH = re.compile("/")
_SPACE = re.compile(" ")
#: Java's String.trim: every char up to U+0020
_JAVA_BLANK = "".join(map(chr, range(0x21)))
_FIXTURE_ID = "Fixture Identifier"


def _updated(image: Image, rights: UsageRights | None = None, /, **metadata: str | None) -> Image:
    """A copy with new usage rights (unless None) and metadata fields."""
    changes: dict[str, object] = {"metadata": image.metadata.model_copy(update=metadata)}
    if rights is not None:
        changes["usageRights"] = rights
    return image.model_copy(update=changes)


def _or_own_reference(image: Image, reference: str | None) -> str | None:
    return image.metadata.suppliersReference if reference is None else reference


def _iptc_or_own_reference(image: Image, iptc_field: str) -> str | None:
    return _or_own_reference(image, image.fileMetadata.iptc.get(iptc_field))


def getty_xmp_parser(image: Image) -> Image:
    """Getty's own metadata (an Asset ID) → Getty Images, collection from a known Getty credit
    or else the source; a missing credit becomes "Getty Images"."""
    asset_id = image.fileMetadata.getty.get("Asset ID")
    if asset_id is None:
        return image
    credit = image.metadata.credit
    known = credit and next((c for c in _GETTY_CREDITS if c.lower() == credit.lower()), None)
    return _updated(
        image,
        agency("Getty Images", known or image.metadata.source),
        credit="Getty Images" if credit is None else credit,
        suppliersReference=asset_id,
    )


_GETTY_CREDITS = ("AFP", "FilmMagic", "WireImage", "Hulton")


def aap_parser(image: Image) -> Image:
    if image.metadata.credit in ("AAPIMAGE", "AAP IMAGE", "AAP"):
        return _updated(image, agency("AAP"), credit="AAP")
    return image


def action_images_parser(image: Image) -> Image:
    credits = ("Action Images", "Action Images/Reuters", "Action images/Reuters")
    if image.metadata.credit in (*credits, "Action Images/REUTERS"):
        return _updated(
            image,
            agency("Action Images"),
            credit="Action Images/Reuters",
            suppliersReference=_iptc_or_own_reference(image, _FIXTURE_ID),
        )
    return image


def alamy_parser(image: Image) -> Image:
    """Not "Alamy Live News": those rights only start 48 hours after upload."""
    credit = image.metadata.credit
    if credit is not None and "Alamy" in credit and "Alamy Live News" not in credit:
        return _updated(image, agency("Alamy"), credit=credit.replace("Alamy Stock Photo", "Alamy"))
    return image


_INVISION_FOR = re.compile(f"invision for {_DOT}+")
_INTERMEDIARY_AP = re.compile(f"{_DOT}+/ap")
_AP_SUFFIX = re.compile(f"/ap{_END}", re.ASCII | re.IGNORECASE)


def ap_parser(image: Image) -> Image:
    credit = image.metadata.credit
    if credit is None:
        return image
    reference = _or_own_reference(
        image, xmp_head_string(image.fileMetadata, "plus:ImageSupplierImageID")
    )
    lowered = credit.lower()
    if lowered in ("ap", "ap photo", "associated press"):
        return _updated(image, agency("AP"), credit="AP", suppliersReference=reference)
    if lowered in ("invision", "invision/ap") or _INVISION_FOR.fullmatch(lowered):
        return _updated(image, agency("AP", "Invision"), suppliersReference=reference)
    if _INTERMEDIARY_AP.fullmatch(lowered):
        return _updated(
            image,
            agency("AP", _AP_SUFFIX.sub("", credit)),
            credit=_AP_SUFFIX.sub("/AP", credit),
            suppliersReference=reference,
        )
    return image


def corbis_parser(image: Image) -> Image:
    return _updated(image, agency("Corbis")) if image.metadata.source == "Corbis" else image


_EPA = re.compile(rf"{_DOT}*\bEPA\b{_DOT}*")


def epa_parser(image: Image) -> Image:
    credit = image.metadata.credit
    if credit is not None and _EPA.fullmatch(credit):
        reference = _iptc_or_own_reference(image, "Unique Document Identifier")
        return _updated(image, agency("EPA"), suppliersReference=reference)
    return image


_PA_CREDITS = (
    "PA Wire/PA Images", "PA Wire/PA Photos", "PA Wire/Press Association Images",
    "PA Archive/PA Photos", "PA Archive/PA Images", "PA Archive/Press Association Ima",
    "PA Archive/Press Association Images", "PA", "PA WIRE", "PA Archive",
    "Press Association Images",
)  # fmt: skip
_PA_CREDIT = re.compile(
    rf"^(?:({_DOT}*)/)?(?:{'|'.join(map(re.escape, _PA_CREDITS))})(?:/({_DOT}*))?{_END}",
    re.ASCII | re.IGNORECASE,
)


def _pa_credit(value: str | None) -> str | None:
    """A PA credit anywhere in a slash list moves to the end, as "PA"."""
    match = _PA_CREDIT.search(value) if value is not None else None
    if match is None:
        return None
    return "/".join([*(part for part in match.groups() if part is not None), "PA"])


def pa_parser(image: Image) -> Image:
    credit = _pa_credit(image.metadata.credit) or _pa_credit(image.metadata.source)
    return image if credit is None else _updated(image, agency("PA"), credit=credit)


_REUTERS = re.compile(f" ?(/ ?)?(via )?(reuters|retuers|reuetrs)/?{_END}", re.ASCII | re.I)


def _java_trim(value: str) -> str:
    return value.strip(_JAVA_BLANK)


def _reuters_credit(credit: str) -> str | None:
    """Reuters' own credits (misspellings too), normalised to end in "/Reuters"."""
    lowered = credit.lower()
    if (
        "reuters" in lowered
        and "agencja" in lowered
        and ("wyborcza" in lowered or "gazeta" in lowered)
    ):
        return "Agencja Wyborcza.pl/Reuters"
    if _REUTERS.search(credit) and "action images" not in lowered:
        parts = (_java_trim(part) for part in (_REUTERS.sub("", credit, count=1), "Reuters"))
        return "/".join(part for part in parts if part)
    return None


def reuters_parser(image: Image) -> Image:
    """USA Today Sports (known by its copyright: its credits vary) comes through Reuters."""
    copyright, credit = image.metadata.copyright, image.metadata.credit
    if copyright is not None and copyright.upper() == "USA TODAY SPORTS":
        credit = "USA Today Sports"
    elif credit is not None:
        credit = _reuters_credit(credit)
    else:
        return image
    if credit is None:
        return image
    reference = _iptc_or_own_reference(image, _FIXTURE_ID)
    return _updated(image, agency("Reuters"), credit=credit, suppliersReference=reference)


_REX_SOURCES = ("Rex Features", "REX/Shutterstock", "Shutterstock", "Shutterstock Editorial")
_SLASH_REX = re.compile(f"{_DOT}+/ Rex Features")
_BLANKS_AND_SLASHES = re.compile(r"[\s/]", re.ASCII)


def _mandatory_credit(suppliers_reference: str) -> re.Pattern[str]:
    return re.compile(
        f"Mandatory Credit: Photo by ({_DOT}*) \\({re.escape(suppliers_reference)}\\)\n"
    )


def _remove_as_java_regex(text: str, pattern: str) -> str:
    """Grid removes each byline and credit part as a regular expression; one that is not a
    valid pattern (Java would throw and fail the upload) is removed as plain text instead."""
    try:
        return re.sub(pattern, "", text)
    except re.error:
        return text.replace(pattern, "")


def _credit_line_accounted_for(
    image: Image, description: str, credit_line: re.Pattern[str]
) -> bool:
    """Every name in the description's "Mandatory Credit: Photo by …" line is the byline or a
    part of the credit (so the line says nothing the metadata does not)."""
    match = credit_line.search(description)
    if match is None:
        return True
    metadata = image.metadata
    names = [metadata.byline] if metadata.byline is not None else []
    names += java_split(metadata.credit, _SLASH) if metadata.credit is not None else []
    rest = match[1].lower()
    for name in names:
        rest = _remove_as_java_regex(rest, name.lower())
    return not _BLANKS_AND_SLASHES.sub("", rest)


def _rex_description(image: Image, description: str) -> str:
    instructions = image.metadata.specialInstructions
    if instructions is not None:
        description = description.replace(f"{instructions}\n", "")
    reference = image.metadata.suppliersReference
    if reference is not None:
        credit_line = _mandatory_credit(reference)
        if _credit_line_accounted_for(image, description, credit_line):
            description = credit_line.sub("", description)
    return description


def rex_parser(image: Image) -> Image:
    """Rex/Shutterstock, unless exclusive (then no rights at all); the description loses its
    special-instructions line and a credit line the metadata already accounts for."""
    metadata = image.metadata
    slash_rex = metadata.credit is not None and _SLASH_REX.fullmatch(metadata.credit)
    if metadata.source not in _REX_SOURCES and not slash_rex:
        return image
    instructions = metadata.specialInstructions
    exclusive = instructions is not None and instructions.lower().startswith("exclusive")
    description = metadata.description
    return _updated(
        image,
        {} if exclusive else agency("Rex Features"),
        description=None if description is None else _rex_description(image, description),
    )


def ronald_grant_parser(image: Image) -> Image:
    if image.metadata.credit in ("www.ronaldgrantarchive.com", "Ronald Grant Archive"):
        return _updated(image, agency("Ronald Grant Archive"), credit="Ronald Grant")
    return image


def _to_option(value: str | None) -> str | None:
    return value if value is not None and _java_trim(value) else None


def _capitalise(word: str) -> str:
    """Scala's capitalize: the first char upper-cased (when that stays one char)."""
    first = word[:1].upper()
    return first + word[1:] if len(first) == 1 else word


def _init_cap(value: str | None) -> str | None:
    """Lower-cased, then each space- and slash-separated word capitalised."""
    if value is None:
        return None
    spaced = " ".join(map(_capitalise, java_split(value.lower(), _SPACE)))
    return "/".join(map(_capitalise, java_split(spaced, _SLASH)))


@dataclass(frozen=True)
class _Around:
    """What surrounds the canonical name in a slash list."""

    prefix: str | None
    suffix: str | None

    def joined(self, *extra: str) -> str | None:
        parts = [part for part in (self.prefix, self.suffix) if part is not None] + list(extra)
        return "/".join(parts) if parts else None


@dataclass(frozen=True)
class CanonicalisingProcessor:
    """Grid's CanonicalisingImageProcessor: where the byline or credit names the agency in any
    spelling, the credit names it once, canonically, last; the byline loses it and whatever the
    credit already says; usageRights gets the agency with the rest of the credit as collection."""

    agency: str
    canonical: str
    #: a whole slash list naming the agency, with groups ``prefix`` and ``suffix``
    pattern: re.Pattern[str]

    def around(self, value: str | None) -> _Around | None:
        match = self.pattern.fullmatch(value) if value is not None else None
        if match is None:
            return None
        return _Around(_to_option(match["prefix"]), _to_option(match["suffix"]))

    def __call__(self, image: Image) -> Image:
        metadata = image.metadata
        if self.canonical not in (metadata.byline or "") + (metadata.credit or ""):
            return image
        byline, credit = metadata.byline, self._deduplicated(metadata.credit)
        rights = image.usageRights
        if (in_byline := self.around(byline)) is not None:
            if credit is None:
                credit = self.canonical
            elif self.around(credit) is None:
                credit = f"{credit}/{self.canonical}"
            byline = in_byline.joined()
        if byline is not None and credit is not None:
            credited = set(java_split(credit, _SLASH))
            kept = (part for part in java_split(byline, _SLASH) if part not in credited)
            byline = _to_option("/".join(kept))
        if (in_credit := self.around(credit)) is not None:
            credit = _init_cap(in_credit.joined(self.canonical))
        if (in_credit := self.around(credit)) is not None:
            rights = agency(self.agency, _init_cap(in_credit.joined()))
        collection = rights.get("suppliersCollection") if rights.get("category") == AGENCY else None
        if collection is not None and byline is not None and collection.lower() == byline.lower():
            # the byline only repeats the collection: drop it, but keep its (nicer) casing
            rights = {**rights, "suppliersCollection": byline}
            credit = credit.replace(collection, byline) if credit is not None else None
            byline = None
        return _updated(image, rights, byline=byline, credit=credit)

    def _deduplicated(self, credit: str | None) -> str | None:
        """Every spelling of the agency in the credit → the canonical name, kept once."""
        if credit is None:
            return None
        parts: list[str] = []
        for part in java_split(credit, _SLASH):
            if self.around(part) is None:
                parts.append(part)
            elif self.canonical not in parts:
                parts.append(self.canonical)
        return "/".join(parts)


def _slash_list(name: str) -> re.Pattern[str]:
    return re.compile(f"(?:(?P<prefix>{_DOT}*)/)?{name}(?:/(?P<suffix>{_DOT}*))?")


allstar_sportsphoto_parser = CanonicalisingProcessor(
    "Allstar Picture Library", "Sportsphoto", _slash_list(r"Sportsphoto(?: Ltd\.?)?(?: Limited)?")
)
allstar_parser = CanonicalisingProcessor(
    "Allstar Picture Library", "Allstar", _slash_list("Allstar(?: Picture Library)?")
)


def _moment(image: Image) -> datetime:
    return parse_iso(image.metadata.dateTaken or image.uploadTime)


def photographer_parser(image: Image) -> Image:
    """A Guardian or Observer staff or contracted photographer's byline (at the date taken,
    else the upload) → their usage rights and the publication as credit, when no supplier
    processor has set usage rights."""
    byline = image.metadata.byline
    if image.usageRights or byline is None:
        return image
    rights = photographer_rights(byline, _moment(image))
    if rights is None:
        return image
    return _updated(image, rights, credit=rights["publication"], byline=rights["photographer"])


def usage_rights_to_metadata(image: Image) -> Image:
    """The byline, credit, copyright and image type the usage rights imply replace the file's
    (runs last: it reads what the processors before it decided)."""
    metadata = image.metadata
    implied = rights_to_metadata(image.usageRights, metadata.copyright, STAFF_PUBLICATIONS)
    if implied is None:
        return image
    fields = ("byline", "credit", "copyright", "imageType")
    changes = {name: implied[name] for name in fields if implied.get(name) is not None}
    return _updated(image, **changes)


#: Grid's order
SUPPLIER_PROCESSORS: tuple[Processor, ...] = (
    getty_xmp_parser,
    aap_parser,
    action_images_parser,
    alamy_parser,
    ap_parser,
    corbis_parser,
    epa_parser,
    pa_parser,
    reuters_parser,
    rex_parser,
    ronald_grant_parser,
    allstar_sportsphoto_parser,
    allstar_parser,
    photographer_parser,
    usage_rights_to_metadata,
)
