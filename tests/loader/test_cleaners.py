"""The Guardian metadata cleaners, each one by example, and as the guardian-cleaners processor."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reingest.loader import build_image
from reingest.loader.cleaners import (
    GUARDIAN,
    byline_credit_reorganise,
    clean,
    extract_guardian_credit_from_byline,
    insert_guardian_image_type,
    photographer_renamer,
    redundant_token_remover,
)
from reingest.loader.processors import chain
from reingest.model import FileMetadata, ImageMetadata
from reingest.originals.base import StoredOriginal, UploadRecord

ReadFixture = Callable[[str], bytes]
UPLOAD_TIME = "2024-01-01T00:00:00.000Z"


def cleaned(**fields: str) -> ImageMetadata:
    return clean(ImageMetadata.model_validate(fields), GUARDIAN)


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("state", "-", None),  # CleanRubbishLocation
        ("city", " . ", None),
        ("byline", "© Jane Smith", "Jane Smith"),  # StripCopyrightPrefix
        ("credit", "Copyright: AFP", "AFP"),
        ("credit", "Copyright of Acme Corporation", "Acme Corporation"),
        ("credit", "(c) Reuters", "Reuters"),
        ("credit", "AFP/Getty Images/Handout", "AFP/Getty Images"),  # RedundantTokenRemover
        ("byline", "STR", None),
        ("credit", "Guardian", "The Guardian"),  # UseCanonicalGuardianCredit
        ("country", "GB", "United Kingdom"),  # CountryCode
        ("country", "fra", "France"),
        ("country", "Narnia", "Narnia"),
        ("byline", "Sean O'Hagan", "Sean O’Hagan"),  # GuardianStyleByline
        ("byline", "C. P. Scott", "CP Scott"),  # + InitialJoinerByline
        ("byline", "JANE SMITH-JONES", "Jane Smith-Jones"),  # CapitaliseByline
        ("byline", "Jane McDonald", "Jane McDonald"),  # mixed case is left alone
        ("city", "STRATFORD UPON AVON", "Stratford upon Avon"),  # CapitaliseCity
        ("subLocation", "trafalgar square", "Trafalgar Square"),
    ],
)
def test_each_cleaner(field: str, raw: str, expected: str | None) -> None:
    assert getattr(cleaned(**{field: raw}), field) == expected


def metadata(**fields: str) -> ImageMetadata:
    return ImageMetadata.model_validate(fields)


# Grid's RedundantTokenRemoverTest, with both separators seen in the wild
@pytest.mark.parametrize("sep", ["/", " / "])
@pytest.mark.parametrize(
    ("byline", "credit", "clean_byline", "clean_credit"),
    [
        ("HANDOUT", "HANDOUT", None, "HANDOUT"),  # a credit is never emptied
        ("HANDOUT{sep}Byline", "POOL{sep}Credit", "Byline", "Credit"),
        ("Byline", "POOL{sep}Credit", "Byline", "Credit"),
        ("Byline", "POOL{sep}HANDOUT", "Byline", "HANDOUT"),  # the rightmost token is kept
        ("HANDOUT", "Credit", None, "Credit"),
        ("Byline", "Credit", "Byline", "Credit"),
    ],
)
def test_redundant_token_remover(
    sep: str, byline: str, credit: str, clean_byline: str | None, clean_credit: str
) -> None:
    raw = metadata(byline=byline.format(sep=sep), credit=credit.format(sep=sep))
    result = redundant_token_remover(raw)
    assert (result.byline, result.credit) == (clean_byline, clean_credit)


# Grid's BylineCreditReorganiseTest
@pytest.mark.parametrize(
    ("byline", "credit", "clean_byline", "clean_credit"),
    [
        ("Ilyas Akengin", "AFP/Getty Images", "Ilyas Akengin", "AFP/Getty Images"),
        ("Man /In /Suit", "Presseye/ INPHO /REX", "Man", "In/Suit/Presseye/INPHO/REX"),
        ("Ella/BPI/REX", "Ella Ling/BPI/REX", "Ella", "Ella Ling/BPI/REX"),
        ("Ella Ling/BPI/REX", "Ella Ling/BPI/REX", "Ella Ling", "BPI/REX"),
        ("Joe Newman / National Pictures", "Joe Newman / National Pictures", "Joe Newman",
         "National Pictures"),
        ("Andy Rowland", "Andy Rowland/UK Sports Pics Ltd", "Andy Rowland", "UK Sports Pics Ltd"),
        ("Barcroft Media", "Barcroft Media", "Barcroft Media", "Barcroft Media"),
        ("Barcroft Media", "Philip Glass", "Barcroft Media", "Philip Glass"),
        ("Philip Glass/Barcroft Media", "Barcroft Media", "Philip Glass", "Barcroft Media"),
        ("", "Barcroft Media", "", "Barcroft Media"),
        ("John Doe", "", "John Doe", ""),
        ("John Doe/BPI/REX", "", "John Doe", "BPI/REX"),
    ],
)  # fmt: skip
def test_byline_credit_reorganise(
    byline: str, credit: str, clean_byline: str, clean_credit: str
) -> None:
    result = byline_credit_reorganise(metadata(byline=byline, credit=credit))
    assert (result.byline, result.credit) == (clean_byline, clean_credit)


# Grid's ExtractGuardianCreditFromBylineTest, plus a byline truncated at 31 characters
@pytest.mark.parametrize(
    ("fields", "clean_byline", "clean_credit"),
    [
        ({"byline": "Helmut Schon", "credit": "Getty Images"}, "Helmut Schon", "Getty Images"),
        ({"byline": "Helmut Schon for the Guardian"}, "Helmut Schon", "The Guardian"),
        ({"byline": "Helmut Schon for The GUARDIAN"}, "Helmut Schon", "The Guardian"),
        ({"byline": "Helmut Schon for the Guardian."}, "Helmut Schon", "The Guardian"),
        ({"byline": "Helmut Schon for the Guardian", "credit": "Whatever"}, "Helmut Schon",
         "The Guardian"),
        ({"byline": "Helmut Schon for the Observer", "credit": "Whatever"}, "Helmut Schon",
         "The Observer"),
        ({"byline": "Helmut Schonberger for the Guar"}, "Helmut Schonberger", "The Guardian"),
        ({"byline": "Helmut Schonberger for the Obse"}, "Helmut Schonberger", "The Observer"),
        ({"byline": "Helmut Schon for the Guar"}, "Helmut Schon for the Guar", None),
    ],
)  # fmt: skip
def test_extract_guardian_credit_from_byline(
    fields: dict[str, str], clean_byline: str, clean_credit: str | None
) -> None:
    result = extract_guardian_credit_from_byline(metadata(**fields))
    assert (result.byline, result.credit) == (clean_byline, clean_credit)


# Grid's PhotographerRenamerTest: only a whole, known byline is renamed
@pytest.mark.parametrize(
    ("byline", "expected"),
    [
        ("Czarek Sokolowski", "Czarek Sokołowski"),
        ("Sam Cutler", "Sam Cutler"),
        ("Czarek Sokolowski/Agencja Gazeta", "Czarek Sokolowski/Agencja Gazeta"),
    ],
)
def test_photographer_renamer(byline: str, expected: str) -> None:
    assert photographer_renamer(metadata(byline=byline)).byline == expected


# Grid's InsertGuardianImageTypeTest, plus https, an XMP array and no source type at all
@pytest.mark.parametrize(
    ("source_type", "expected"),
    [
        ("http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture", "Photograph"),
        ("http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation", "Illustration"),
        ("http://cv.iptc.org/newscodes/digitalsourcetype/composite", "Composite"),
        ("http://cv.iptc.org/newscodes/digitalsourcetype/print", None),
        ("https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia", "Illustration"),
        (["http://cv.iptc.org/newscodes/digitalsourcetype/negativeFilm"], "Photograph"),
        ("http://cv.iptc.org/newscodes/digitalsourcetype/somethingNew", None),
    ],
)
def test_insert_guardian_image_type(source_type: str | list[str], expected: str | None) -> None:
    file_metadata = FileMetadata(xmp={"Iptc4xmpExt:DigitalSourceType": source_type})
    typed = metadata(imageType="Photograph") if expected is None else metadata()
    assert insert_guardian_image_type(typed, file_metadata).imageType == expected
    # with no source type, imageType is left alone
    assert insert_guardian_image_type(typed, FileMetadata()).imageType == typed.imageType


def test_the_chain_runs_in_grids_order() -> None:
    # RedundantTokenRemover, then BylineCreditReorganise, then PhotographerRenamer
    result = cleaned(byline="Czarek Sokolowski / Agencja Gazeta", credit="HANDOUT / Reuters")
    assert (result.byline, result.credit) == ("Czarek Sokołowski", "Agencja Gazeta/Reuters")
    # InsertGuardianImageType reads the file metadata clean() is given
    xmp = {"Iptc4xmpExt:DigitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/print"}
    typed = clean(metadata(imageType="Photograph"), GUARDIAN, FileMetadata(xmp=xmp))
    assert typed.imageType is None


def test_a_title_repeated_by_the_description_is_dropped() -> None:
    assert cleaned(title="Storm", description="Storm hits the coast").title is None
    assert cleaned(title="Storm", description="A storm hits").title == "Storm"


def test_the_guardian_cleaners_processor_cleans_the_image_metadata(
    fixture_bytes: ReadFixture,
) -> None:
    data = fixture_bytes("getty.jpg")
    stored = StoredOriginal("id", data, "file:///getty.jpg", UploadRecord("getty.jpg"), UPLOAD_TIME)
    plain = build_image(stored, UPLOAD_TIME, processors=chain("none"))
    guardian = build_image(stored, UPLOAD_TIME, processors=chain("guardian-cleaners"))
    assert (plain.metadata.state, plain.metadata.byline) == ("-", "CHRISTOF STACHE")
    assert (guardian.metadata.state, guardian.metadata.byline) == (None, "Christof Stache")
    assert guardian.originalMetadata == guardian.metadata
    assert guardian.usageRights == guardian.originalUsageRights == {}
