"""The migration panel, ``/admin/migration``, the migration metrics and the audit's repair
button, over real HTTP (uvicorn on a free port): each action is a dashboard form post."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from http_support import HEADERS, KEY, Library

from reingest.audit import LAST_REPORT, Auditor, last_report, save_report
from reingest.backends import Components
from reingest.http.control import Task, Tasks, ThroughputSampler, eta
from reingest.http.routes import migration as routes
from reingest.http.routes.audit import REPAIR_TASK
from reingest.index.base import AliasChange
from reingest.migration import MIGRATION
from reingest.states import State
from reingest.thrall import drain


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, headers=HEADERS, timeout=60) as client:
        yield client


@pytest.fixture
def indexed(components: Components, library: Library) -> Library:
    """The sample library stored and its uploads indexed (thrall drained)."""
    drain(components.streams, components.index, "thrall-test", 30, 100)
    assert components.index.count() == len(library.good)
    return library


def act(http: httpx.Client, path: str, **form: str) -> dict[str, str]:
    """Post a dashboard form; the redirect's notice or error (the page shows either)."""
    response = http.post(path, data=form)
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == "/" and location.fragment in ("migration", "audit")
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def tasks(app: FastAPI) -> Tasks:
    found: Tasks = app.state.tasks
    return found


def wait_for(app: FastAPI, name: str) -> Task:
    task = tasks(app).last(name)
    assert task is not None and task.wait(60)
    return task


def status(http: httpx.Client, fresh: bool = False) -> dict[str, Any]:
    response = http.get("/admin/migration", params={"fresh": "true"} if fresh else {})
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def metric_lines(http: httpx.Client, prefix: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in http.get("/metrics").text.splitlines()
        if line.startswith(prefix)
    }


def test_the_migration_routes_need_a_key_or_a_session_and_same_origin_posts(
    server_url: str,
) -> None:
    response = httpx.get(f"{server_url}/admin/migration")
    assert response.status_code == 401 and response.json()["errorKey"] == "unauthorised"
    refused = httpx.post(f"{server_url}/dashboard/migration/pause", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    with httpx.Client(base_url=server_url) as browser:
        browser.post("/login", data={"key": KEY}, headers={"origin": server_url})
        forged = browser.post(
            "/dashboard/migration/start",
            data={"confirm": "start"},
            headers={"origin": "https://evil.example"},
        )
        assert forged.status_code == 403
        own = browser.post("/dashboard/migration/pause", headers={"origin": server_url})
        assert own.status_code == 303 and "error=no+migration+is+running" in own.headers["location"]
        assert browser.get("/admin/migration").json()["state"] == "NotRunning"


def test_aliases_that_name_two_indices_are_shown_in_the_panel(
    http: httpx.Client, components: Components
) -> None:
    for name in ("images_a", "images_b"):
        components.index.create_index(name)
        components.index.change_aliases([AliasChange("add", MIGRATION, name)])
    page = http.get("/")
    assert page.status_code == 200 and 'id="scheduler"' in page.text
    assert "The aliases cannot be read: alias Images_Migration points at 2 indices" in page.text


def test_a_migration_from_start_to_completion_and_rollback(
    http: httpx.Client, app: FastAPI, components: Components, indexed: Library
) -> None:
    library = indexed
    before = status(http)
    old = before["current"]
    assert before["state"] == "NotRunning" and before["migration"] is None
    assert before["gates"] is None and before["counts"] == {old: len(library.good)}
    assert metric_lines(http, "reingest_migration_state{") == {
        'reingest_migration_state{state="NotRunning"}': 1.0,
        'reingest_migration_state{state="InProgress"}': 0.0,
        'reingest_migration_state{state="Paused"}': 0.0,
        'reingest_migration_state{state="CompletionPreview"}': 0.0,
    }

    assert act(http, "/dashboard/migration/start", confirm="strat") == {
        "error": "type 'start' in the confirmation box to go ahead; nothing done"
    }
    assert status(http)["state"] == "NotRunning"
    started = act(http, "/dashboard/migration/start", confirm="start")
    assert wait_for(app, routes.START_TASK).error is None
    running = status(http, fresh=True)
    new = running["migration"]
    ids = len(library.good) + len(library.broken)
    assert running["state"] == "InProgress" and running["current"] == old
    assert running["start"]["result"] == (
        f"Migrating to {new}: {ids:,} ids queued. Start the scheduler (or run reingest run, "
        "or the workers) to carry it out."
    )
    assert started["notice"] in (
        running["start"]["result"],  # it ended within the wait
        "Starting the migration: every id is being queued in the background.",
    )
    assert running["progress"]["total"] == ids and running["progress"]["done"] == 0
    gates = {gate["name"]: gate for gate in running["gates"]}
    assert not gates["every id ended"]["passed"]
    assert gates["every id ended"]["detail"] == f"{ids} ids still to do"
    assert gates["the new index holds every image"]["examples"]  # nothing copied yet
    assert running["gatesCheckedAt"] <= time.time() and not running["gatesChecking"]
    assert (
        metric_lines(http, "reingest_migration_").items()
        >= {
            'reingest_migration_state{state="InProgress"}': 1.0,
            'reingest_migration_documents{alias="current"}': float(len(library.good)),
            'reingest_migration_documents{alias="migration"}': 0.0,
        }.items()
    )
    page = http.get("/").text
    assert 'id="migration-state">InProgress<' in page and "every id ended" in page

    for action, state in (
        ("pause", "Paused"),
        ("resume", "InProgress"),
        ("preview", "CompletionPreview"),
        ("unpreview", "InProgress"),
    ):
        assert "notice" in act(http, f"/dashboard/migration/{action}")
        assert status(http)["state"] == state, action

    refused = act(http, "/dashboard/migration/complete", confirm="complete")
    assert refused["error"].startswith(
        f"Not completed: gate failed: every id ended ({ids} ids still to do); "
        "the new index holds every image"
    )
    assert status(http)["migration"] == new

    http.post("/admin/scheduler/start")
    app.state.scheduler._thread.join(120)
    ended = status(http, fresh=True)
    assert ended["progress"]["done"] == ids and ended["etaSeconds"] == 0.0
    assert ended["counts"][new] == len(library.good)
    assert [gate["passed"] for gate in ended["gates"]] == [True, True, False]
    assert {g["state"] for g in ended["failures"]} == {"KnownError"}
    assert sum(g["count"] for g in ended["failures"]) == len(library.broken)
    refused = act(http, "/dashboard/migration/complete", confirm="complete")
    assert refused["error"] == (
        f"Not completed: gate failed: failures under the threshold ({len(library.broken)} "
        "failed ids (at most 0 allowed; see reingest failures))"
    )

    done = act(
        http,
        "/dashboard/migration/complete",
        confirm="complete",
        max_failures=str(len(library.broken)),
    )
    after = status(http)
    assert (after["state"], after["current"], after["historical"]) == ("NotRunning", new, old)
    assert done["notice"] == (
        f"Completed: {new} is current; {old} keeps receiving writes until "
        f"{after['rollback_until']}, so a rollback loses nothing until then."
    )
    assert after["gates"] is None
    # the failures stay readable after completion (Grid issue #3562)
    assert after["failures"] == ended["failures"]
    metrics = metric_lines(http, "reingest_migration_")
    assert metrics['reingest_migration_state{state="NotRunning"}'] == 1.0
    assert metrics['reingest_migration_documents{alias="historical"}'] == len(library.good)
    until = metrics["reingest_migration_rollback_until_timestamp_seconds"]
    assert until == pytest.approx(time.time() + 7 * 86400, abs=120)
    page = http.get("/").text
    assert "Rollback window" in page and "KnownError" in page.split('id="migration"')[1]

    assert "the rollback window of" in act(http, "/dashboard/migration/cleanup")["error"]
    assert "error" in act(http, "/dashboard/migration/rollback", confirm="yes")
    assert act(http, "/dashboard/migration/rollback", confirm="rollback") == {
        "notice": f"Rolled back: {old} is current again."
    }
    back = status(http)
    assert (back["current"], back["historical"], back["rollback_until"]) == (old, new, None)
    assert "reingest_migration_rollback_until_timestamp_seconds" not in metric_lines(
        http, "reingest_migration_"
    )
    assert act(http, "/dashboard/migration/cleanup") == {"notice": f"Deleted {new}."}
    assert status(http)["historical"] is None


def test_one_image_abandon_and_refusals(
    http: httpx.Client, app: FastAPI, components: Components, indexed: Library
) -> None:
    library = indexed
    assert act(http, "/dashboard/migration/pause") == {
        "error": "no migration is running (start one: reingest migrate start)"
    }
    assert "error" in act(http, "/dashboard/migration/check")
    assert http.post("/dashboard/migration/nope").status_code == 404
    act(http, "/dashboard/migration/start", confirm="start")
    assert wait_for(app, routes.START_TASK).error is None
    new = status(http)["migration"]
    again = act(http, "/dashboard/migration/start", confirm="start")
    assert again["error"] == f"ConfigurationError: a migration to {new} is already running"
    page = http.get("/").text
    assert f"The last start failed: ConfigurationError: a migration to {new}" in page

    image_id = library.good[0]
    assert act(http, "/dashboard/migration/image", image_id=f" {image_id.upper()} ") == {
        "notice": f"{image_id}: projected and posted; thrall writes it into both indices."
    }
    drain(components.streams, components.index, "thrall-test", 30, 100)
    assert components.index.using(new).get(image_id) is not None
    assert act(http, "/dashboard/migration/image", image_id="nope") == {
        "error": "'nope' is not an image id (40 hex digits)"
    }
    unknown = act(http, "/dashboard/migration/image", image_id="0" * 40)
    assert unknown["error"].startswith(f"{'0' * 40} not migrated: NotFound: ")
    assert act(http, "/dashboard/migration/check")["notice"].startswith("Gates checked: failed:")

    assert "error" in act(http, "/dashboard/migration/abandon", confirm="")
    assert act(http, "/dashboard/migration/abandon", confirm="abandon") == {
        "notice": f"Abandoned: {new} is deleted; the current index never changed."
    }
    assert status(http)["state"] == "NotRunning"
    assert new not in components.index.indices()


def test_the_gates_are_checked_again_only_when_stale() -> None:
    def ended(started: float, finished: float) -> Task:
        task = Task("gates", started_at=started)
        task.finished_at = finished
        return task

    now = 10_000.0
    assert routes.stale(None, now)
    assert not routes.stale(Task("gates"), now)  # under way
    assert not routes.stale(ended(now - 31, now - 30), now)
    assert routes.stale(ended(now - 62, now - 61), now)
    # a check that took 10 s waits 100 s
    assert not routes.stale(ended(now - 100, now - 90), now)
    assert routes.stale(ended(now - 111, now - 101), now)


def test_the_repair_button_audits_every_original_and_queues_what_it_found(
    http: httpx.Client, app: FastAPI, components: Components, indexed: Library
) -> None:
    library = indexed
    assert 'id="repair"' not in http.get("/").text  # no audit yet, nothing to repair
    components.index.clear()  # data loss: every document is missing
    report = Auditor(
        components.index, components.originals, components.local_projector, components.settings
    ).run(sample=4, rng=random.Random(1))
    assert 0 < report.missing.count < len(library.good)  # a sample finds only some
    save_report(components.settings.home / LAST_REPORT, report)
    page = http.get("/").text
    assert 'id="repair"' in page and f'id="audit-missing">{report.missing.count}<' in page

    assert act(http, "/dashboard/audit/repair", confirm="") == {
        "error": "type 'repair' in the confirmation box to go ahead; nothing done"
    }
    assert sum(components.progress.counts().values()) == 0
    act(http, "/dashboard/audit/repair", confirm="repair")
    task = wait_for(app, REPAIR_TASK)
    good, broken = len(library.good), len(library.broken)
    assert task.result == (
        f"Audit with repair: {good + broken:,} originals checked, {good:,} missing, 0 drifted: "
        f"queued {good:,} ids at NotStarted ({good:,} new, 0 reset from an end state), 0 "
        "already queued or in flight. Start the scheduler to reingest them; the next audit "
        "should be clean."
    )
    assert components.progress.counts() == {State.NotStarted: good}
    saved = last_report(components.settings.home)
    assert saved is not None and saved["sample"] is None and saved["missing"] == good
    assert saved["repair"] == {"queued": good, "added": good, "reset": 0, "untouched": 0}
    page = http.get("/").text
    assert f"queued {good:,} ids at NotStarted" in page
    assert f'id="audit-missing">{good}<' in page


def test_a_reset_does_not_stall_the_rate() -> None:
    """A migration's start moves every ended id back: only rises count as work done."""
    sampler = ThroughputSampler(min_interval=0)
    for second, done in enumerate((50, 100, 0, 30)):  # the start resets 100 ids, 30 end
        sampler.sample({State.Verified: done, State.NotStarted: 100 - done}, now=1000.0 + second)
    assert sampler.rate() == pytest.approx(80 / 3)
    assert eta(70, 100, sampler.rate()) == pytest.approx(70 / (80 / 3))
    assert eta(0, 100, None) == 0.0 and eta(0, 0, None) is None and eta(5, 10, None) is None
