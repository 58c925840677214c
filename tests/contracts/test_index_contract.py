"""Behaviour every search-index backend must show: Grid thrall's upsert semantics included.

The Elasticsearch backend joins the parameters when REINGEST_TEST_ES_URL is set. Reads by id
see writes at once; counting, listing ids and searching may wait for ``refresh()``.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reingest.errors import ConfigurationError
from reingest.index.base import AliasChange, SearchIndex, new_index_name
from reingest.index.documents import DELETE_IMAGE, REINGEST_IMAGE, DocumentUpdate
from reingest.index.mapping import MAPPING
from reingest.index.mirroring import Mirror


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
        for name in {backend.resolve(), *getattr(backend, "made_by_test", ())} - {None}:
            backend.delete_index(str(name))
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
    assert index.get("missing") is None
    index.refresh()
    assert index.count() == 1


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
        identifiers={"old": "1", "both": "old"},
    )
    index.apply([DocumentUpdate.image(first, "2024-01-01T00:00:00.000Z")])
    inserted = index.get("a")
    assert inserted is not None and inserted["metadata"] == {"title": "from file"}  # no refresh
    again = image(
        "a",
        uploadTime="2030-01-01T00:00:00.000Z",
        uploadedBy="someone else",
        usages=[],
        identifiers={"new": "2", "both": "new"},
        metadata={"title": "re-read", "credit": "AFP"},
        originalMetadata={"title": "re-read", "credit": "AFP"},
    )
    index.apply([DocumentUpdate.image(again, "2024-02-01T00:00:00.000Z")])
    document = index.get("a")
    assert document is not None
    assert document["usages"] == [{"id": "u1"}]
    assert (document["uploadTime"], document["uploadedBy"]) == (first["uploadTime"], "someone")
    assert document["identifiers"] == {"old": "1", "new": "2", "both": "new"}
    # Grid: the edited "" wins the merge and is then dropped, so no credit at all
    assert document["metadata"] == {"title": "edited"}
    assert document["originalMetadata"] == {"title": "re-read", "credit": "AFP"}
    # the suggester takes the message's credit (Grid sets it before the refresh)
    assert document["suggestMetadataCredit"] == {"input": ["AFP"]}
    assert document["lastModified"] == "2024-02-01T00:00:00.000Z"


def test_an_older_image_message_still_refreshes_the_file_derived_fields(
    index: SearchIndex,
) -> None:
    """Grid's only guard on image messages is lastModified's: re-derived metadata always lands."""
    index.apply([DocumentUpdate.image(image("a"), "2024-03-01T00:00:00.000Z")])
    reread = image("a", originalMetadata={"title": "better"}, fileMetadata={"iptc": {"x": "y"}})
    index.apply([DocumentUpdate.image(reread, "2024-01-01T00:00:00.000Z", "reingest-image")])
    document = index.get("a")
    assert document is not None
    assert document["metadata"] == {"title": "better"}
    assert document["fileMetadata"] == {"iptc": {"x": "y"}}
    assert document["lastModified"] == "2024-03-01T00:00:00.000Z"


def test_applying_the_same_message_twice_is_harmless(index: SearchIndex) -> None:
    update = DocumentUpdate.image(image("a"), "2024-01-01T00:00:00.000Z")
    index.apply([update])
    once = index.get("a")
    index.apply([update])
    index.refresh()
    assert index.get("a") == once and index.count() == 1


def test_ids_streams_every_document_id_in_order_a_page_at_a_time(index: SearchIndex) -> None:
    ids = [f"{n * 7919:040x}" for n in range(25)]
    index.apply([DocumentUpdate.image(image(i), T0) for i in reversed(ids)])
    index.refresh()
    assert list(index.ids(batch_size=7)) == sorted(ids)
    assert list(index.ids()) == sorted(ids)


def test_clear_removes_every_document(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image(i), "2024-01-01T00:00:00.000Z") for i in "abc"])
    assert index.clear() == 3
    assert index.count() == 0


def message(image_id: str, subject: str, last_modified: str, payload: Any = None) -> DocumentUpdate:
    return DocumentUpdate(image_id, subject, last_modified, payload)


T0, T1, T2, T3 = (f"2024-0{month}-01T00:00:00.000Z" for month in (1, 2, 3, 4))


def indexed(index: SearchIndex, image_id: str = "a", **fields: Any) -> None:
    index.apply([DocumentUpdate.image(image(image_id, **fields), T0)])


def stored(index: SearchIndex, image_id: str = "a") -> dict[str, Any]:
    document = index.get(image_id)
    assert document is not None, f"{image_id} is not indexed"
    return document


def test_delete_image_removes_only_images_without_exports_or_usages(index: SearchIndex) -> None:
    indexed(index, "plain")
    indexed(index, "empty-lists", exports=[], usages=[])
    indexed(index, "used", usages=[{"id": "u1"}])
    indexed(index, "cropped", exports=[{"id": "c1"}])
    deleted = index.apply(
        [message(i, "delete-image", T1) for i in ("plain", "empty-lists", "used", "cropped", "zz")]
    )
    assert deleted == {"plain", "empty-lists"}
    assert index.get("plain") is None and index.get("empty-lists") is None
    assert stored(index, "used") and stored(index, "cropped")
    assert index.apply([message("plain", "delete-image", T2)]) == set()


def test_messages_for_one_image_apply_in_order_within_a_batch(index: SearchIndex) -> None:
    deleted = index.apply(
        [
            DocumentUpdate.image(image("a"), T0),
            message("a", "delete-image", T1),
            DocumentUpdate.image(image("b"), T0),
            message("b", "delete-image", T1),
            DocumentUpdate.image(image("b", metadata={"title": "back"}), T2),
        ]
    )
    assert index.get("a") is None and deleted == {"a"}
    assert stored(index, "b")["metadata"] == {"title": "back"}


def edits(title: str, last_modified: str | None, **fields: Any) -> dict[str, Any]:
    data = {"archived": False, "labels": [], "metadata": {"title": title}, **fields}
    return data if last_modified is None else {**data, "lastModified": last_modified}


def test_user_edits_replace_user_metadata_and_refresh_metadata(index: SearchIndex) -> None:
    indexed(index)
    index.apply([DocumentUpdate.user_metadata("a", edits("edited", T1), T2)])
    document = stored(index)
    assert document["metadata"]["title"] == "edited"
    assert document["originalMetadata"] == {"title": "from file"}
    assert document["userMetadata"]["metadata"] == {"title": "edited"}
    # Grid stamps both with the edits' own time, not the message's
    assert document["userMetadataLastModified"] == T1
    assert document["lastModified"] == T1


def test_edits_without_a_time_take_the_messages(index: SearchIndex) -> None:
    indexed(index)
    index.apply([DocumentUpdate.user_metadata("a", edits("edited", None), T2)])
    assert (stored(index)["userMetadataLastModified"], stored(index)["lastModified"]) == (T2, T2)


def test_older_edits_and_edits_of_missing_images_change_nothing(index: SearchIndex) -> None:
    indexed(index)
    index.apply([DocumentUpdate.user_metadata("a", edits("newer", T3), T3)])
    index.apply([DocumentUpdate.user_metadata("a", edits("older", T2), T2)])
    index.apply([DocumentUpdate.user_metadata("zzz", edits("newer", T3), T3)])
    assert stored(index)["metadata"]["title"] == "newer"
    index.refresh()
    assert index.get("zzz") is None and index.count() == 1


def test_edited_usage_rights_win_over_the_originals(index: SearchIndex) -> None:
    rights = {"category": "staff-photographer", "photographer": "Test", "publication": "Testing"}
    indexed(index, originalUsageRights={"category": "agency", "supplier": "Getty Images"})
    index.apply([DocumentUpdate.user_metadata("a", edits("t", T1, usageRights=rights), T1)])
    assert stored(index)["usageRights"] == rights
    index.apply([DocumentUpdate.user_metadata("a", edits("t", T2), T2)])
    assert stored(index)["usageRights"] == {"category": "agency", "supplier": "Getty Images"}


def test_photoshoot_edits_set_the_photoshoot_suggester(index: SearchIndex) -> None:
    indexed(index)
    shoot = edits("t", T1, photoshoot={"title": "Spring"})
    index.apply([message("a", "update-image-photoshoot-metadata", T1, shoot)])
    assert stored(index)["userMetadata"]["photoshoot"] == {
        "title": "Spring",
        "suggest": {"input": ["Spring"]},
    }


def test_a_reingest_after_a_newer_edit_keeps_the_edit_and_refreshes_the_file_fields(
    index: SearchIndex,
) -> None:
    indexed(index)
    index.apply([DocumentUpdate.user_metadata("a", edits("edited", T2), T2)])
    reread = image("a", originalMetadata={"title": "re-read", "credit": "PA"})
    index.apply([DocumentUpdate.image(reread, T1, "reingest-image")])  # projected before the edit
    document = stored(index)
    assert document["metadata"] == {"title": "edited", "credit": "PA"}
    assert document["originalMetadata"] == {"title": "re-read", "credit": "PA"}
    assert document["userMetadata"]["metadata"] == {"title": "edited"}
    assert document["lastModified"] == T2


def usage(usage_id: str, status: str = "published") -> dict[str, Any]:
    return {"id": usage_id, "platform": "digital", "media": "image", "status": status}


def test_usages_are_replaced_only_by_newer_notices(index: SearchIndex) -> None:
    indexed(index)
    index.apply([message("a", "update-image-usages", T2, [usage("u1")])])
    index.apply([message("a", "update-image-usages", T1, [usage("stale")])])
    document = stored(index)
    assert [u["id"] for u in document["usages"]] == ["u1"]
    assert document["usagesLastModified"] == T2 and document["lastModified"] == T2


def test_usage_status_and_usage_deletes(index: SearchIndex) -> None:
    indexed(index, usages=[usage("u1", "pending"), usage("u2", "pending")])
    index.apply([message("a", "update-usage-status", T1, usage("u2", "published"))])
    document = stored(index)
    assert [(u["id"], u["status"]) for u in document["usages"]] == [
        ("u1", "pending"),
        ("u2", "published"),
    ]
    assert document["usages"][1]["lastModified"] == T1 and document["usagesLastModified"] == T1
    index.apply([message("a", "delete-single-usage", T2, "u1")])
    assert [u["id"] for u in stored(index)["usages"]] == ["u2"]
    index.apply([message("a", "delete-usages", T3)])
    assert "usages" not in stored(index) and stored(index)["lastModified"] == T3
    index.apply([message("zzz", "delete-usages", T3)])  # not an error, nothing indexed
    assert index.get("zzz") is None


def lease(lease_id: str) -> dict[str, Any]:
    return {"id": lease_id, "access": "allow-use", "mediaId": "a", "createdAt": T0}


def test_leases_are_added_removed_and_replaced(index: SearchIndex) -> None:
    indexed(index, leases={"leases": [], "lastModified": None})
    assert stored(index)["leases"] == {"leases": [], "lastModified": None}  # insert as sent
    index.apply([message("a", "add-image-lease", T1, lease("l1"))])
    index.apply([message("a", "add-image-lease", T1, lease("l2"))])
    assert stored(index)["leases"] == {"leases": [lease("l1"), lease("l2")], "lastModified": T1}
    index.apply([message("a", "remove-image-lease", T2, "l1")])
    assert stored(index)["leases"] == {"leases": [lease("l2")], "lastModified": T2}
    index.apply([message("a", "replace-image-leases", T3, [lease("l3")])])
    assert stored(index)["leases"] == {"leases": [lease("l3")], "lastModified": T3}
    index.apply([message("a", "replace-image-leases", T3, [])])
    assert stored(index)["leases"] == {"leases": [], "lastModified": T3}
    assert stored(index)["lastModified"] == T3


def test_a_lease_added_to_an_image_without_leases_starts_the_list(index: SearchIndex) -> None:
    indexed(index)
    index.apply([message("a", "add-image-lease", T1, lease("l1"))])
    assert stored(index)["leases"] == {"leases": [lease("l1")], "lastModified": T1}


def test_exports_collections_syndication_and_soft_deletes(index: SearchIndex) -> None:
    indexed(index)
    crop = {"id": "c1", "specification": {"uri": "u", "bounds": {"x": 0}}}
    index.apply([message("a", "update-image-exports", T1, [crop])])
    index.apply([message("a", "update-image-exports", T1, [{**crop, "id": "c2"}])])
    assert [c["id"] for c in stored(index)["exports"]] == ["c1", "c2"]
    index.apply([message("a", "delete-image-exports", T1)])
    assert "exports" not in stored(index)
    collection = {
        "path": ["news"],
        "description": "News",
        "actionData": {"author": "x", "date": T1},
    }
    index.apply([message("a", "set-image-collections", T1, [collection])])
    assert stored(index)["collections"] == [collection]
    rights = {"published": T1, "suppliers": [], "rights": [], "isInferred": False}
    index.apply([message("a", "update-image-syndication-metadata", T2, rights)])
    assert stored(index)["syndicationRights"] == rights and stored(index)["lastModified"] == T2
    index.apply([message("a", "update-image-syndication-metadata", T2, None)])
    assert stored(index)["syndicationRights"] is None
    deleted = {"deleteTime": T3, "deletedBy": "someone"}
    index.apply([message("a", "soft-delete-image", T3, deleted)])
    assert stored(index)["softDeletedMetadata"] == deleted
    assert stored(index)["lastModified"] == T2  # Grid's soft-delete script leaves it alone
    index.apply([message("a", "un-soft-delete-image", T3)])
    assert "softDeletedMetadata" not in stored(index)


def test_last_modified_never_moves_back(index: SearchIndex) -> None:
    indexed(index)
    index.apply([message("a", "set-image-collections", T2, [])])
    index.apply([message("a", "set-image-collections", T1, [])])
    assert stored(index)["lastModified"] == T2


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
    index.refresh()
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
    index.refresh()
    total, found = index.search("cricket", {}, limit=10, offset=0)
    assert total == 2 and [d["id"] for d in found] == ["b", "a"]  # newest upload first
    total, found = index.search("cricket headingley", {}, limit=10, offset=0)
    assert (total, [d["id"] for d in found]) == (1, ["a"])
    total, found = index.search(None, {"uploadedBy": "bob"}, limit=10, offset=0)
    assert (total, [d["id"] for d in found]) == (1, ["b"])
    total, found = index.search("cricket", {}, limit=1, offset=1)
    assert (total, [d["id"] for d in found]) == (2, ["a"])


# -- indices, aliases and mirrored writes (what a migration stands on)


def made(
    index: SearchIndex, mapping: dict[str, Any] | None = None, aliases: Sequence[str] = ()
) -> str:
    """A new physical index, dropped after the test (on a real cluster too)."""
    name = new_index_name(datetime.now(UTC))
    index.create_index(name, mapping, aliases)
    index.made_by_test = [*getattr(index, "made_by_test", ()), name]  # type: ignore[attr-defined]
    return name


def test_an_index_is_created_already_under_its_aliases(index: SearchIndex) -> None:
    """Created and named in one step (a migration's start killed in between leaves no index
    that nothing names); an alias that is an index's name creates nothing."""
    name = made(index, aliases=["Images_Migration", "Images_Extra"])
    aliases = index.aliases()
    assert aliases["Images_Migration"] == [name] and aliases["Images_Extra"] == [name]
    before = set(index.indices())
    with pytest.raises(Exception):  # noqa: B017 - SQLite and Elasticsearch word it apart
        index.create_index(new_index_name(datetime.now(UTC)), aliases=[name])
    assert set(index.indices()) == before


def test_alias_changes_apply_in_their_order(index: SearchIndex) -> None:
    """As Elasticsearch's ``_aliases`` actions: a removal then an addition of the same alias
    on the same index leaves it there."""
    name = made(index, aliases=["Images_Extra"])
    index.change_aliases(
        [AliasChange("remove", "Images_Extra", name), AliasChange("add", "Images_Extra", name)]
    )
    assert index.aliases()["Images_Extra"] == [name]


def test_the_target_is_an_alias_moved_atomically_between_indices(index: SearchIndex) -> None:
    first = index.resolve()
    assert first is not None and index.aliases()[index.target] == [first]
    index.apply([DocumentUpdate.image(image("a"), "2024-01-01T00:00:00.000Z")])
    second = made(index)
    with pytest.raises(ConfigurationError, match="already exists"):
        index.create_index(second)
    assert {first, second} <= set(index.indices())
    index.refresh()
    assert index.using(second).count() == 0 and index.using(first).count() == 1

    index.change_aliases(
        [AliasChange("remove", index.target, first), AliasChange("add", index.target, second)]
    )
    assert index.resolve() == second
    assert index.get("a") is None and index.count() == 0  # reads follow the alias
    assert index.using(first).get("a") is not None  # the old index is still there by name

    with pytest.raises(Exception):  # noqa: B017 - the second action names no alias: none apply
        index.change_aliases(
            [AliasChange("add", "Images_Historical", first), AliasChange("remove", "nope", first)]
        )
    assert "Images_Historical" not in index.aliases()


def test_a_mirror_receives_a_copy_of_every_document_a_batch_touches(index: SearchIndex) -> None:
    index.apply([DocumentUpdate.image(image("before"), "2024-01-01T00:00:00.000Z")])
    target = made(index)
    mirror = [Mirror(target, marks=True)]
    index.apply(
        [
            DocumentUpdate.image(image("a"), "2024-01-02T00:00:00.000Z", REINGEST_IMAGE),
            # an edit of an image the mirror does not hold yet: it gains the whole document
            DocumentUpdate.user_metadata(
                "before", {"metadata": {"title": "edited"}}, "2024-01-03T00:00:00.000Z"
            ),
        ],
        mirrors=mirror,
    )
    copies = index.using(target)
    current = index.get_many(["a", "before"])
    assert current["a"]["esInfo"] == {"migration": {"migratedTo": target}}
    assert "esInfo" not in current["before"]  # an edit is copied, but does not migrate
    assert copies.get("a") == {k: v for k, v in current["a"].items() if k != "esInfo"}
    assert copies.get("before") == current["before"]
    assert copies.get_many(["before"])["before"]["metadata"]["title"] == "edited"

    index.apply([DocumentUpdate("a", DELETE_IMAGE, "2024-01-04T00:00:00.000Z")], mirrors=mirror)
    assert index.get("a") is None and copies.get("a") is None


def test_a_copy_the_mirror_refuses_is_recorded_and_costs_only_that_copy(
    index: SearchIndex,
) -> None:
    narrower = copy.deepcopy(MAPPING)
    del narrower["properties"]["originalMetadata"]  # strict at the top: now an unknown field
    target = made(index, narrower)
    refused = image("refused")
    accepted = {k: v for k, v in image("accepted").items() if k != "originalMetadata"}
    index.apply(
        [
            DocumentUpdate.image(refused, "2024-01-02T00:00:00.000Z"),
            DocumentUpdate.image(accepted, "2024-01-02T00:00:00.000Z"),
        ],
        mirrors=[Mirror(target, marks=True)],
    )
    current = index.get_many(["refused", "accepted"])
    assert set(current) == {"refused", "accepted"}  # the current index took both
    failures = current["refused"]["esInfo"]["migration"]["failures"]
    assert list(failures) == [target] and "originalMetadata" in failures[target]
    assert current["accepted"]["esInfo"]["migration"] == {"migratedTo": target}
    assert set(index.using(target).get_many(["refused", "accepted"])) == {"accepted"}
