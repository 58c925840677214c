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


def asset(file: str, **fields: Any) -> dict[str, Any]:
    """An Asset as Grid writes it (``Asset.scala``)."""
    return {
        "file": file,
        "size": 12345,
        "mimeType": "image/jpeg",
        "dimensions": {"width": 800, "height": 600},
        "secureUrl": f"{file}?signature=abc",
        "orientationMetadata": {"exifOrientation": 6},
        "orientedDimensions": {"width": 600, "height": 800},
        "orientation": "portrait",
        **fields,
    }


def grid_image(image_id: str) -> dict[str, Any]:
    """An image with every part Grid's services write, in the shapes of Grid's model classes
    (``common-lib/.../model``): usages of every kind, leases, collections, exports (crops),
    user metadata with a photoshoot, syndication rights, a soft delete, and the fields only
    the index holds (``suggestMetadataCredit``, ``usagesPlatform``, ``esInfo``)."""
    metadata = {
        "dateTaken": "2019-06-01T12:00:00.000+01:00",
        "description": "A description",
        "credit": "Getty Images",
        "creditUri": "https://example.com/credit",
        "byline": "A Photographer",
        "bylineTitle": "Staff",
        "title": "A title",
        "copyright": "2019 Getty Images",
        "suppliersReference": "12345",
        "source": "Getty Images Europe",
        "specialInstructions": "None",
        "keywords": ["sport", "cricket"],
        "subLocation": "Headingley",
        "city": "Leeds",
        "state": "West Yorkshire",
        "country": "United Kingdom",
        "subjects": ["sport"],
        "peopleInImage": ["A Person"],
        "domainMetadata": {"specialist": {"rating": 5, "notes": ["a", "b"]}},
        "imageType": "Photograph",
    }
    rights = {"category": "agency", "supplier": "Getty Images", "suppliersCollection": "AFP"}
    usage = {
        "id": "composer/abc",
        "references": [{"type": "frontend", "uri": "https://www.theguardian.com/x", "name": "X"}],
        "platform": "digital",
        "media": "image",
        "status": "published",
        "dateAdded": "2020-01-02T00:00:00.000Z",
        "lastModified": "2020-01-02T00:00:00.000Z",
        "digitalUsageMetadata": {
            "webUrl": "https://www.theguardian.com/x",
            "webTitle": "X",
            "sectionId": "sport",
            "composerUrl": "https://composer/x",
        },
    }
    print_usage = {
        **usage,
        "id": "print/1",
        "platform": "print",
        "status": "pending",
        "digitalUsageMetadata": None,
        "printUsageMetadata": {
            "sectionName": "Sport",
            "issueDate": "2020-01-03T00:00:00.000Z",
            "pageNumber": 12,
            "storyName": "Story",
            "publicationCode": "gdn",
            "publicationName": "The Guardian",
            "layoutId": 1234567,
            "edition": 1,
            "size": {"x": 10, "y": 20},
            "orderedBy": "Someone",
            "sectionCode": "spt",
            "notes": "n",
            "source": "indesign",
        },
    }
    others = [
        {**usage, "id": f"{kind}/1", "platform": platform, "digitalUsageMetadata": None, kind: data}
        for kind, platform, data in [
            ("syndicationUsageMetadata", "syndication", {"partnerName": "P", "syndicatedBy": "s"}),
            ("frontUsageMetadata", "front", {"addedBy": "a", "front": "uk"}),
            ("downloadUsageMetadata", "download", {"downloadedBy": "d"}),
            ("childUsageMetadata", "child", {"addedBy": "a", "childMediaId": "c" * 40}),
        ]
    ]
    action = {"author": "someone@example.com", "date": "2020-01-04T00:00:00.000+00:00"}
    return image(
        image_id,
        identifiers={"picdarUrn": "12*543^25"},
        uploadInfo={"filename": "a.jpg"},
        source=asset("http://bucket/a"),
        thumbnail=asset("http://thumbs/a", size=2000),
        optimisedPng=asset("http://png/a", mimeType="image/png"),
        fileMetadata={
            "iptc": {"By-line": "A Photographer"},
            "exif": {"Make": "Canon"},
            "xmp": {"dc:subject": ["a", "b"], "xmpMM:History": [{"stEvt:action": "saved"}]},
            "colourModel": "RGB",
        },
        metadata=metadata,
        originalMetadata={k: v for k, v in metadata.items() if k != "description"},
        usageRights=rights,
        originalUsageRights={
            "category": "staff-photographer",
            "photographer": "P",
            "publication": "The Guardian",
        },
        exports=[
            {
                "id": "0_0_800_600",
                "author": "someone@example.com",
                "date": "2020-01-05T00:00:00.000Z",
                "specification": {
                    "uri": "https://api/images/x",
                    "bounds": {"x": 0, "y": 0, "width": 800, "height": 600},
                    "aspectRatio": "4:3",
                    "type": "crop",
                    "rotation": 0,
                },
                "master": asset("http://crops/master.jpg"),
                "assets": [asset("http://crops/800.jpg"), asset("http://crops/400.jpg")],
            }
        ],
        usages=[usage, print_usage, *others],
        usagesPlatform=["digital", "print"],
        usagesStatus=["published", "pending"],
        usagesLastModified="2020-01-02T00:00:00.000Z",
        leases={
            "leases": [
                {
                    "id": "lease-1",
                    "leasedBy": "someone@example.com",
                    "startDate": "2020-01-01T00:00:00.000Z",
                    "endDate": "2030-01-01T00:00:00.000Z",
                    "access": "allow-use",
                    "active": True,
                    "notes": "ok",
                    "mediaId": image_id,
                    "createdAt": "2020-01-01T00:00:00.000Z",
                }
            ],
            "lastModified": "2020-01-01T00:00:00.000Z",
        },
        collections=[
            {
                "path": ["sport", "cricket"],
                "pathId": "sport/cricket",
                "description": "cricket",
                "actionData": action,
            }
        ],
        userMetadata={
            "archived": True,
            "labels": ["label"],
            "metadata": {"title": "edited", "credit": ""},
            "usageRights": {"category": "handout", "restrictions": "Use only with credit"},
            "photoshoot": {"title": "A shoot", "suggest": {"input": ["A shoot"]}},
            "lastModified": "2020-01-06T00:00:00.000Z",
        },
        userMetadataLastModified="2020-01-06T00:00:00.000Z",
        syndicationRights={
            "published": "2020-01-07T00:00:00.000+00:00",
            "suppliers": [{"supplierName": "Getty", "supplierId": "g", "prAgreement": True}],
            "rights": [
                {
                    "rightCode": "SYND",
                    "acquired": True,
                    "properties": [
                        {
                            "propertyCode": "WTO",
                            "expiresOn": "2021-01-01T00:00:00.000+00:00",
                            "value": "x",
                        }
                    ],
                }
            ],
            "isInferred": False,
        },
        softDeletedMetadata={"deleteTime": "2020-01-08T00:00:00.000Z", "deletedBy": "someone"},
        suggestMetadataCredit={"input": ["Getty Images"]},
        esInfo={"migration": {"migratedTo": "images_2020", "failures": {"images_2019": "boom"}}},
        embedding={"cohereEmbedV4": {"image": [0.5] * 256}},
    )


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


def test_a_document_with_every_part_grid_writes_is_accepted(index: SearchIndex) -> None:
    document = grid_image("a")
    index.apply([DocumentUpdate.image(document, "2024-01-01T00:00:00.000Z")])
    assert index.get("a") == {**document, "lastModified": "2024-01-01T00:00:00.000Z"}


#: documents Grid's strict mapping refuses, and the reason Elasticsearch gives
REFUSED = [
    ({"foo": 1}, r"dynamic introduction of \[foo\] within \[_doc\] is not allowed"),
    (
        {"metadata": {"title": "t", "foo": "x"}},
        r"dynamic introduction of \[foo\] within \[metadata\] is not allowed",
    ),
    ({"uploadTime": "yesterday"}, r"failed to parse field \[uploadTime\] of type \[date\]"),
]


def test_a_document_the_mapping_refuses_is_not_written(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image("good"), "2024-01-01T00:00:00.000Z")])
    for fields, reason in REFUSED:
        bad = image("bad", **fields)
        with pytest.raises(Exception, match=reason):
            index.apply([DocumentUpdate.image(bad, "2024-01-01T00:00:00.000Z")])
        assert index.get("bad") is None
    assert index.count() == 1


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
