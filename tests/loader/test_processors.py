"""The processor chain setting: names, order, defaults, the deprecated cleaners alias, errors."""

from __future__ import annotations

import pytest

from reingest.config import Settings
from reingest.errors import ConfigurationError
from reingest.loader.processors import DEFAULT_PROCESSORS, chain, guardian_cleaners
from reingest.loader.suppliers import SUPPLIER_PROCESSORS


def test_chains_are_comma_separated_names_in_order() -> None:
    assert chain("none") == ()
    assert chain(DEFAULT_PROCESSORS) == (guardian_cleaners, *SUPPLIER_PROCESSORS)
    assert chain(" suppliers , guardian-cleaners") == (*SUPPLIER_PROCESSORS, guardian_cleaners)
    assert chain("none,suppliers") == SUPPLIER_PROCESSORS


@pytest.mark.parametrize("setting", ["guardian", "suppliers,bogus", "", "suppliers,"])
def test_an_unknown_name_is_a_configuration_error_listing_the_valid_ones(setting: str) -> None:
    with pytest.raises(ConfigurationError, match="none, guardian-cleaners, suppliers"):
        chain(setting)


@pytest.mark.parametrize(
    ("env", "processors"),
    [
        ({}, "guardian-cleaners,suppliers"),
        ({"REINGEST_PROCESSORS": "none"}, "none"),
        ({"REINGEST_PROCESSORS": "suppliers"}, "suppliers"),
        ({"REINGEST_CLEANERS": "guardian"}, "guardian-cleaners"),
        ({"REINGEST_CLEANERS": "none"}, "none"),
        ({"REINGEST_PROCESSORS": "suppliers", "REINGEST_CLEANERS": "none"}, "suppliers"),
    ],
)
def test_the_setting_and_its_deprecated_alias(env: dict[str, str], processors: str) -> None:
    assert Settings.from_env(env).processors == processors


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REINGEST_PROCESSORS": "guardian"}, "PROCESSORS: unknown processors 'guardian'"),
        ({"REINGEST_CLEANERS": "suppliers"}, "CLEANERS .*none, guardian"),
    ],
)
def test_a_bad_setting_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)
