"""Grid's endpoints in-process: paths, envelopes, error shapes, auth and id validation."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from http_support import HEADERS, KEY, OTHER_KEY, Library

from reingest.backends import Components
from reingest.errors import DownstreamError, TransientError
from reingest.http import create_app
from reingest.projection import Projector
from reingest.quickstart import SAMPLE_UPLOADER
from reingest.services.base import DataServices, ImageData
from reingest.states import State
from reingest.streams.base import Priority
from reingest.thrall import drain

ID = "0" * 40
GUARDED = [
    ("GET", f"/images/{ID}"),
    ("GET", "/images?q=x"),
    ("POST", "/images"),
    ("GET", f"/images/project/{ID}"),
    ("GET", f"/images/projection/{ID}"),
    ("GET", f"/services/usage/usages/media/{ID}"),
    ("GET", f"/services/leases/leases/media/{ID}"),
    ("GET", "/metrics"),
    ("GET", "/admin/stats"),
    ("POST", "/admin/reset"),
    ("POST", "/admin/ids"),
    ("POST", "/admin/publish"),
    ("POST", "/admin/scheduler/start"),
]


@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_every_endpoint_but_health_needs_a_valid_key(
    client: TestClient, method: str, path: str
) -> None:
    for headers in ({}, {"X-Gu-Media-Key": "wrong"}, {"X-Gu-Media-Key": ""}):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 401, (path, headers)
        assert response.json()["errorKey"] == "unauthorised"
    assert client.get("/health").json() == {"status": "ok"}


def test_every_configured_key_is_accepted(client: TestClient) -> None:
    for key in (KEY, OTHER_KEY):
        assert client.get("/admin/stats", headers={"X-Gu-Media-Key": key}).status_code == 200


def test_docs_and_openapi_sit_behind_the_login(client: TestClient) -> None:
    assert client.get("/docs", follow_redirects=False).headers["location"] == "/login?next=/docs"
    assert client.get("/docs", headers=HEADERS).status_code == 200
    spec = client.get("/openapi.json", headers=HEADERS).json()
    assert "/images/projection/{image_id}" in spec["paths"]
    assert "/services/leases/leases/media/{image_id}" in spec["paths"]
    assert "X-Gu-Media-Key" in str(spec["components"]["securitySchemes"])


def test_no_keys_and_no_explicit_insecure_mode_refuses_to_build(components: Components) -> None:
    with pytest.raises(Exception, match="no API keys"):
        create_app(components)
    with TestClient(create_app(components, insecure_no_auth=True)) as open_client:
        assert open_client.get("/admin/stats").status_code == 200


@pytest.mark.parametrize(
    "bad", ["A" * 40, "0" * 39, "0" * 41, "g" * 40, "..%2F..%2Fetc%2Fpasswd", "%20" + "0" * 40]
)
def test_ids_are_validated_before_any_access(client: TestClient, bad: str) -> None:
    for path in (
        f"/images/{bad}",
        f"/images/project/{bad}",
        f"/images/projection/{bad}",
        f"/services/usage/usages/media/{bad}",
        f"/services/api/images/{bad}/softDeletedMetadata",
    ):
        response = client.get(path, headers=HEADERS)
        if "%2F" in bad:  # decoded to several path segments: no route matches at all
            assert response.status_code == 404, path
        else:
            assert response.status_code == 400, path
            assert response.json()["errorKey"] == "invalid-id"


def test_upload_stores_projects_and_publishes_on_the_high_stream(
    client: TestClient, components: Components, library: Library
) -> None:
    data = library.sample.good[1].read_bytes()
    image_id = hashlib.sha1(data).hexdigest()
    before = components.streams.lag(Priority.HIGH).depth
    response = client.post(
        "/images",
        params={"uploadedBy": "someone@example.com", "filename": "../../x/photo.jpg"},
        content=data,
        headers=HEADERS,
    )
    assert response.status_code == 202, response.text
    assert response.json() == {
        "uri": f"http://testserver/images/{image_id}",
        "data": {"id": image_id},
    }
    assert components.streams.lag(Priority.HIGH).depth == before + 1
    image = client.get(f"/images/project/{image_id}", headers=HEADERS).json()
    assert image["id"] == image_id
    assert image == Projector(components.originals, components.services).project(image_id).to_json()


def test_upload_refusals_use_grids_error_keys(client: TestClient, library: Library) -> None:
    by_name = {p.name: p for p in library.sample.broken}
    cases = {
        "anim.gif": "unsupported-type",
        "IMG_0001.CR2": "unsupported-type",
        "truncated.jpg": "bad-file",
    }
    for name, key in cases.items():
        response = client.post(
            "/images",
            params={"filename": name},
            content=by_name[name].read_bytes(),
            headers=HEADERS,
        )
        assert response.status_code == 415, (name, response.text)
        assert response.json()["errorKey"] == key
        assert response.json()["errorMessage"]
    empty = client.post("/images", content=b"", headers=HEADERS)
    assert empty.status_code == 400


@pytest.mark.parametrize(
    ("failure", "status", "key"),
    [
        (TransientError("the usage service timed out"), 503, "service-unavailable"),
        (ValueError("offset must be a timedelta"), 422, "upload-failed"),
    ],
)
def test_an_upload_that_fails_after_reading_is_answered_and_leaves_nothing(
    client: TestClient,
    components: Components,
    fixtures_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    status: int,
    key: str,
) -> None:
    def failing(_projector: Projector, _image_id: str) -> None:
        raise failure

    monkeypatch.setattr(Projector, "project", failing)
    data = (fixtures_dir / "pa.jpg").read_bytes()
    response = client.post("/images", params={"filename": "pa.jpg"}, content=data, headers=HEADERS)
    assert (response.status_code, response.json()["errorKey"]) == (status, key)
    assert str(failure) in response.json()["errorMessage"]
    assert not components.originals.exists(hashlib.sha1(data).hexdigest())


def test_uploads_over_the_limit_get_413(components: Components, library: Library) -> None:
    small = Components(dataclasses.replace(components.settings, max_upload_bytes=1000))
    with TestClient(create_app(small, api_keys=[KEY])) as client:
        body = library.sample.good[0].read_bytes()
        assert len(body) > 1000
        response = client.post("/images", content=body, headers=HEADERS)
        assert response.status_code == 413
        assert response.json()["errorKey"] == "file-too-large"

        def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: streamed
            yield body[:600]
            yield body[600:]

        assert client.post("/images", content=chunks(), headers=HEADERS).status_code == 413
    small.close()


def test_projection_endpoint_answers_like_the_lambda(
    client: TestClient, components: Components, library: Library
) -> None:
    image_id = library.with_services[0]
    response = client.get(f"/images/projection/{image_id}", headers=HEADERS)
    assert response.status_code == 200
    projected = Projector(components.originals, components.services).project(image_id)
    assert response.json() == projected.to_json()
    assert client.get(f"/images/projection/{ID}", headers=HEADERS).json() == {
        "message": f"image with id={ID} not-found"
    }
    broken = client.get(f"/images/projection/{library.broken[0]}", headers=HEADERS)
    assert broken.status_code == 500
    assert set(broken.json()["message"]) == {"errorMessage", "downstreamErrorMessage"}


class _Unwell(DataServices):
    def fetch(self, image_id: str) -> ImageData:
        raise DownstreamError("usages answered 500")


def test_a_downstream_failure_is_a_500_with_grids_message_shape(
    client: TestClient, components: Components, library: Library
) -> None:
    components.__dict__["services"] = _Unwell()
    components.__dict__.pop("local_projector", None)  # made with the healthy services
    image_id = library.good[0]
    response = client.get(f"/images/projection/{image_id}", headers=HEADERS)
    assert response.status_code == 500
    assert "usages answered 500" in response.json()["message"]["errorMessage"]
    service = client.get(f"/services/usage/usages/media/{image_id}", headers=HEADERS)
    assert service.status_code == 500 and "message" in service.json()


def test_data_services_answer_in_argo_envelopes(
    client: TestClient, components: Components, library: Library
) -> None:
    for image_id in library.with_services:
        data = components.services.fetch(image_id)
        usages = client.get(f"/services/usage/usages/media/{image_id}", headers=HEADERS)
        if data.usages:
            entities = usages.json()["data"]
            assert [e["data"] for e in entities] == [u.to_json() for u in data.usages]
            assert all(
                e["uri"].startswith("http://testserver/services/usage/usages/") for e in entities
            )
        else:
            assert usages.status_code == 404
        leases = client.get(f"/services/leases/leases/media/{image_id}", headers=HEADERS)
        assert leases.status_code == 200
        assert leases.json() == {"data": data.leases.to_json()}
        edits = client.get(f"/services/metadata/edits/{image_id}", headers=HEADERS)
        assert edits.status_code == (200 if data.edits else 404)
    nothing = library.good[0] if library.good[0] not in library.with_services else library.good[2]
    for path in (
        f"/services/usage/usages/media/{nothing}",
        f"/services/collections/images/{nothing}",
        f"/services/cropper/crops/{nothing}",
        f"/services/metadata/edits/{nothing}",
        f"/services/metadata/metadata/{nothing}/syndication",
        f"/services/api/images/{nothing}/softDeletedMetadata",
    ):
        assert client.get(path, headers=HEADERS).status_code == 404, path
    empty = client.get(f"/services/leases/leases/media/{nothing}", headers=HEADERS)
    assert empty.json() == {"data": {"leases": [], "lastModified": None}}


def test_media_api_serves_indexed_documents_and_searches(
    client: TestClient, components: Components, library: Library
) -> None:
    drain(components.streams, components.index, "thrall-test", 30, 100)
    image_id = library.good[0]
    response = client.get(f"/images/{image_id}", headers=HEADERS)
    assert response.status_code == 200
    assert response.json() == {
        "uri": f"http://testserver/images/{image_id}",
        "data": components.index.get(image_id),
    }
    missing = client.get(f"/images/{ID}", headers=HEADERS)
    assert missing.status_code == 404 and missing.json()["errorKey"] == "image-not-found"

    everything = client.get("/images", params={"length": 100}, headers=HEADERS).json()
    assert everything["total"] == len(library.good) == everything["length"]
    page = client.get("/images", params={"length": 2, "offset": 1}, headers=HEADERS).json()
    assert page["length"] == 2 and page["offset"] == 1
    assert [e["data"]["id"] for e in page["data"]] == [
        e["data"]["id"] for e in everything["data"][1:3]
    ]
    uploader = {"uploadedBy": SAMPLE_UPLOADER}
    by_uploader = client.get("/images", params=uploader, headers=HEADERS).json()
    assert by_uploader["total"] == len(library.good)
    assert (
        client.get("/images", params={"uploadedBy": "nobody"}, headers=HEADERS).json()["total"] == 0
    )
    document = components.index.get(image_id)
    assert document is not None
    word = document["source"]["mimeType"].split("/")[1]
    found = client.get("/images", params={"q": f"{word} {image_id[:12]}"}, headers=HEADERS).json()
    assert [e["data"]["id"] for e in found["data"]] == [image_id]
    bad = client.get("/images", params={"x') OR 1=1 --": "y"}, headers=HEADERS)
    assert bad.status_code == 400 and bad.json()["errorKey"] == "invalid-filter"
    assert client.get("/images", params={"length": 1000}, headers=HEADERS).status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "offset=9223372036854775808",
        "offset=-1",
        "length=100000",
        "q=" + "+".join(["word"] * 3000),
        "&".join(f"f{i}=x" for i in range(2000)),
    ],
)
def test_search_bounds_its_parameters_with_grids_error_shape(
    client: TestClient, query: str
) -> None:
    response = client.get(f"/images?{query}", headers=HEADERS)
    assert response.status_code == 400
    assert set(response.json()) == {"errorKey", "errorMessage"}


def test_a_reset_reason_that_is_not_unicode_is_a_400(client: TestClient) -> None:
    body = b'{"states": ["KnownError"], "reason": "\\ud800"}'
    response = client.post(
        "/admin/reset", content=body, headers={**HEADERS, "content-type": "application/json"}
    )
    assert response.status_code == 400 and "surrogate" in response.json()["errorMessage"]


def test_metrics_are_prometheus_text(client: TestClient, library: Library) -> None:
    response = client.get("/metrics", headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'reingest_stream_depth{priority="high"}' in response.text


def test_admin_ids_stats_reset_and_scheduler(
    client: TestClient, components: Components, library: Library, tmp_path: Path
) -> None:
    ids = "\n".join([*library.good, *library.broken, ID, "nope", ""])
    report = client.post("/admin/ids", content=ids.encode(), headers=HEADERS).json()
    assert report["added"] == len(library.good) + len(library.broken) + 1
    assert report["malformed"] == 1 and report["malformedExamples"] == [
        {"line": len(library.good) + len(library.broken) + 2, "text": "nope"}
    ]
    started = client.post("/admin/scheduler/start", headers=HEADERS).json()
    assert started["running"] or started["finishedAt"]
    client.app.state.scheduler._thread.join(60)  # type: ignore[attr-defined]
    status = client.get("/admin/scheduler", headers=HEADERS).json()
    assert not status["running"] and status["error"] is None
    stats = client.get("/admin/stats", headers=HEADERS).json()
    assert stats["counts"] == {
        "NotFound": 1,
        "KnownError": len(library.broken),
        "Verified": len(library.good),
    }
    assert stats["remaining"] == 0 and stats["etaSeconds"] == 0.0
    groups = {g["state"]: g for g in stats["failures"]}
    assert groups["NotFound"]["examples"] == [ID]
    moved = client.post(
        "/admin/reset",
        json={"states": ["NotFound"], "reason": groups["NotFound"]["reason"]},
        headers=HEADERS,
    ).json()
    assert moved == {"reset": 1}
    assert components.progress.counts()[State.NotStarted] == 1
    bad = client.post("/admin/reset", json={"states": ["Nope"]}, headers=HEADERS)
    assert bad.status_code == 400 and bad.json()["errorKey"] == "invalid-state"
    stopped = client.post("/admin/scheduler/stop", headers=HEADERS).json()
    assert stopped["running"] is False


def test_admin_publish_posts_messages_on_the_chosen_stream(
    client: TestClient, components: Components
) -> None:
    body = b'{"subject": "delete-image", "id": "%s"}\n\n[]\n' % ID.encode()
    report = client.post("/admin/publish", content=body, headers=HEADERS).json()
    assert report == {
        "published": 1,
        "malformed": 1,
        "malformedExamples": [{"line": 3, "problem": "not a JSON object but list"}],
    }
    low = client.post("/admin/publish?priority=low", content=body[:-3], headers=HEADERS)
    assert low.json()["published"] == 1
    assert components.streams.lag(Priority.HIGH).depth == 1
    assert components.streams.lag(Priority.LOW).depth == 1
    unknown = client.post("/admin/publish?priority=urgent", content=body, headers=HEADERS)
    assert unknown.status_code == 400
