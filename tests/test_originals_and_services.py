from __future__ import annotations

from pathlib import Path

import pytest

from reingest.backends import Components, open_backend
from reingest.errors import ConfigurationError, DownstreamError, ImageNotFound
from reingest.originals.base import OriginalsStore, UploadRecord, image_id_of, storage_key
from reingest.services.local import LocalDataServices


def test_storage_key_follows_grids_layout() -> None:
    assert storage_key("id123") == "i/d/1/2/3/id123"
    assert storage_key("6792bda493e01a9c6a5eed4389383aaa6043392f").startswith("6/7/9/2/b/d/6792")


def test_originals_are_stored_once_under_their_sha1(components: Components) -> None:
    store = components.originals
    upload = UploadRecord(
        uploaded_by="me", upload_time="2024-01-01T00:00:00.000Z", filename="a.jpg"
    )
    image_id, new = store.put(b"bytes", upload)
    assert image_id == image_id_of(b"bytes") and new
    assert store.put(b"bytes", UploadRecord(uploaded_by="other")) == (image_id, False)
    stored = store.get(image_id)
    assert stored.data == b"bytes" and stored.upload == upload
    assert stored.uri.startswith("file://") and stored.uri.endswith(storage_key(image_id))
    assert list(store.ids()) == [image_id]
    assert store.exists(image_id) and not store.exists("0" * 40)
    with pytest.raises(ImageNotFound):
        store.get("0" * 40)


def test_an_original_without_upload_record_reads_as_reingester(tmp_path: Path) -> None:
    store = open_backend("originals", (tmp_path / "o").as_uri(), OriginalsStore)
    image_id, _ = store.put(b"x", UploadRecord())
    (tmp_path / "o" / (storage_key(image_id) + ".json")).unlink()
    stored = store.get(image_id)
    assert stored.upload.uploaded_by == "re-ingester" and stored.upload.upload_time is None
    assert stored.last_modified.endswith("Z")


def test_unknown_schemes_and_bad_urls_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="no progress backend for 'mysql://x'"):
        open_backend("progress", "mysql://x", object)
    with pytest.raises(ConfigurationError, match="expected sqlite:///PATH"):
        open_backend("progress", "sqlite://", object)


def test_local_services_validate_and_return_service_data(components: Components) -> None:
    services = components.services
    assert isinstance(services, LocalDataServices)
    lease = {"access": "allow-use", "mediaId": "a", "createdAt": "2024-01-01T00:00:00.000Z"}
    services.load([("a", {"leases": {"leases": [lease], "lastModified": None}})])
    data = services.fetch("a")
    assert data.leases.leases[0].access == "allow-use"
    assert services.fetch("b").usages == []
    with pytest.raises(DownstreamError, match="invalid usages data"):
        services.load([("a", {"usages": [{"id": "u"}]})])
    with pytest.raises(DownstreamError, match="unknown services"):
        services.load([("a", {"likes": []})])
