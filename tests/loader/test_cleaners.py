"""The Guardian metadata cleaners: off by default, each one by example."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reingest.config import Settings
from reingest.errors import ConfigurationError
from reingest.loader import build_image
from reingest.loader.cleaners import GUARDIAN, chain, clean
from reingest.model import ImageMetadata
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


def test_a_title_repeated_by_the_description_is_dropped() -> None:
    assert cleaned(title="Storm", description="Storm hits the coast").title is None
    assert cleaned(title="Storm", description="A storm hits").title == "Storm"


def test_off_by_default_and_on_with_the_setting(fixture_bytes: ReadFixture) -> None:
    data = fixture_bytes("getty.jpg")
    stored = StoredOriginal("id", data, "file:///getty.jpg", UploadRecord("getty.jpg"), UPLOAD_TIME)
    plain = build_image(stored, UPLOAD_TIME).metadata
    guardian = build_image(stored, UPLOAD_TIME, cleaners=chain("guardian")).metadata
    assert plain.state == "-"
    assert guardian.state is None
    assert Settings.from_env({}).cleaners == "none"
    assert Settings.from_env({"REINGEST_CLEANERS": "guardian"}).cleaners == "guardian"
    with pytest.raises(ConfigurationError, match="CLEANERS"):
        Settings.from_env({"REINGEST_CLEANERS": "bogus"})
