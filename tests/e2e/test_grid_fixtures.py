"""End to end on the Grid's own loader test images: ingest, lose nothing, reingest, verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reingest.originals.base import UploadRecord
from reingest.originals.file import FileOriginalsStore

from .conftest import Cli, states_by_id, stats

pytestmark = pytest.mark.slow
#: each checked image's usage rights under Grid's default processors (guardian-cleaners,suppliers)
USAGE_RIGHTS: dict[str, dict[str, str]] = {
    "getty.jpg": {},  # no Getty Asset ID in its metadata, and no other supplier matches
    "pa.jpg": {"category": "agency", "supplier": "PA"},
    "corbis.jpg": {"category": "agency", "supplier": "Corbis"},
    "guardian-turner.jpg": {
        "category": "staff-photographer",
        "photographer": "Graham Turner",
        "publication": "The Guardian",
    },
    "cech.jpg": {
        "category": "agency",
        "supplier": "Getty Images",
        "suppliersCollection": "Getty Images Europe",
    },
}
METADATA_CHECKED = list(USAGE_RIGHTS)
#: where those processors change a field expected.json (the converter's output) asserts
PROCESSED: dict[str, dict[str, str | None]] = {
    "getty.jpg": {
        "byline": "Christof Stache",  # CapitaliseByline
        "title": None,  # DropRedundantTitle: the description starts with it
        "state": None,  # CleanRubbishLocation: "-"
        "city": "Kitzbuehel",  # CapitaliseCity
        "country": "Austria",  # CapitaliseCountry
    },
}


def expected_files(fixtures_dir: Path) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = json.loads((fixtures_dir / "expected.json").read_text())[
        "files"
    ]
    return files


def test_grid_images_end_verified_or_known_error_with_metadata_intact(
    cli: Cli, home: Path, fixtures_dir: Path
) -> None:
    files = expected_files(fixtures_dir)
    good = {name: spec for name, spec in files.items() if spec["outcome"] == "ok"}
    bad = {name: spec for name, spec in files.items() if spec["outcome"] != "ok"}

    ingested = cli("ingest", *(str(fixtures_dir / name) for name in good))
    assert f"stored {len(good)} new originals" in ingested.stdout

    # ingest refuses what the loader cannot read, so unreadable originals go straight into the
    # store, as damaged or legacy files would be
    refused = cli("ingest", *(str(fixtures_dir / name) for name in bad), check=False)
    assert refused.returncode == 1 and f"{len(bad)} refused" in refused.stdout
    store = FileOriginalsStore((home / "originals").as_uri())
    for name in bad:
        store.put((fixtures_dir / name).read_bytes(), UploadRecord(filename=name))

    # the two empty files share one id (the SHA-1 of no bytes)
    good_ids = {spec["sha1"] for spec in good.values()}
    bad_ids = {spec["sha1"] for spec in bad.values()}
    assert len(good_ids) == len(good) and len(bad_ids) == len(bad) - 1
    cli("ids", "upload", "-", stdin="\n".join(spec["sha1"] for spec in files.values()))
    cli("run", "--until-done", BATCH_SIZE="7")

    summary = stats(cli)
    assert summary["total"] == len(good_ids) + len(bad_ids)
    assert summary["counts"] == {"KnownError": len(bad_ids), "Verified": len(good_ids)}
    states = states_by_id(cli)
    assert all(states[spec["sha1"]] == 6 for spec in good.values())
    assert all(states[spec["sha1"]] == 4 for spec in bad.values())

    groups = json.loads(cli("failures", "--json").stdout)["groups"]
    reasons = {example: g["reason"] for g in groups for example in g["examples"]}
    assert sum(g["count"] for g in groups) == len(bad_ids)
    assert all(g["reason"] and g["state"] == "KnownError" for g in groups)
    empty_jpeg = files["thisisnotanimage.jpg"]["sha1"]
    if empty_jpeg in reasons:
        assert "File format could not be determined" in reasons[empty_jpeg]

    for name in METADATA_CHECKED:
        spec = files[name]
        document = json.loads(cli("show", spec["sha1"]).stdout)
        assert document["id"] == spec["sha1"]
        assert document["source"]["mimeType"] == spec["mimeType"]
        assert document["usageRights"] == document["originalUsageRights"] == USAGE_RIGHTS[name]
        processed = PROCESSED.get(name, {})
        for field, expected in spec["metadata"].items():
            if expected["basis"] != "asserted":
                continue
            actual = document["metadata"].get(field)
            if field in ("keywords", "peopleInImage"):
                assert set(actual) == set(expected["value"]), (name, field)
            else:
                assert actual == processed.get(field, expected["value"]), (name, field)


def test_show_exits_1_for_an_image_not_in_the_index(cli: Cli) -> None:
    result = cli("show", "0" * 40, check=False)
    assert result.returncode == 1 and "not in the index" in result.stderr
