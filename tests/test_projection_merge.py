"""The merge of data-service data into the loader's image (grid-model.md §3.2)."""

from __future__ import annotations

from reingest.model import Asset, Image, ImageMetadata
from reingest.projection import merge_image_data
from reingest.services.base import ImageData


def loader_image() -> Image:
    metadata = ImageMetadata(
        title="from file", credit="AFP", keywords=["a"], domainMetadata={"d": {"k": "file"}}
    )
    return Image(
        id="x" * 40,
        uploadTime="2020-01-01T00:00:00.000Z",
        uploadedBy="u",
        source=Asset(file="file:///x"),
        metadata=metadata,
        originalMetadata=metadata,
        lastModified="2020-01-01T00:00:00.000Z",
    )


def test_without_service_data_lastmodified_is_none_and_lists_are_empty() -> None:
    merged = merge_image_data(loader_image(), ImageData())
    document = merged.to_json()
    assert "lastModified" not in document
    assert document["usages"] == [] and document["collections"] == [] and document["exports"] == []
    assert document["leases"] == {"leases": [], "lastModified": None}
    assert "softDeletedMetadata" not in document and "userMetadata" not in document


def test_edits_overlay_metadata_and_dates_are_inferred() -> None:
    data = ImageData.from_json(
        {
            "edits": {
                "archived": False,
                "labels": ["x"],
                "metadata": {
                    "title": "edited",
                    "credit": "",
                    "keywords": ["b"],
                    "domainMetadata": {"d": {"k": "edit"}, "e": {"k": 1}},
                },
                "usageRights": {"category": "handout"},
                "lastModified": "2024-01-02T00:00:00.000Z",
            },
            "usages": [
                {
                    "id": "u",
                    "references": [],
                    "platform": "digital",
                    "media": "image",
                    "status": "published",
                    "lastModified": "2024-03-01T00:00:00.000Z",
                }
            ],
            "collections": [
                {
                    "path": ["a"],
                    "pathId": "a",
                    "description": "a",
                    "actionData": {"author": "me", "date": "2024-02-01T10:00:00.000+00:00"},
                }
            ],
            "status": {
                "id": "x",
                "deletedBy": "me",
                "deleteTime": "2024-01-05T00:00:00Z",
                "isDeleted": True,
            },
        }
    )
    merged = merge_image_data(loader_image(), data).to_json()
    assert merged["metadata"]["title"] == "edited"
    assert merged["metadata"]["credit"] == ""  # an empty edit wins in the merge
    assert merged["metadata"]["keywords"] == ["b"]
    assert merged["metadata"]["domainMetadata"] == {"d": {"k": "file"}, "e": {"k": 1}}
    assert merged["originalMetadata"]["title"] == "from file"
    assert merged["usageRights"] == {"category": "handout"}
    assert merged["lastModified"] == "2024-03-01T00:00:00.000Z"
    assert merged["userMetadataLastModified"] == "2024-01-02T00:00:00.000Z"
    assert merged["softDeletedMetadata"] == {
        "deleteTime": "2024-01-05T00:00:00.000Z",
        "deletedBy": "me",
    }


def test_a_status_that_is_not_deleted_removes_soft_delete() -> None:
    data = ImageData.from_json(
        {
            "status": {
                "id": "x",
                "deletedBy": "me",
                "deleteTime": "2024-01-05T00:00:00Z",
                "isDeleted": False,
            }
        }
    )
    assert merge_image_data(loader_image(), data).softDeletedMetadata is None
