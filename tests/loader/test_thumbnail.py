"""Thumbnails: made on ingest, stored beside the original, reused by the projection."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from PIL import Image

from reingest.errors import CorruptFile
from reingest.loader.thumbnail import make_thumbnail
from reingest.originals.base import UploadRecord
from reingest.originals.file import FileOriginalsStore
from reingest.projection import Projector
from reingest.services.base import DataServices

ReadFixture = Callable[[str], bytes]


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("getty.jpg", (256, 154)),
        ("exif-orientated.jpg", (256, 384)),
        ("pngsuite/basn0g08.png", (256, 256)),
    ],
)
def test_width_256_oriented_and_up_scaled(
    name: str, size: tuple[int, int], fixture_bytes: ReadFixture
) -> None:
    thumbnail = _open(make_thumbnail(fixture_bytes(name)))
    assert (thumbnail.format, thumbnail.size, thumbnail.mode) == ("JPEG", size, "RGB")
    assert thumbnail.info.get("progressive") == 1


def test_transparency_is_flattened_onto_grey() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(out, "PNG")
    r, g, b = cast(tuple[int, int, int], _open(make_thumbnail(out.getvalue())).getpixel((128, 128)))
    assert all(abs(c - 0x33) <= 3 for c in (r, g, b))


def test_an_undecodable_image_is_corrupt(fixture_bytes: ReadFixture) -> None:
    data = fixture_bytes("getty.jpg")
    with pytest.raises(CorruptFile, match="cannot make a thumbnail"):
        make_thumbnail(data[: len(data) // 3])


def test_the_store_keeps_it_beside_the_original_and_ids_skip_it(
    tmp_path: Path, fixture_bytes: ReadFixture
) -> None:
    store = FileOriginalsStore(tmp_path.as_uri())
    image_id, _ = store.put(fixture_bytes("getty.jpg"), UploadRecord(filename="getty.jpg"))
    assert store.get_thumbnail(image_id) is None
    store.put_thumbnail(image_id, b"thumb")
    assert store.get_thumbnail(image_id) == b"thumb"
    assert store.thumbnail_uri(image_id).endswith(f"/{image_id}.thumb.jpg")
    assert list(store.ids()) == [image_id]


def test_the_projection_makes_a_missing_thumbnail_once_then_reuses_it(
    tmp_path: Path, fixture_bytes: ReadFixture
) -> None:
    store = FileOriginalsStore(tmp_path.as_uri())
    image_id, _ = store.put(fixture_bytes("getty.jpg"), UploadRecord(filename="getty.jpg"))
    projector = Projector(store, cast(DataServices, None), processors="none")
    asset = projector.thumbnail(store.get(image_id))
    assert asset is not None
    stored = store.get_thumbnail(image_id)
    assert stored is not None
    assert asset.to_json() == {
        "file": store.thumbnail_uri(image_id),
        "size": len(stored),
        "mimeType": "image/jpeg",
        "dimensions": {"width": 256, "height": 154},
        "orientation": "landscape",
    }
    store.put_thumbnail(image_id, make_thumbnail(fixture_bytes("exif-orientated.jpg")))
    reused = projector.thumbnail(store.get(image_id))
    assert reused is not None and reused.orientation == "portrait"  # the stored one, not remade
