"""Grid's UsageRights as the JSON Play writes, and the Guardian's photographer configuration.

A usage right is kept as that JSON (``Image.usageRights`` is a dict): ``{"category": ..., then
the case class's fields in order}``, with ``None`` fields left out and NoRights written ``{}``.
Only the categories the supplier processors produce have constructors here; the metadata
mapper reads any category by its fields.

The photographer lists are Grid's ``GuardianUsageRightsConfig`` (the provider Grid's own
SupplierProcessorsTest loads): common-lib's application.conf ships empty lists, which would make
the photographer parser a no-op, and these images are the Guardian's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

UsageRights = dict[str, Any]
AGENCY = "agency"
STAFF_PHOTOGRAPHER = "staff-photographer"
CONTRACT_PHOTOGRAPHER = "contract-photographer"


def _rights(category: str, **fields: str | None) -> UsageRights:
    return {"category": category, **{k: v for k, v in fields.items() if v is not None}}


def agency(supplier: str, suppliers_collection: str | None = None) -> UsageRights:
    return _rights(AGENCY, supplier=supplier, suppliersCollection=suppliers_collection)


def staff_photographer(photographer: str, publication: str) -> UsageRights:
    return _rights(STAFF_PHOTOGRAPHER, photographer=photographer, publication=publication)


def contract_photographer(photographer: str, publication: str | None) -> UsageRights:
    return _rights(CONTRACT_PHOTOGRAPHER, photographer=photographer, publication=publication)


def rights_to_metadata(
    rights: UsageRights, copyright: str | None, staff_publications: frozenset[str]
) -> dict[str, str | None] | None:
    """Grid's UsageRightsMetadataMapper: the byline, credit, copyright and imageType a category
    implies (None: no opinion on that field), or None for a category that implies nothing."""
    category = rights.get("category")
    photographer, creator = rights.get("photographer"), rights.get("creator")
    publication = rights.get("publication")
    if category == STAFF_PHOTOGRAPHER:
        keeps_copyright = copyright is not None and copyright not in staff_publications
        return {
            "byline": photographer,
            "credit": publication,
            "copyright": copyright if keeps_copyright else publication,
            "imageType": "Photograph",
        }
    if category in (CONTRACT_PHOTOGRAPHER, "commissioned-photographer"):
        return {"byline": photographer, "credit": publication, "imageType": "Photograph"}
    if category in ("contract-illustrator", "commissioned-illustrator"):
        return {"byline": creator, "credit": publication, "imageType": "Illustration"}
    if category == "staff-illustrator":
        return {"byline": creator, "credit": creator, "imageType": "Illustration"}
    if category == "composite":
        return {"credit": rights.get("suppliers"), "imageType": "Composite"}
    if category == "screengrab":
        return {"credit": rights.get("source")}
    return None


@dataclass(frozen=True)
class PublicationPhotographer:
    """A name, working for its publication from ``start`` to ``end`` (whole UTC days,
    both inclusive; None = open-ended)."""

    name: str
    start: date | None = None
    end: date | None = None

    def active(self, moment: datetime) -> bool:
        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(), UTC)

        started = self.start is None or midnight(self.start) <= moment
        return started and (self.end is None or moment < midnight(self.end + timedelta(days=1)))


class Publication(NamedTuple):
    name: str
    photographers: tuple[PublicationPhotographer, ...]


def _publication(
    name: str,
    *names: str,
    dated: tuple[str, ...] = (),
    when: tuple[date | None, date | None] = (None, None),
) -> Publication:
    """Grid's order: the undated names, then ``dated`` ones, each active ``when`` (start, end)."""
    people = [PublicationPhotographer(n) for n in names]
    people += [PublicationPhotographer(n, *when) for n in dated]
    return Publication(name, tuple(people))


GUARDIAN = "The Guardian"
OBSERVER = "The Observer"
#: the day the Observer's contracted photographers moved to the Guardian
_MOVED = date(2025, 4, 28)
_UNTIL_MOVE = (None, _MOVED - timedelta(days=1))
_FROM_MOVE = (_MOVED, None)
_MOVED_NAMES = (
    "Andy Hall", "Antonio Olmos", "Gary Calton", "Jonathan Lovekin", "Karen Robinson",
    "Katherine Anne Rose", "Richard Saker", "Sophia Evans", "Suki Dhanda",
)  # fmt: skip

EXTERNAL_STAFF_PHOTOGRAPHERS = (
    _publication(
        GUARDIAN,
        "Ben Doherty", "Bill Code", "Calla Wahlquist", "David Sillitoe", "Graham Turner",
        "Helen Davidson", "Jill Mead", "Joshua Robertson", "Rachel Vere", "Roger Tooth",
        "Sean Smith", "Melissa Davey", "Michael Safi", "Michael Slezak", "Sean Smith",
        "Carly Earl", "Blake Sharp-Wiggins",
        # past
        "Dan Chung", "Denis Thorpe", "Don McPhee", "Frank Baron", "Frank Martin",
        "Garry Weaser", "Graham Finlayson", "Martin Argles", "Peter Johns", "Robert Smithies",
        "Tom Stuttard", "Tricia De Courcy Ling", "Walter Doughty", "Eric Wadsworth",
    ),
    _publication(
        OBSERVER,
        "David Newell Smith", "Tony McGrath", "Catherine Shaw", "John Reardon", "Sean Gibson",
    ),
)  # fmt: skip
#: people who are not photographers by trade but have taken photographs for the Guardian
INTERNAL_STAFF_PHOTOGRAPHERS = (
    _publication(
        GUARDIAN,
        "E Hamilton West", "Harriet St Johnston", "Lorna Roach", "Rachel Vere", "Ken Saunders",
    ),
)  # fmt: skip
CONTRACTED_PHOTOGRAPHERS = (
    _publication(OBSERVER, "Jane Bown", dated=_MOVED_NAMES, when=_UNTIL_MOVE),
    _publication(
        GUARDIAN,
        "Alicia Canter", "Antonio Olmos", "Christopher Thomond", "David Levene",
        "Eamonn McCabe", "Graeme Robertson", "Johanna Parkin", "Linda Nylind", "Louise Hagger",
        "Martin Godwin", "Mike Bowers", "Murdo MacLeod", "Sarah Lee", "Tom Jenkins",
        "Tristram Kenton", "Jill Mead",
        dated=_MOVED_NAMES,
        when=_FROM_MOVE,
    ),
)  # fmt: skip


def _by_publication(*groups: tuple[Publication, ...]) -> tuple[Publication, ...]:
    """Grid's flattenPublicationList: one entry per publication name, its lists joined."""
    joined: dict[str, tuple[PublicationPhotographer, ...]] = {}
    for publication in (p for group in groups for p in group):
        joined[publication.name] = joined.get(publication.name, ()) + publication.photographers
    return tuple(Publication(name, people) for name, people in joined.items())


STAFF_PHOTOGRAPHERS = _by_publication(INTERNAL_STAFF_PHOTOGRAPHERS, EXTERNAL_STAFF_PHOTOGRAPHERS)
STAFF_PUBLICATIONS = frozenset(p.name for p in STAFF_PHOTOGRAPHERS)


def _publication_of(
    publications: tuple[Publication, ...], byline: str, moment: datetime
) -> str | None:
    wanted = byline.lower()
    for publication in publications:
        if any(p.name.lower() == wanted and p.active(moment) for p in publication.photographers):
            return publication.name
    return None


def photographer_rights(byline: str, moment: datetime) -> UsageRights | None:
    """Grid's getPhotographer: staff first, then contracted, matched case-insensitively and
    active at ``moment``. Like Grid, the byline is kept as written, not the listed spelling."""
    if (publication := _publication_of(STAFF_PHOTOGRAPHERS, byline, moment)) is not None:
        return staff_photographer(byline, publication)
    if (publication := _publication_of(CONTRACTED_PHOTOGRAPHERS, byline, moment)) is not None:
        return contract_photographer(byline, publication)
    return None
