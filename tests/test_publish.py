"""``reingest publish`` and the replay of dead letters: the domain (reingest.publish) on the
embedded streams, and the commands in-process (typer's runner). The replay's behaviour on each
backend is in the streams contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reingest.backends import Components
from reingest.cli import app
from reingest.config import Settings
from reingest.publish import publish_lines, replay_dead_letters
from reingest.streams.base import Priority, Streams

ID = "a" * 40


def delete_message(image_id: str = ID, **extra: object) -> dict[str, object]:
    return {"subject": "delete-image", "id": image_id, **extra}


def lines_of(*messages: object) -> list[bytes]:
    """JSON Lines, each message spaced out as people write it."""
    return [
        json.dumps(message, indent=1).replace("\n", "").encode() + b"\n" for message in messages
    ]


def drain(streams: Streams, priority: Priority) -> list[bytes]:
    deliveries = streams.receive(priority, "test", 1000, 60)
    streams.ack(deliveries)
    return [d.payload for d in deliveries]


def test_messages_are_posted_in_order_compactly_in_batches(components: Components) -> None:
    messages = [delete_message(f"{i:040x}", lastModified="2024-01-01T00:00:00Z") for i in range(7)]
    batches: list[int] = []
    report = publish_lines(
        components.streams, Priority.LOW, lines_of(*messages), on_published=batches.append, batch=3
    )
    assert (report.published, report.malformed, batches) == (7, 0, [3, 3, 1])
    posted = drain(components.streams, Priority.LOW)
    assert [json.loads(p) for p in posted] == messages
    assert all(b" " not in p and b"\n" not in p for p in posted)
    assert drain(components.streams, Priority.HIGH) == []


def test_bad_lines_are_reported_by_number_and_the_rest_still_posted(
    components: Components,
) -> None:
    lines = [
        b"\xef\xbb\xbf" + lines_of(delete_message())[0],  # saved with a byte order mark
        b"\n",
        b"   \n",
        b'["subject", "image"]\n',
        b'{"subject": 1}\n',
        b"{not json\n",
        b'{"subject": "caf\xe9"}\n',  # not UTF-8
        b'{"subject": "set-image-collections", "id": "x", "unknown": [1.5, null]}',
    ]
    report = publish_lines(components.streams, Priority.HIGH, lines)
    assert report.published == 2 and report.malformed == 4
    assert [n for n, _ in report.malformed_examples] == [4, 5, 6, 7]
    assert "not a JSON object" in report.malformed_examples[0][1]
    assert report.malformed_examples[1][1] == "no string subject"
    posted = drain(components.streams, Priority.HIGH)
    assert json.loads(posted[1]) == {
        "subject": "set-image-collections",
        "id": "x",
        "unknown": [1.5, None],
    }  # as given: not checked against the model (thrall does that, and dead-letters)


def dead_letters(streams: Streams, reasons: list[str], priority: Priority = Priority.LOW) -> None:
    streams.publish(
        priority, [json.dumps(delete_message(f"{i:040x}")).encode() for i in range(len(reasons))]
    )
    for delivery, reason in zip(streams.receive(priority, "t", 100, 60), reasons, strict=True):
        streams.dead_letter(delivery, reason)


def test_replay_chooses_by_reason_ids_and_limit_oldest_first(
    components: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reingest.publish.REPLAY_PAGE", 2)  # several pages
    streams = components.streams
    dead_letters(streams, ["index down", "bad", "index down", "bad", "index down", "bad"])
    letters = streams.dead_letters()
    assert replay_dead_letters(streams, reason="index down", limit=2) == 2
    assert drain(streams, Priority.LOW) == [letters[0].payload, letters[2].payload]
    assert replay_dead_letters(streams, ids=[letters[5].id, letters[4].id, "nope"]) == 2
    assert drain(streams, Priority.LOW) == [letters[4].payload, letters[5].payload]
    assert replay_dead_letters(streams, reason="index down") == 0
    assert [d.id for d in streams.dead_letters()] == [letters[1].id, letters[3].id]
    assert replay_dead_letters(streams) == 2
    assert streams.dead_letter_count() == 0


def test_a_run_replays_only_what_was_dead_when_it_started(
    components: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message dead-lettered again while the replay runs waits for the next replay."""
    streams = components.streams
    dead_letters(streams, ["bad", "bad", "bad"])
    replayed = 0

    def fails_again(posted: int) -> None:
        nonlocal replayed
        replayed += posted
        for delivery in streams.receive(Priority.LOW, "thrall", 100, 60):
            streams.dead_letter(delivery, "bad")

    monkeypatch.setattr("reingest.publish.REPLAY_PAGE", 1)
    assert replay_dead_letters(streams, on_replayed=fails_again) == 3
    assert replayed == 3 and streams.dead_letter_count() == 3


# -- the commands ------------------------------------------------------------------------------


@pytest.fixture
def invoke(home: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None, code: int = 0) -> str:
        env = {"REINGEST_HOME": str(home), "COLUMNS": "200"}
        result = runner.invoke(app, list(args), input=stdin, env=env)
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_publish_feeds_thrall_and_reports_bad_lines(invoke, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    messages = tmp_path / "messages.jsonl"
    messages.write_text(
        json.dumps(delete_message()) + "\n\nnot json\n" + json.dumps({"subject": "nope"}) + "\n"
    )
    output = invoke("publish", str(messages), code=1)
    assert "published 2 messages on the high-priority stream" in output
    assert "1 lines not published" in output and "line 3: not JSON" in output
    assert "applied 1 messages, dead-lettered 1" in invoke("thrall", "--until-done")
    [dead] = json.loads(invoke("failures", "--json"))["deadLetters"]
    assert dead["priority"] == "high" and "nope" in dead["reason"]  # thrall's wording

    low = json.dumps(delete_message("b" * 40))
    assert "1 messages on the low-priority" in invoke(
        "publish", "--priority", "low", "-", stdin=low
    )
    invoke("publish", "--priority", "urgent", "-", stdin=low, code=2)


def test_failures_replay_reposts_dead_letters_after_a_fix(invoke, home: Path) -> None:  # type: ignore[no-untyped-def]
    with Components(Settings.from_env({"REINGEST_HOME": str(home)})) as opened:
        dead_letters(opened.streams, ["index down", "index down", "bad"], Priority.HIGH)
    listed = json.loads(invoke("failures", "--json"))
    assert listed["deadLetterCount"] == 3
    ids = [d["id"] for d in listed["deadLetters"]]
    assert len(json.loads(invoke("failures", "--json", "--limit", "1"))["deadLetters"]) == 1
    invoke("failures", "--reason", "bad", code=1)  # choosing needs --replay

    assert "replayed 1 dead letters; 2 left" in invoke("failures", "--replay", "--id", ids[2])
    out = invoke("failures", "--replay", "--reason", "index down")
    assert "replayed 2 dead letters; 0 left" in out
    assert "applied 3 messages, dead-lettered 0" in invoke("thrall", "--until-done")
