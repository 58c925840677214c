"""The dashboard in-process: login, session cookie, CSRF guard, retry, ids upload, scheduler."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from http_support import HEADERS, KEY, Library
from typer.testing import CliRunner

from reingest.backends import Components
from reingest.cli import app as cli
from reingest.http.control import ThroughputSampler
from reingest.http.routes.dashboard import chart, duration
from reingest.states import State
from reingest.streams.base import Priority
from reingest.throttle import for_thrall

ID = "0" * 40


def login(client: TestClient) -> None:
    response = client.post("/login", data={"key": KEY, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_pages_send_browsers_to_the_login_form(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/"
    assert "API key" in client.get("/login").text


def test_login_sets_a_strict_httponly_session_cookie(client: TestClient) -> None:
    bad = client.post("/login", data={"key": "nope"}, follow_redirects=False)
    assert bad.status_code == 401 and "not valid" in bad.text
    response = client.post("/login", data={"key": KEY, "next": "//evil.example"})
    cookie = response.history[0].headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert response.url.path == "/"  # not the open redirect
    assert "Progress" in client.get("/").text
    assert client.get("/admin/stats").status_code == 200  # the cookie works for the API too
    client.post("/logout")
    assert client.get("/admin/stats").status_code == 401


def test_a_forged_or_expired_session_is_refused(client: TestClient) -> None:
    auth = client.app.state.auth  # type: ignore[attr-defined]
    assert auth.valid_session(auth.new_session())
    assert not auth.valid_session(auth.new_session(now=time.time() - 13 * 3600))
    expiry = str(int(time.time()) + 3600)
    forged = f"{'1' * 32}.{expiry}.{'0' * 64}"
    assert not auth.valid_session(forged)
    client.cookies.set("reingest_session", forged)
    assert client.get("/admin/stats").status_code == 401


@pytest.mark.parametrize("cookie", ["é.1.x", "a.b", "...", "x" * 5000, "1.2.١٢"])
def test_a_cookie_of_any_shape_is_just_no_session(client: TestClient, cookie: str) -> None:
    raw = {"cookie": f"reingest_session={cookie}".encode()}  # as a browser may send it
    assert client.get("/admin/stats", headers=raw).status_code == 401
    assert client.get("/admin/stats", headers={**raw, **HEADERS}).status_code == 200


def test_logout_ends_the_session_for_good(client: TestClient) -> None:
    login(client)
    stolen = client.cookies.get("reingest_session")
    client.post("/logout", headers={"origin": "http://testserver"})
    client.cookies.set("reingest_session", stolen or "")
    assert client.get("/admin/stats").status_code == 401


def test_login_refuses_another_sites_form(client: TestClient) -> None:
    form = {"key": KEY, "next": "/"}
    forced = client.post("/login", data=form, headers={"origin": "https://evil.example"})
    assert forced.status_code == 403 and "set-cookie" not in forced.headers


def test_retry_moves_a_failure_group_back_and_refuses_other_origins(
    client: TestClient, components: Components
) -> None:
    components.progress.add([ID])
    client.post("/admin/scheduler/start", headers=HEADERS)
    client.app.state.scheduler._thread.join(30)  # type: ignore[attr-defined]
    assert components.progress.counts()[State.NotFound] == 1
    login(client)
    page = client.get("/").text
    assert "no original stored for this id" in page and "Retry 1" in page
    form = {"state": str(State.NotFound.value), "reason": "no original stored for this id"}
    forged = client.post("/dashboard/retry", data=form, headers={"origin": "https://evil.example"})
    assert forged.status_code == 403
    assert components.progress.counts()[State.NotFound] == 1
    done = client.post("/dashboard/retry", data=form, headers={"origin": "http://testserver"})
    assert done.status_code == 200 and "Retrying 1 ids from NotFound" in done.text
    assert components.progress.counts().get(State.NotFound, 0) == 0
    assert components.progress.counts()[State.NotStarted] == 1


def test_ids_upload_form_shows_the_report(client: TestClient, components: Components) -> None:
    login(client)
    content = f"{ID}\n{'1' * 40}\nnot-an-id\n{ID}\n".encode()
    response = client.post("/dashboard/ids", files={"file": ("ids.txt", content, "text/plain")})
    assert response.status_code == 200
    assert "ids.txt: 3 valid ids, 2 added, 1 already known or repeated" in response.text
    assert "1 malformed skipped (line 3: &#39;not-an-id&#39;)" in response.text
    assert components.progress.counts()[State.NotStarted] == 2


def test_scheduler_buttons_start_and_stop_the_loop(
    client: TestClient, components: Components, library: Library
) -> None:
    login(client)
    components.progress.add(library.good)
    page = client.post("/dashboard/scheduler", data={"action": "start", "keep_running": "true"})
    assert "Scheduler started." in page.text
    scheduler = client.app.state.scheduler  # type: ignore[attr-defined]
    assert scheduler.running and not scheduler.until_done
    deadline = time.monotonic() + 60
    while components.progress.counts().get(State.Verified, 0) < len(library.good):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert scheduler.running  # keep running: it waits for more
    assert "running" in client.get("/").text
    page = client.post("/dashboard/scheduler", data={"action": "stop"})
    assert "Scheduler stopped." in page.text and not scheduler.running
    assert client.post("/dashboard/scheduler", data={"action": "x"}).status_code == 400


def test_throughput_eta_and_chart_from_samples() -> None:
    sampler = ThroughputSampler(min_interval=0)
    for second, done in enumerate((0, 10, 30, 60)):
        sampler.sample({State.Verified: done, State.NotStarted: 100 - done}, now=1000.0 + second)
    assert sampler.rate() == pytest.approx(20.0)
    assert [rate for _, rate in sampler.series()] == [10.0, 20.0, 30.0]
    drawn = chart(sampler.series())
    assert drawn["max"] == 30.0 and len(drawn["points"].split()) == 3
    assert duration(3725) == "1h 02m" and duration(65) == "1m 05s" and duration(None) == "—"


def test_serve_refuses_to_start_without_keys(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("API_KEY", raising=False)
    import uvicorn

    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append((app, kw)))
    runner = CliRunner()
    env = {"REINGEST_HOME": str(tmp_path)}
    refused = runner.invoke(cli, ["serve"], env=env)
    assert refused.exit_code == 1 and "no API keys" in refused.output
    assert "--insecure-no-auth" in refused.output and not started
    ok = runner.invoke(cli, ["serve", "--port", "9999"], env={**env, "REINGEST_API_KEYS": "a, b"})
    assert ok.exit_code == 0, ok.output
    app, options = started[0]  # type: ignore[misc]
    assert options == {"host": "127.0.0.1", "port": 9999}
    assert app.state.auth.valid_key("b")  # type: ignore[attr-defined]
    insecure = runner.invoke(cli, ["serve", "--insecure-no-auth"], env=env)
    assert insecure.exit_code == 0 and "WITHOUT authentication" in insecure.output


def test_the_audit_panel_shows_the_last_report(client: TestClient, components: Components) -> None:
    login(client)
    assert "No audit yet" in client.get("/").text
    report = {
        "checked": 1200,
        "missing": 3,
        "orphans": 1,
        "drifted": 7,
        "unreadable": 2,
        "fields": {"metadata.credit": 5, "fileMetadata.xmp.dc:title": 2},
        "examples": {"fields": {"metadata.credit": [ID]}},
        "finishedAt": "2026-12-01T03:00:00.000Z",
    }
    (components.settings.home / "last-audit.json").write_text(json.dumps(report))
    page = client.get("/").text
    assert "Last audit finished 2026-12-01T03:00:00.000Z" in page
    assert 'id="audit-drifted">7<' in page and 'id="audit-checked">1,200<' in page
    assert "<code>metadata.credit</code>" in page and f"<code>{ID}</code>" in page
    assert "reingest audit --repair" in page


def test_the_dashboard_stats_and_metrics_show_each_throttles_rate_and_last_cut(
    client: TestClient, components: Components
) -> None:
    streams, index = components.streams, components.index
    with for_thrall(components.settings, "thrall@host:1:abc", streams, index) as pace:
        pace.applied(Priority.LOW, 200, time.monotonic() - 0.9)  # a write of over 0.75 s
        login(client)
        page = client.get("/").text
        throttle = page[page.index('id="throttle"') :]
        assert "thrall@host:1:abc" in throttle and "7,000.0" in throttle
        assert "ago: an index write took 0.9" in throttle
        [shown] = client.get("/admin/stats").json()["throttle"]
        assert (shown["cause"], shown["rate"]) == ("slow-writes", 7000.0)
        metrics = client.get("/metrics", headers=HEADERS).text
        assert 'reingest_throttle_rate{role="thrall",worker="thrall@host:1:abc"} 7000.0' in metrics
    assert "No throttled loop is running here" in client.get("/").text
