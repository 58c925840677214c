"""build_image with no processors: the Image document Grid's loader builds before step 12."""

from __future__ import annotations

from collections.abc import Callable

from reingest.loader import build_image
from reingest.loader.processors import chain
from reingest.originals.base import StoredOriginal, UploadRecord, image_id_of, storage_key

ReadFixture = Callable[[str], bytes]
UPLOAD_TIME = "2020-01-24T17:36:08.456Z"
RAW = chain("none")


def original(data: bytes, filename: str) -> StoredOriginal:
    image_id = image_id_of(data)
    return StoredOriginal(
        id=image_id,
        data=data,
        uri=f"http://img-bucket.s3.amazonaws.com/{storage_key(image_id)}",
        upload=UploadRecord(uploaded_by="test", upload_time=UPLOAD_TIME, filename=filename,
                            identifiers={"picdarurn": "12*543^25"}),
        last_modified=UPLOAD_TIME,
    )  # fmt: skip


def test_getty_projection(fixture_bytes: ReadFixture) -> None:
    """ProjectorTest's expected Image, updated for HEAD as grid-model.md §4.2 describes."""
    image = build_image(
        original(fixture_bytes("getty.jpg"), "getty.jpg"), UPLOAD_TIME, processors=RAW
    ).to_json()
    assert image["id"] == "6792bda493e01a9c6a5eed4389383aaa6043392f"
    assert image["source"] == {
        "file": "http://img-bucket.s3.amazonaws.com/6/7/9/2/b/d/6792bda493e01a9c6a5eed4389383aaa6043392f",
        "size": 12666,
        "mimeType": "image/jpeg",
        "dimensions": {"width": 100, "height": 60},
        "orientation": "landscape",
    }
    assert image["uploadTime"] == image["lastModified"] == UPLOAD_TIME
    assert image["uploadedBy"] == "test"
    assert image["uploadInfo"] == {"filename": "getty.jpg"}
    assert image["identifiers"] == {"picdarurn": "12*543^25"}
    assert image["usageRights"] == image["originalUsageRights"] == {}
    assert image["exports"] == image["usages"] == image["collections"] == []
    assert image["leases"] == {"leases": [], "lastModified": None}
    assert image["metadata"] == image["originalMetadata"]
    assert image["metadata"]["dateTaken"] == "2015-01-22T00:00:00.000Z"
    assert image["metadata"]["subjects"] == ["sport"]
    assert image["metadata"]["keywords"] == image["metadata"]["peopleInImage"] == []
    assert image["fileMetadata"]["colourModel"] == "RGB"
    assert list(image)[:15] == [
        "id", "uploadTime", "uploadedBy", "identifiers", "uploadInfo", "source", "fileMetadata",
        "metadata", "originalMetadata", "usageRights", "originalUsageRights", "exports",
        "usages", "leases", "collections",
    ]  # fmt: skip


def test_exif_orientation_sets_oriented_dimensions(fixture_bytes: ReadFixture) -> None:
    data = fixture_bytes("exif-orientated.jpg")
    source = build_image(original(data, "x.jpg"), UPLOAD_TIME, processors=RAW).to_json()["source"]
    assert source["orientationMetadata"] == {"exifOrientation": 6}
    assert source["dimensions"] == {"width": 3456, "height": 2304}
    assert source["orientedDimensions"] == {"width": 2304, "height": 3456}
    assert source["orientation"] == "portrait"


def test_date_taken_is_bounded_by_the_upload_time(fixture_bytes: ReadFixture) -> None:
    """pa.jpg's EXIF date (2014) is before an upload in 2014-06-24 + 14 h, so it is kept;
    an upload the day before rejects every source."""
    data = fixture_bytes("pa.jpg")
    kept = build_image(
        original(data, "pa.jpg"), "2014-06-24T12:00:00.000Z", processors=RAW
    ).metadata
    assert kept.dateTaken == "2014-06-24T15:10:41.700Z"
    dropped = build_image(
        original(data, "pa.jpg"), "2014-06-23T00:00:00.000Z", processors=RAW
    ).metadata
    assert dropped.dateTaken is None
