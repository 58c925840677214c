"""Every subject of Grid's MessageSubjects, as Grid's services put it on the wire, through the
streams and thrall into the index: each document checked against Grid's rule for it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from reingest.backends import Components
from reingest.index.documents import RULES
from reingest.messages import compressed
from reingest.originals.base import UploadRecord, image_id_of
from reingest.streams.base import Priority
from reingest.thrall import drain

ORIGINAL = b"the original file"
ID = image_id_of(ORIGINAL)
T = [f"2024-0{month}-01T00:00:00.000Z" for month in range(1, 10)]


def image(**fields: Any) -> dict[str, Any]:
    return {
        "id": ID,
        "uploadTime": T[0],
        "uploadedBy": "grid@example.com",
        "identifiers": {},
        "source": {"file": "http://images/a", "mimeType": "image/jpeg"},
        "fileMetadata": {"iptc": {"Credit": "AFP"}},
        "metadata": {"title": "from file", "credit": "AFP"},
        "originalMetadata": {"title": "from file", "credit": "AFP"},
        "usageRights": {"category": "agency", "supplier": "AFP"},
        "originalUsageRights": {"category": "agency", "supplier": "AFP"},
        "exports": [],
        "usages": [],
        "leases": {"leases": [], "lastModified": None},
        "collections": [],
        **fields,
    }


def usage(usage_id: str, status: str, last_modified: str) -> dict[str, Any]:
    return {
        "id": usage_id,
        "references": [],
        "platform": "digital",
        "media": "image",
        "status": status,
        "dateAdded": last_modified,
        "lastModified": last_modified,
    }


def lease(lease_id: str) -> dict[str, Any]:
    return {"id": lease_id, "access": "allow-use", "mediaId": ID, "createdAt": T[0]}


class Thrall:
    """Publishes Grid-shaped UpdateMessages (gzip-framed, as Grid's Kinesis writer does) and
    lets thrall apply them."""

    def __init__(self, components: Components) -> None:
        self.components = components
        self.subjects: set[str] = set()

    def send(self, subject: str, last_modified: str, **fields: Any) -> dict[str, Any] | None:
        self.subjects.add(subject)
        message = {"subject": subject, "lastModified": last_modified, **fields}
        if subject != "image" and "image" not in fields:
            message.setdefault("id", ID)
        streams, index = self.components.streams, self.components.index
        streams.publish(Priority.HIGH, [compressed(orjson.dumps(message))])
        applied, dead = drain(streams, index, "thrall", 30, 5, self.components.originals)
        assert (applied, dead) == (1, 0), [d.reason for d in streams.dead_letters()]
        return index.get(ID)


def test_one_message_of_every_subject(components: Components) -> None:
    thrall = Thrall(components)
    components.originals.put(ORIGINAL, UploadRecord())
    doc = thrall.send("image", T[1], image=image())
    assert (
        doc is not None and doc["lastModified"] == T[1] and doc["metadata"]["title"] == "from file"
    )

    edits = {
        "archived": False,
        "labels": ["x"],
        "metadata": {"title": "edited"},
        "lastModified": T[3],
    }
    doc = thrall.send("update-image-user-metadata", T[3], edits=edits)
    assert doc and doc["userMetadata"] == edits and doc["metadata"]["title"] == "edited"
    assert doc["userMetadataLastModified"] == T[3] and doc["lastModified"] == T[3]

    # a reingest projected before that edit: file-derived fields refreshed, the edit kept
    reread = image(
        originalMetadata={"title": "better extraction", "credit": "AFP", "city": "Paris"},
        metadata={"title": "better extraction", "credit": "AFP", "city": "Paris"},
        identifiers={"picdarUrn": "X1"},
        uploadedBy="re-ingester",
    )
    doc = thrall.send("reingest-image", T[2], image=reread)
    assert doc and doc["originalMetadata"]["title"] == "better extraction"
    assert doc["metadata"] == {"title": "edited", "credit": "AFP", "city": "Paris"}
    assert doc["uploadedBy"] == "grid@example.com" and doc["identifiers"] == {"picdarUrn": "X1"}
    assert doc["lastModified"] == T[3]  # only forward

    doc = thrall.send("update-image", T[4], image=image(fileMetadata={"iptc": {"Credit": "PA"}}))
    assert doc and doc["fileMetadata"] == {"iptc": {"Credit": "PA"}} and doc["lastModified"] == T[4]

    shoot = {**edits, "photoshoot": {"title": "Shoot"}, "lastModified": T[4]}
    doc = thrall.send("update-image-photoshoot-metadata", T[4], edits=shoot)
    assert doc and doc["userMetadata"]["photoshoot"]["suggest"] == {"input": ["Shoot"]}

    notice = {
        "mediaId": ID,
        "usageJson": [usage("u1", "pending", T[5]), usage("u2", "pending", T[5])],
    }
    doc = thrall.send("update-image-usages", T[5], usageNotice=notice)
    assert doc and [u["id"] for u in doc["usages"]] == ["u1", "u2"]
    assert doc["usagesLastModified"] == T[5]
    stale = {"mediaId": ID, "usageJson": [usage("old", "pending", T[0])]}
    doc = thrall.send("update-image-usages", T[0], usageNotice=stale)
    assert doc and [u["id"] for u in doc["usages"]] == ["u1", "u2"]

    status = {"mediaId": ID, "usageJson": [usage("u2", "published", T[6])]}
    doc = thrall.send("update-usage-status", T[6], usageNotice=status)
    assert doc and [u["status"] for u in doc["usages"]] == ["pending", "published"]
    doc = thrall.send("delete-single-usage", T[6], usageId="u1")
    assert doc and [u["id"] for u in doc["usages"]] == ["u2"]

    crop = {
        "id": "c1",
        "specification": {
            "uri": "http://images/a",
            "bounds": {"x": 0, "y": 0, "width": 1, "height": 1},
        },
        "assets": [],
    }
    doc = thrall.send("update-image-exports", T[6], crops=[crop])
    assert doc and [c["id"] for c in doc["exports"]] == ["c1"]

    # protected by its usages and exports: Grid keeps it, the message is done
    doc = thrall.send("delete-image", T[6])
    assert doc is not None and components.originals.exists(ID)

    doc = thrall.send("add-image-lease", T[6], mediaLease=lease("l1"))
    assert doc and [held["id"] for held in doc["leases"]["leases"]] == ["l1"]
    doc = thrall.send("remove-image-lease", T[7], leaseId="l1")
    assert doc and doc["leases"] == {"leases": [], "lastModified": T[7]}
    doc = thrall.send("replace-image-leases", T[7], leases=[lease("l2"), lease("l3")])
    assert doc and [held["id"] for held in doc["leases"]["leases"]] == ["l2", "l3"]

    collection = {
        "path": ["sport"],
        "pathId": "sport",
        "description": "Sport",
        "actionData": {"author": "a@b", "date": T[7]},
    }
    doc = thrall.send("set-image-collections", T[7], collections=[collection])
    assert doc and doc["collections"] == [collection]

    rights = {"published": T[7], "suppliers": [], "rights": [], "isInferred": False}
    doc = thrall.send("update-image-syndication-metadata", T[7], syndicationRights=rights)
    assert doc and doc["syndicationRights"] == rights

    deleted = {"deleteTime": T[8], "deletedBy": "someone@example.com"}
    doc = thrall.send("soft-delete-image", T[8], softDeletedMetadata=deleted)
    assert doc and doc["softDeletedMetadata"] == deleted and doc["lastModified"] == T[7]
    doc = thrall.send("un-soft-delete-image", T[8])
    assert doc and "softDeletedMetadata" not in doc

    doc = thrall.send("delete-image-exports", T[8])
    assert doc and "exports" not in doc
    doc = thrall.send("delete-usages", T[8])
    assert doc and "usages" not in doc and doc["lastModified"] == T[8]

    # nothing protects it any more: gone from the index, and so is its original
    assert thrall.send("delete-image", T[8]) is None
    assert not components.originals.exists(ID)

    assert thrall.subjects == set(RULES), "every subject of Grid's MessageSubjects is exercised"


@pytest.mark.parametrize(
    ("subject", "fields", "missing"),
    [
        ("image", {}, "image"),
        ("soft-delete-image", {"id": ID}, "softDeletedMetadata"),
        ("update-image-exports", {"id": ID}, "crops"),
        ("update-image-usages", {"id": ID}, "usageNotice"),
        ("replace-image-leases", {"id": ID}, "leases"),
        ("add-image-lease", {"id": ID}, "mediaLease"),
        ("remove-image-lease", {"id": ID}, "leaseId"),
        ("set-image-collections", {"id": ID}, "collections"),
        ("delete-single-usage", {"id": ID}, "usageId"),
        ("update-usage-status", {"id": ID}, "usageNotice"),
        ("delete-usages", {}, "id"),
    ],
)
def test_a_message_without_its_subjects_fields_is_dead_lettered_with_grids_reason(
    components: Components, subject: str, fields: dict[str, Any], missing: str
) -> None:
    message = {"subject": subject, "lastModified": T[0], **fields}
    components.streams.publish(Priority.HIGH, [orjson.dumps(message)])
    assert drain(components.streams, components.index, "thrall", 30, 5) == (0, 1)
    [dead] = components.streams.dead_letters()
    assert dead.reason == f"Was unable to deserialise {subject} (missing {missing})"
