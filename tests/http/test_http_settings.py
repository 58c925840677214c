"""The dashboard's settings page: the registry ``reingest config`` prints, secrets masked."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from http_support import HEADERS, KEY

TYPO = "REINGEST_" + "LEASE_SECOND"


def test_the_settings_page_lists_the_registry_with_the_servers_values_and_masks_secrets(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REINGEST_ES_API_KEY", "es-secret-0123456789")
    monkeypatch.setenv("REINGEST_INDEX_URL", "http://elastic:hunter2@es.example:9200/images")
    monkeypatch.setenv(TYPO, "10")
    assert client.get("/settings", follow_redirects=False).status_code == 303  # login first
    page = client.get("/settings", headers=HEADERS)
    assert page.status_code == 200
    assert "****89" in page.text
    assert "es-secret" not in page.text and "hunter2" not in page.text and KEY not in page.text
    assert f"{TYPO} is not a reingest setting (did you mean REINGEST_LEASE_SECONDS?)" in page.text
    # the values this server runs with (the fixture's settings), not the environment's
    lease = page.text.split('id="setting-lease_seconds"')[1].split("</tr>")[0]
    assert "<code>30</code>" in lease and "given in code" in lease
    batch = page.text.split('id="setting-batch_size"')[1].split("</tr>")[0]
    assert "REINGEST_BATCH_SIZE" in batch and "BATCH_SIZE" in batch and ">default<" in batch
    assert 'href="/settings"' in client.get("/", headers=HEADERS).text
