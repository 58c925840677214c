"""Behaviour every search-index backend must show: Grid thrall's upsert semantics included.

The Elasticsearch backend joins the parameters when REINGEST_TEST_ES_URL is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reingest.index.base import SearchIndex
from reingest.index.documents import DocumentUpdate


@pytest.fixture(params=["sqlite", "elasticsearch"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchIndex]:
    from reingest.backends import open_backend

    if request.param == "elasticsearch":
        es_url = os.environ.get("REINGEST_TEST_ES_URL")
        if not es_url:
            pytest.skip(
                "no Elasticsearch server: set REINGEST_TEST_ES_URL=http://HOST:9200 to run "
                "this suite against one (a fresh index is made per test and dropped after)"
            )
        url = f"{es_url.rstrip('/')}/reingest-test-{uuid.uuid4().hex[:12]}"
    else:
        url = f"sqlite:///{tmp_path}/index.db"
    backend = open_backend("index", url, SearchIndex)
    backend.clear()
    yield backend
    if request.param == "elasticsearch":
        backend.client.indices.delete(index=backend.index)  # type: ignore[attr-defined]
    backend.close()


def image(image_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": image_id,
        "uploadTime": "2020-01-01T00:00:00.000Z",
        "uploadedBy": "someone",
        "identifiers": {},
        "metadata": {"title": "from file"},
        "originalMetadata": {"title": "from file"},
        "usageRights": {},
        "originalUsageRights": {},
        "usages": [],
        **fields,
    }


def test_a_new_image_is_inserted_stamped_with_the_message_time(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image("a"), "2024-01-01T00:00:00.000Z")])
    document = index.get("a")
    assert document is not None
    assert document["lastModified"] == "2024-01-01T00:00:00.000Z"
    assert document["metadata"] == {"title": "from file"}
    assert index.count() == 1
    assert index.get("missing") is None


def test_get_many_returns_only_existing_documents(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image(i), "2024-01-01T00:00:00.000Z") for i in "abc"])
    assert sorted(index.get_many(["a", "c", "zzz"])) == ["a", "c"]


def test_reapplying_keeps_fields_other_services_own_and_refreshes_metadata(
    index: SearchIndex,
) -> None:
    first = image(
        "a",
        usages=[{"id": "u1"}],
        userMetadata={
            "archived": False,
            "labels": [],
            "metadata": {"title": "edited", "credit": ""},
        },
        identifiers={"old": "1"},
    )
    index.apply([DocumentUpdate.image(first, "2024-01-01T00:00:00.000Z")])
    again = image(
        "a",
        usages=[],
        identifiers={"new": "2"},
        originalMetadata={"title": "re-read", "credit": "AFP"},
    )
    index.apply([DocumentUpdate.image(again, "2024-02-01T00:00:00.000Z")])
    document = index.get("a")
    assert document is not None
    assert document["usages"] == [{"id": "u1"}]
    assert document["identifiers"] == {"old": "1", "new": "2"}
    assert document["metadata"] == {"title": "edited", "credit": "AFP"}
    assert document["lastModified"] == "2024-02-01T00:00:00.000Z"


def test_an_older_projection_never_replaces_a_newer_document(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image("a"), "2024-03-01T00:00:00.000Z")])
    stale = image("a", originalMetadata={"title": "stale"}, metadata={"title": "stale"})
    index.apply([DocumentUpdate.image(stale, "2024-01-01T00:00:00.000Z")])
    document = index.get("a")
    assert document is not None
    assert document["metadata"] == {"title": "from file"}
    assert document["lastModified"] == "2024-03-01T00:00:00.000Z"


def test_applying_the_same_message_twice_is_harmless(index: SearchIndex) -> None:
    update = DocumentUpdate.image(image("a"), "2024-01-01T00:00:00.000Z")
    index.apply([update])
    once = index.get("a")
    index.apply([update])
    assert index.get("a") == once and index.count() == 1


def test_delete_and_clear(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image(i), "2024-01-01T00:00:00.000Z") for i in "abc"])
    assert index.delete("a") is True
    assert index.delete("a") is False
    assert index.clear() == 2
    assert index.count() == 0


def edits(title: str, last_modified: str) -> dict[str, Any]:
    return {
        "archived": False,
        "labels": [],
        "metadata": {"title": title},
        "lastModified": last_modified,
    }


def test_user_edits_replace_user_metadata_and_refresh_metadata(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image("a"), "2024-01-01T00:00:00.000Z")])
    index.apply(
        [
            DocumentUpdate.user_metadata(
                "a", edits("edited", "2024-02-01T00:00:00.000Z"), "2024-02-01T00:00:01.000Z"
            )
        ]
    )
    document = index.get("a")
    assert document is not None
    assert document["metadata"]["title"] == "edited"
    assert document["userMetadata"]["metadata"] == {"title": "edited"}
    assert document["userMetadataLastModified"] == "2024-02-01T00:00:00.000Z"
    assert document["lastModified"] == "2024-02-01T00:00:01.000Z"


def test_older_edits_and_edits_of_missing_images_change_nothing(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image("a"), "2024-01-01T00:00:00.000Z")])
    newer = edits("newer", "2024-03-01T00:00:00.000Z")
    older = edits("older", "2024-02-01T00:00:00.000Z")
    index.apply([DocumentUpdate.user_metadata("a", newer, "2024-03-01T00:00:00.000Z")])
    index.apply([DocumentUpdate.user_metadata("a", older, "2024-02-01T00:00:00.000Z")])
    index.apply([DocumentUpdate.user_metadata("zzz", newer, "2024-03-01T00:00:00.000Z")])
    document = index.get("a")
    assert document is not None and document["metadata"]["title"] == "newer"
    assert index.get("zzz") is None and index.count() == 1


def test_a_reingested_image_keeps_the_users_edits(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image("a"), "2024-01-01T00:00:00.000Z")])
    index.apply(
        [
            DocumentUpdate.user_metadata(
                "a", edits("edited", "2024-02-01T00:00:00.000Z"), "2024-02-01T00:00:00.000Z"
            )
        ]
    )
    reread = image("a", originalMetadata={"title": "re-read", "credit": "PA"})
    index.apply([DocumentUpdate.image(reread, "2024-03-01T00:00:00.000Z")])
    document = index.get("a")
    assert document is not None
    assert document["metadata"] == {"title": "edited", "credit": "PA"}


def test_search_finds_every_word_and_filters_by_field(index: SearchIndex) -> None:
    index.apply(
        [
            DocumentUpdate.image(
                image(
                    "a",
                    uploadTime="2024-01-02T00:00:00.000Z",
                    uploadedBy="alice",
                    metadata={"title": "Cricket at Headingley"},
                ),
                "2024-01-02T00:00:00.000Z",
            ),
            DocumentUpdate.image(
                image(
                    "b",
                    uploadTime="2024-01-03T00:00:00.000Z",
                    uploadedBy="bob",
                    metadata={"title": "Cricket in Leeds"},
                ),
                "2024-01-03T00:00:00.000Z",
            ),
        ]
    )
    total, found = index.search("cricket", {}, limit=10, offset=0)
    assert total == 2 and [d["id"] for d in found] == ["b", "a"]  # newest upload first
    total, found = index.search("cricket headingley", {}, limit=10, offset=0)
    assert (total, [d["id"] for d in found]) == (1, ["a"])
    total, found = index.search(None, {"uploadedBy": "bob"}, limit=10, offset=0)
    assert (total, [d["id"] for d in found]) == (1, ["b"])
    total, found = index.search("cricket", {}, limit=1, offset=1)
    assert (total, [d["id"] for d in found]) == (2, ["a"])
