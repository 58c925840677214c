"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright):
log in, upload ids, run the scheduler, retry a failure group and see the counts change, then
start and pause a migration from its panel.

Skipped when chromium or playwright is missing, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from http_support import KEY, Library, serve_in_thread

from reingest.backends import Components
from reingest.states import State

CHROMIUM = os.environ.get("REINGEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MISSING = [f"{n:040x}" for n in range(1, 21)]


def _missing_tools() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    return None


@pytest.fixture
def page() -> Iterator[Any]:
    problem = _missing_tools()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run in CI: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        context.set_default_timeout(30_000)
        yield context.new_page()
        context.close()
        browser.close()


def test_dashboard_in_a_browser(
    page: Any, app: FastAPI, components: Components, library: Library, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join([*library.good, *library.broken, *MISSING, "oops"]) + "\n")
    with serve_in_thread(app) as url:
        page.goto(url + "/")
        expect(page).to_have_url(f"{url}/login?next=/")
        page.fill("input[name=key]", "wrong")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("not valid")
        page.fill("input[name=key]", KEY)
        page.click("button[type=submit]")
        expect(page.locator("#progress h2")).to_have_text("Progress")

        page.set_input_files("input[name=file]", str(ids_file))
        page.click("#upload button[type=submit]")
        expect(page.locator("#notice")).to_contain_text("34 valid ids, 34 added")
        expect(page.locator("#notice")).to_contain_text("line 35: 'oops'")
        expect(page.locator("#total")).to_have_text("34")

        page.click("#start")
        expect(page.locator("#notice")).to_have_text("Scheduler started.")
        # the page reloads itself while the scheduler runs; it stops by itself when done
        expect(page.locator("#scheduler-state")).to_have_text("stopped", timeout=60_000)
        expect(page.locator("#remaining")).to_have_text("0")
        counts = components.progress.counts()
        assert counts[State.NotFound] == len(MISSING)
        assert counts[State.Verified] == len(library.good)

        row = page.locator("tr.failure-group", has_text="no original stored for this id")
        expect(row).to_contain_text("20")
        page.wait_for_timeout(600)  # one more throughput sample for the chart
        ARTIFACTS.mkdir(exist_ok=True)
        row.get_by_role("button").click()
        expect(page.locator("#notice")).to_contain_text("Retrying 20 ids from NotFound")
        expect(page.locator("tr.failure-group", has_text="no original stored")).to_have_count(0)
        expect(page.locator("#remaining")).to_have_text("20")
        assert components.progress.counts()[State.NotStarted] == len(MISSING)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        panel = page.locator("#migration")
        expect(page.locator("#migration-state")).to_have_text("NotRunning")
        panel.get_by_label("type start to confirm").fill("go")
        panel.get_by_role("button", name="Start a migration").click()
        expect(page.locator("#error")).to_contain_text("type 'start' in the confirmation box")
        expect(page.locator("#migration-state")).to_have_text("NotRunning")
        panel.get_by_label("type start to confirm").fill("start")
        panel.get_by_role("button", name="Start a migration").click()
        # the ids are queued in the background; the page reloads itself until that ends
        expect(page.locator("#migration-state")).to_have_text("InProgress")
        expect(panel.locator("tr.gate")).to_have_count(3, timeout=30_000)  # checked meanwhile
        panel.get_by_role("button", name="Pause").click()
        expect(page.locator("#notice")).to_contain_text("Paused")
        expect(page.locator("#migration-state")).to_have_text("Paused")
        page.screenshot(path=str(ARTIFACTS / "dashboard-migration.png"), full_page=True)
