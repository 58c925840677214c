"""The Lambda handlers against moto (DynamoDB, Kinesis, EventBridge in server mode): configured
by the original Lambdas' environment only, projecting over HTTP through ``PROJECTION_ENDPOINT``
(our own server, uvicorn in a thread, over the sample library), and stopping their own schedule
once nothing is left for them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from projection_support import KEY, MISSING_ID, Library, serve_in_thread
from reingest.aws import lambdas, schedule
from reingest.backends import Components
from reingest.config import Settings
from reingest.http import create_app
from reingest.messages import decode
from reingest.progress.dynamodb import DEFAULT_INDEX
from reingest.projection import Projector
from reingest.states import State
from reingest.thrall import drain

pytest_plugins = ["aws", "projection_support"]

#: names the original Lambdas (and our template) set; none may leak in from the caller's shell
ORIGINAL_NAMES = (
    "API_KEY",
    "PROJECTION_ENDPOINT",
    "IMAGES_ENDPOINT",
    "KINESIS_STREAM",
    "IMAGES_TO_INDEX_DYNAMO_TABLE",
    "STAGE",
    "DOMAIN_ROOT",
    schedule.RULE_NAME_VARIABLE,
)


def unique_name(prefix: str) -> str:
    from aws import unique_name as unique  # the plugin module, importable once it is loaded

    return unique(prefix)


@pytest.fixture(autouse=True)
def fresh_container(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test is a cold Lambda container."""
    for name in ORIGINAL_NAMES:
        monkeypatch.delenv(name, raising=False)
    lambdas.components.cache_clear()
    yield
    lambdas.components().close()
    lambdas.components.cache_clear()


# -- projection -------------------------------------------------------------------------------


def gateway_event(image_id: str, key: str | None = KEY) -> dict[str, Any]:
    """An API Gateway (REST, proxy integration) event for ``GET /images/projection/{id}``."""
    return {
        "resource": "/images/projection/{id}",
        "path": f"/images/projection/{image_id}",
        "httpMethod": "GET",
        "headers": {"X-Gu-Media-Key": key} if key else None,
        "pathParameters": {"id": image_id},
    }


@pytest.fixture
def projection_env(
    library: Library, components: Components, monkeypatch: pytest.MonkeyPatch
) -> Library:
    monkeypatch.setenv("REINGEST_HOME", str(components.settings.home))
    monkeypatch.setenv("API_KEY", KEY)
    return library


def test_projection_answers_200_with_the_image(
    projection_env: Library, components: Components
) -> None:
    image_id = projection_env.good[0]
    response = lambdas.projection_handler(gateway_event(image_id), None)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    expected = Projector(components.originals, components.services).project(image_id)
    assert json.loads(response["body"]) == expected.to_json()


def test_projection_answers_404_as_the_original_lambda(projection_env: Library) -> None:
    response = lambdas.projection_handler(gateway_event(MISSING_ID), None)
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"message": f"image with id={MISSING_ID} not-found"}


def test_projection_answers_500_with_grids_error_body(projection_env: Library) -> None:
    response = lambdas.projection_handler(gateway_event(projection_env.broken[0]), None)
    assert response["statusCode"] == 500
    message = json.loads(response["body"])["message"]
    assert set(message) == {"errorMessage", "downstreamErrorMessage"}
    assert message["errorMessage"].split(":")[0] in {"CorruptFile", "UnsupportedFileType"}


@pytest.mark.parametrize("key", [None, "wrong", KEY + "x"])
def test_projection_refuses_a_missing_or_wrong_key(
    projection_env: Library, key: str | None
) -> None:
    response = lambdas.projection_handler(gateway_event(projection_env.good[0], key), None)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["errorKey"] == "unauthorised"


def test_projection_header_names_are_case_insensitive_and_ids_are_checked(
    projection_env: Library,
) -> None:
    event = gateway_event(projection_env.good[0])
    event["headers"] = {"x-gu-media-key": KEY}  # HTTP APIs (payload 2.0) lower-case headers
    assert lambdas.projection_handler(event, None)["statusCode"] == 200
    response = lambdas.projection_handler(gateway_event("../../etc/passwd"), None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["errorKey"] == "invalid-id"


# -- the scheduled batches ----------------------------------------------------------------------


def scheduled_event(rule_arn: str) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "resources": [rule_arn],
        "detail": {},
    }


def create_progress_table(name: str) -> None:
    """The table exactly as deploy/template.yaml declares it."""
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "progress_state", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": DEFAULT_INDEX,
                "KeySchema": [
                    {"AttributeName": "progress_state", "KeyType": "HASH"},
                    {"AttributeName": "id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def low_stream_records(stream: str) -> list[bytes]:
    kinesis = boto3.client("kinesis")
    records: list[bytes] = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records.extend(r["Data"] for r in kinesis.get_records(ShardIterator=iterator)["Records"])
    return records


def rule_state(name: str) -> str:
    return str(boto3.client("events").describe_rule(Name=name)["State"])


@pytest.fixture
def deployment(
    aws_env: str,
    library: Library,
    components: Components,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """What the template deploys, in moto: the table, the rules (enabled, as an operator turns
    them on); the projection endpoint is our own server over the sample library."""
    table, stream = unique_name("images-to-index"), unique_name("thrall")
    create_progress_table(table)
    events = boto3.client("events")
    rules = {role: unique_name(f"batch-{role}") for role in ("index", "check")}
    arns = {
        role: events.put_rule(Name=name, ScheduleExpression="rate(1 minute)", State="ENABLED")[
            "RuleArn"
        ]
        for role, name in rules.items()
    }
    with serve_in_thread(create_app(components, api_keys=[KEY])) as url:
        env = {
            "REINGEST_HOME": str(tmp_path / "lambda"),
            # moto undoes a failed transaction by restoring a whole-table snapshot: one write at
            # a time (the original name IMAGES_TO_INDEX_DYNAMO_TABLE maps to the same table)
            "REINGEST_PROGRESS_URL": f"dynamodb://{table}?parallelism=1",
            "KINESIS_STREAM": stream,
            "REINGEST_INDEX_URL": f"sqlite:///{tmp_path}/index.db",
            "PROJECTION_ENDPOINT": f"{url}/images/projection",
            "API_KEY": KEY,
            "BATCH_SIZE": "50",
            "STAGE": "TEST",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield {
            "table": table,
            "low": f"{stream}-low",
            "index_rule": rules["index"],
            "check_rule": rules["check"],
            "index_arn": arns["index"],
            "check_arn": arns["check"],
        }


def test_index_then_check_then_both_schedules_turn_themselves_off(
    deployment: dict[str, str], library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [*library.good, *library.broken, MISSING_ID]
    opened = lambdas.components()
    assert opened.settings.progress_url.startswith(f"dynamodb://{deployment['table']}")
    opened.progress.add(ids)

    monkeypatch.setenv(schedule.RULE_NAME_VARIABLE, deployment["index_rule"])
    report = lambdas.batch_index_handler(scheduled_event(deployment["index_arn"]), None)
    assert sorted(report["claimed"]) == sorted(ids)
    assert report["outcomes"] == {
        "Enqueued": len(library.good),
        "KnownError": len(library.broken),
        "NotFound": 1,
    }
    assert "disabled_rule" not in report
    assert rule_state(deployment["index_rule"]) == "ENABLED"

    # on the low-priority stream: Grid's reingest-image messages, one per good image
    records = low_stream_records(deployment["low"])
    assert all(data[:1] == b"\x00" and data[1:3] == b"\x1f\x8b" for data in records)  # 0x00+gzip
    messages = [decode(data) for data in records]
    assert {m.subject for m in messages} == {"reingest-image"}
    assert sorted(m.image["id"] for m in messages if m.image) == sorted(library.good)
    rows = {row.id: row for row in opened.progress.get(ids)}
    assert {rows[i].state for i in library.broken} == {State.KnownError}
    assert rows[MISSING_ID].state == State.NotFound

    # before thrall applies them, the checker puts them back and keeps its schedule
    monkeypatch.delenv(schedule.RULE_NAME_VARIABLE)
    early = lambdas.batch_check_handler(scheduled_event(deployment["check_arn"]), None)
    assert early["outcomes"] == {"Enqueued": len(library.good)}
    assert rule_state(deployment["check_rule"]) == "ENABLED"

    applied, dead = drain(opened.streams, opened.index, "thrall", 30, 10)
    assert (applied, dead) == (len(library.good), 0)

    checked = lambdas.batch_check_handler(scheduled_event(deployment["check_arn"]), None)
    assert checked["outcomes"] == {"Verified": len(library.good)}
    assert rule_state(deployment["check_rule"]) == "ENABLED"

    # nothing left: each turns off the rule that fired it (env name, then the event's ARN)
    monkeypatch.setenv(schedule.RULE_NAME_VARIABLE, deployment["index_rule"])
    last_index = lambdas.batch_index_handler(scheduled_event(deployment["index_arn"]), None)
    assert last_index["claimed"] == []
    assert last_index["disabled_rule"] == deployment["index_rule"]
    assert rule_state(deployment["index_rule"]) == "DISABLED"

    monkeypatch.delenv(schedule.RULE_NAME_VARIABLE)
    last_check = lambdas.batch_check_handler(scheduled_event(deployment["check_arn"]), None)
    assert last_check["disabled_rule"] == deployment["check_rule"]
    assert rule_state(deployment["check_rule"]) == "DISABLED"
    assert opened.progress.counts() == {
        State.Verified: len(library.good),
        State.KnownError: len(library.broken),
        State.NotFound: 1,
    }


def test_the_checker_keeps_its_schedule_while_ids_wait_for_the_indexer(
    deployment: dict[str, str], library: Library
) -> None:
    lambdas.components().progress.add(library.good)
    report = lambdas.batch_check_handler(scheduled_event(deployment["check_arn"]), None)
    assert report["claimed"] == [] and report["disabled_rule"] is None
    assert rule_state(deployment["check_rule"]) == "ENABLED"


# -- pure parts ------------------------------------------------------------------------------


def test_the_rule_comes_from_the_environment_or_the_events_arn() -> None:
    arn = "arn:aws:events:eu-west-1:123456789012:rule/reingest-batch-index-TEST"
    event = scheduled_event(arn)
    assert schedule.own_rule(event, {}) == schedule.Rule("reingest-batch-index-TEST")
    assert schedule.own_rule(event, {"SCHEDULE_RULE_NAME": "mine"}) == schedule.Rule("mine")
    on_bus = scheduled_event("arn:aws:events:eu-west-1:1:rule/my-bus/my-rule")
    assert schedule.own_rule(on_bus, {}) == schedule.Rule("my-rule", "my-bus")
    assert schedule.own_rule({}, {}) is None


def test_the_original_environment_names_select_the_aws_backends() -> None:
    settings = Settings.from_env(
        {
            "IMAGES_TO_INDEX_DYNAMO_TABLE": "admin-tools-images-to-index-TEST",
            "KINESIS_STREAM": "media-service-TEST-thrall",
            "PROJECTION_ENDPOINT": "https://admin-tools.example.org/images/projection",
            "API_KEY": "k",
        }
    )
    assert settings.progress_url == "dynamodb://admin-tools-images-to-index-TEST"
    assert settings.stream_url == "kinesis://media-service-TEST-thrall"
    assert settings.projection_url == "https://admin-tools.example.org/images/projection"
    assert settings.projection_api_key == "k"
    overridden = Settings.from_env(
        {"IMAGES_TO_INDEX_DYNAMO_TABLE": "t", "REINGEST_PROGRESS_URL": "sqlite:///p.db"}
    )
    assert overridden.progress_url == "sqlite:///p.db"
    assert Settings.from_env({}).projection_url is None
