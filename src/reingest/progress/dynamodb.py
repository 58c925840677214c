"""Progress table on DynamoDB (``dynamodb://TABLE``): the original Grid tool's layout.

One item per image id: partition key ``id`` (S), number ``progress_state``, plus ``reason``,
``attempts``, ``owner``, ``lease_until``, ``enqueued_version`` and ``updated_at``. A global
secondary index on ``progress_state`` (sort key ``id``) finds the ids in a state, in id order.
The table (PAY_PER_REQUEST) is created if it is missing.

URL options (query string): ``endpoint_url`` and ``region`` (else boto3's own configuration:
``AWS_ENDPOINT_URL``, ``AWS_REGION``…; ``REINGEST_AWS_ENDPOINT_URL`` wins over both; a
``<service>_endpoint_url`` wins over all for that service: see ``aws_client``),
``index`` (GSI name, default ``progress_state-index``), ``parallelism`` (conditional writes in
flight, default 8).

How each verb stays safe with many workers:

- **claim / settle / expire / reset** are one ``TransactWriteItems`` per id: a conditional
  ``Update`` of the row (``progress_state = :from`` and ``updated_at = :seen``, or ``owner = :me``
  for settle) together with an atomic ``ADD`` on a counter item. A worker that loses the
  condition skips the id, so two workers never own one id. Candidates come from the GSI, which
  is eventually consistent: a stale candidate just fails its condition.
- **counts** are maintained counters, not GSI ``Select=COUNT`` queries (those read the whole
  index: O(rows) per call). The counters live in ``COUNTER_SHARDS`` items of the same table
  (ids ``#counts/0``…; image ids are hex, so they never clash) so that no single item takes
  every write; ``counts()`` sums them with one ``BatchGetItem``. They move in the same
  transaction as the row, except in ``add`` (a separate ``ADD`` after the batch is written), so
  a crash inside ``add`` or two uploads of the same new id at the same moment can make them
  drift; ``recount()`` (a full scan) shows the truth.
- **add** reads the chunk back first (``BatchGetItem``, consistent) and writes only unknown ids
  with ``BatchWriteItem`` (a blind put), 25 at a time, retrying ``UnprocessedItems`` with
  backoff until none are left (the original dropped them silently).
- **scan** merges the per-state GSI queries (each already in id order), so ids come out in
  global id order with flat memory, at any size.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ..batching import chunked
from ..config import read
from ..errors import ConfigurationError, TransientError
from ..states import CLAIM_RETURNS_TO, State
from .base import Claim, FailureGroup, Outcome, ProgressRow, ProgressTable

Item = dict[str, Any]

DEFAULT_INDEX = "progress_state-index"
COUNTER_PREFIX = "#counts/"
COUNTER_SHARDS = 8
#: tries of a batch request whose unprocessed part keeps coming back, or of a transaction that
#: keeps conflicting, before giving up with a TransientError
MAX_TRIES = 12
#: distinct (state, reason) groups kept by failure_groups (bounded memory)
MAX_GROUPS = 10_000

#: every attribute goes through a placeholder (``owner`` and ``reason``-like words are reserved)
NAMES = {
    "#id": "id",
    "#state": "progress_state",
    "#reason": "reason",
    "#attempts": "attempts",
    "#owner": "owner",
    "#lease": "lease_until",
    "#version": "enqueued_version",
    "#updated": "updated_at",
}


def aws_client(service: str, url: str, pool: int = 10, signature_version: str | None = None) -> Any:
    """A boto3 client configured from the URL's query string and the environment. The
    endpoint: ``?<service>_endpoint_url=`` (e.g. ``dynamodb_endpoint_url`` for the Kinesis
    backend's state table), else ``REINGEST_AWS_ENDPOINT_URL``, else ``?endpoint_url=``, else
    boto3's own (``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_ENDPOINT_URL``). ``signature_version``:
    botocore's default unless given (S3 presigns with SigV2 in us-east-1 by default)."""
    query = parse_qs(urlparse(url).query)
    endpoint = (
        _first(query, f"{service}_endpoint_url")
        or read("aws_endpoint_url")
        or _first(query, "endpoint_url")
    )
    session = boto3.session.Session(region_name=_first(query, "region"))
    region = session.region_name or "us-east-1"
    config = Config(
        retries={"mode": "standard", "max_attempts": 10},
        max_pool_connections=max(pool, 10),
        signature_version=signature_version,
    )
    return session.client(service, endpoint_url=endpoint, region_name=region, config=config)


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def backoff(attempt: int, cap: float = 2.0) -> None:
    time.sleep(random.uniform(0, min(cap, 0.02 * 2**attempt)))


def _n(value: float) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _row(item: Item) -> ProgressRow:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def number(name: str) -> float | None:
        return float(item[name]["N"]) if name in item else None

    return ProgressRow(
        id=item["id"]["S"],
        state=State(int(item["progress_state"]["N"])),
        reason=text("reason"),
        attempts=int(item["attempts"]["N"]) if "attempts" in item else 0,
        owner=text("owner"),
        lease_until=number("lease_until"),
        enqueued_version=text("enqueued_version"),
        updated_at=number("updated_at"),
    )


class DynamoProgressTable(ProgressTable):
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "dynamodb" or not parsed.netloc:
            raise ConfigurationError(f"expected dynamodb://TABLE, got {url!r}")
        query = parse_qs(parsed.query)
        self.table = parsed.netloc
        self.index = _first(query, "index") or DEFAULT_INDEX
        self.parallelism = int(_first(query, "parallelism") or 8)
        self.client = aws_client("dynamodb", url, pool=self.parallelism)
        self._pool = ThreadPoolExecutor(max_workers=self.parallelism)
        self._ensure_table()

    # -- setup ---------------------------------------------------------------------------------

    def _ensure_table(self) -> None:
        try:
            self.client.describe_table(TableName=self.table)
            return
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
        try:
            self.client.create_table(
                TableName=self.table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "id", "AttributeType": "S"},
                    {"AttributeName": "progress_state", "AttributeType": "N"},
                ],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": self.index,
                        "KeySchema": [
                            {"AttributeName": "progress_state", "KeyType": "HASH"},
                            {"AttributeName": "id", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
        except ClientError as error:
            if error_code(error) != "ResourceInUseException":  # another worker created it
                raise
        self.client.get_waiter("table_exists").wait(
            TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )

    # -- verbs ---------------------------------------------------------------------------------

    def add(self, ids: Iterable[str], on_written: Callable[[int], None] | None = None) -> int:
        added = 0
        for chunk in chunked(ids, 100):
            added += self._add_new(chunk)
            if on_written:
                on_written(len(chunk))
        return added

    def _add_new(self, chunk: Sequence[str]) -> int:
        now = time.time()
        wanted = sorted(set(chunk))
        known = {item["id"]["S"] for item in self._batch_get(wanted, "#id")}
        new = [image_id for image_id in wanted if image_id not in known]
        if new:
            self._batch_write(
                [
                    {
                        "PutRequest": {
                            "Item": {
                                "id": _s(image_id),
                                "progress_state": _n(int(State.NotStarted)),
                                "attempts": _n(0),
                                "updated_at": _n(now),
                            }
                        }
                    }
                    for image_id in new
                ]
            )
            self.client.update_item(
                TableName=self.table,
                Key={"id": _s(self._counter_key())},
                UpdateExpression="ADD #n :n",
                ExpressionAttributeNames={"#n": f"s{int(State.NotStarted)}"},
                ExpressionAttributeValues={":n": _n(len(new))},
            )
        return len(new)

    def claim(
        self, from_state: State, to_state: State, owner: str, limit: int, lease_seconds: float
    ) -> list[Claim]:
        claimed: list[Claim] = []
        now = time.time()

        def take(item: Item) -> Claim | None:
            row = _row(item)
            ok = self._transition(
                row,
                to_state,
                "SET #state = :to, #owner = :owner, #lease = :lease, #updated = :now "
                "ADD #attempts :one",
                {
                    ":to": _n(int(to_state)),
                    ":owner": _s(owner),
                    ":lease": _n(now + lease_seconds),
                    ":now": _n(now),
                    ":one": _n(1),
                },
            )
            return Claim(row.id, row.attempts + 1, row.enqueued_version) if ok else None

        for page in self._query_state(from_state, page_size=max(limit, 25)):
            while page and len(claimed) < limit:
                need = limit - len(claimed)
                attempt, page = page[:need], page[need:]
                claimed.extend(c for c in self._parallel(take, attempt) if c is not None)
            if len(claimed) >= limit:
                break
        return sorted(claimed, key=lambda claim: claim.id)

    def settle(self, owner: str, outcomes: Sequence[Outcome]) -> int:
        now = time.time()
        current = {
            item["id"]["S"]: _row(item)
            for item in self._batch_get(sorted({o.id for o in outcomes}))
        }

        def apply(outcome: Outcome) -> bool:
            row = current.get(outcome.id)
            if row is None or row.owner != owner:
                return False
            sets = ["#state = :to", "#updated = :now"]
            values = {":to": _n(int(outcome.state)), ":now": _n(now), ":me": _s(owner)}
            removes = ["#owner", "#lease"]
            if outcome.reason is None:
                removes.append("#reason")
            else:
                sets.append("#reason = :reason")
                values[":reason"] = _s(outcome.reason)
            if outcome.enqueued_version is not None:
                sets.append("#version = :version")
                values[":version"] = _s(outcome.enqueued_version)
            return self._transition(
                row,
                outcome.state,
                f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
                values,
                condition="#owner = :me AND #state = :from",
            )

        return sum(self._parallel(apply, list(outcomes)))

    def expire_claims(self, now: float, max_attempts: int) -> int:
        expired = 0
        for claimed, back_to in CLAIM_RETURNS_TO.items():

            def expire(item: Item, back_to: State = back_to) -> bool:
                row = _row(item)
                if row.owner is None or row.lease_until is None or row.lease_until >= now:
                    return False
                values = {":now": _n(time.time())}
                if row.attempts >= max_attempts:
                    target = State.UnknownError
                    values[":to"] = _n(int(target))
                    values[":reason"] = _s(
                        f"claim expired {row.attempts} times (worker died or timed out)"
                    )
                    update = "SET #state = :to, #reason = :reason, #updated = :now"
                else:
                    target = back_to
                    values[":to"] = _n(int(target))
                    update = "SET #state = :to, #updated = :now"
                return self._transition(row, target, f"{update} REMOVE #owner, #lease", values)

            for page in self._query_state(
                claimed,
                filter_expression="#lease < :cutoff",
                filter_values={":cutoff": _n(now)},
            ):
                expired += sum(self._parallel(expire, page))
        return expired

    def counts(self) -> dict[State, int]:
        keys = [f"{COUNTER_PREFIX}{shard}" for shard in range(COUNTER_SHARDS)]
        total: Counter[State] = Counter()
        for item in self._batch_get(keys):
            for name, value in item.items():
                if name.startswith("s") and name[1:].isdigit():
                    total[State(int(name[1:]))] += int(value["N"])
        return {state: n for state, n in sorted(total.items()) if n != 0}

    def recount(self) -> dict[State, int]:
        total: Counter[State] = Counter()
        paginator = self.client.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self.table,
            ProjectionExpression="#state",
            FilterExpression="attribute_exists(#state)",
            ExpressionAttributeNames={"#state": "progress_state"},
            ConsistentRead=True,
        ):
            for item in page["Items"]:
                total[State(int(item["progress_state"]["N"]))] += 1
        return dict(sorted(total.items()))

    def scan(self, batch_size: int = 10_000) -> Iterator[tuple[str, State]]:
        def ids_in(state: State) -> Iterator[tuple[str, State]]:
            for page in self._query_state(state, page_size=batch_size, projection="#id"):
                for item in page:
                    yield item["id"]["S"], state

        yield from heapq.merge(*(ids_in(state) for state in State))

    def get(self, ids: Sequence[str]) -> list[ProgressRow]:
        rows = [_row(item) for item in self._batch_get(sorted(set(ids)))]
        return sorted(rows, key=lambda row: row.id)

    def reset(
        self,
        from_states: Iterable[State],
        to_state: State,
        reason: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> int:
        now = time.time()
        states = set(from_states)

        def move(item: Item) -> bool:
            return self._transition(
                _row(item),
                to_state,
                "SET #state = :to, #attempts = :zero, #updated = :now REMOVE #owner, #lease",
                {":to": _n(int(to_state)), ":zero": _n(0), ":now": _n(now)},
            )

        if ids is not None:  # read the rows, then each moves only if no one moved it since
            chosen = [
                item
                for item in self._batch_get(sorted(set(ids)))
                if _row(item).state in states and (reason is None or _row(item).reason == reason)
            ]
            return sum(self._parallel(move, chosen))
        moved = 0
        for state in states:
            pages = (
                self._query_state(state)
                if reason is None
                else self._query_state(
                    state,
                    filter_expression="#reason = :reason",
                    filter_values={":reason": _s(reason)},
                )
            )
            for page in pages:
                moved += sum(self._parallel(move, page))
        return moved

    def failure_groups(
        self, states: Iterable[State], examples: int = 3, limit: int = 100
    ) -> list[FailureGroup]:
        counts: Counter[tuple[State, str]] = Counter()
        samples: dict[tuple[State, str], list[str]] = {}
        for state in set(states):
            for page in self._query_state(state, projection="#id, #reason"):
                for item in page:
                    key = (state, item["reason"]["S"] if "reason" in item else "")
                    if key not in counts and len(counts) >= MAX_GROUPS:
                        continue
                    counts[key] += 1
                    found = samples.setdefault(key, [])
                    if len(found) < examples:  # the GSI yields ids in order: the smallest
                        found.append(item["id"]["S"])
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0]))
        return [
            FailureGroup(state, reason, count, samples[(state, reason)])
            for (state, reason), count in ordered[:limit]
        ]

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- helpers -------------------------------------------------------------------------------

    def _counter_key(self) -> str:
        return f"{COUNTER_PREFIX}{random.randrange(COUNTER_SHARDS)}"

    def _parallel(self, work: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [work(item) for item in items]
        return list(self._pool.map(work, items))

    def _transition(
        self,
        row: ProgressRow,
        new_state: State,
        update: str,
        values: dict[str, Any],
        condition: str = "#state = :from AND #updated = :seen",
    ) -> bool:
        """Apply ``update`` to one row if ``condition`` still holds, moving the state counters in
        the same transaction. False when the condition failed (another worker got there)."""
        values = {**values, ":from": _n(int(row.state))}
        if row.updated_at is None:
            condition = condition.replace("#updated = :seen", "attribute_not_exists(#updated)")
        elif ":seen" in condition:
            values[":seen"] = _n(row.updated_at)
        names = {k: v for k, v in NAMES.items() if k in update or k in condition}
        for attempt in range(MAX_TRIES):
            items: list[Item] = [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"id": _s(row.id)},
                        "UpdateExpression": update,
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": {
                            k: v for k, v in values.items() if k in update or k in condition
                        },
                    }
                }
            ]
            if new_state != row.state:
                items.append(
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"id": _s(self._counter_key())},
                            "UpdateExpression": "ADD #old :minus, #new :plus",
                            "ExpressionAttributeNames": {
                                "#old": f"s{int(row.state)}",
                                "#new": f"s{int(new_state)}",
                            },
                            "ExpressionAttributeValues": {":minus": _n(-1), ":plus": _n(1)},
                        }
                    }
                )
            try:
                self.client.transact_write_items(TransactItems=items)
                return True
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons") or [{}]
                if reasons[0].get("Code") == "ConditionalCheckFailed":
                    return False
                # a conflict (usually on a counter item): retry, likely on another counter shard
                backoff(attempt)
        raise TransientError(f"DynamoDB transaction on {row.id} kept conflicting")

    def _query_state(
        self,
        state: State,
        page_size: int = 1000,
        projection: str | None = None,
        filter_expression: str | None = None,
        filter_values: dict[str, Any] | None = None,
    ) -> Iterator[list[Item]]:
        """Pages of the rows in ``state``, in id order (from the GSI)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self.index,
            "KeyConditionExpression": "#state = :state",
            "ExpressionAttributeValues": {":state": _n(int(state)), **(filter_values or {})},
            "Limit": page_size,
        }
        used = "#state " + (projection or "") + " " + (filter_expression or "")
        request["ExpressionAttributeNames"] = {k: v for k, v in NAMES.items() if k in used}
        if projection:
            request["ProjectionExpression"] = projection
        if filter_expression:
            request["FilterExpression"] = filter_expression
        while True:
            response = self.client.query(**request)
            if response["Items"]:
                yield response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _batch_get(self, ids: Sequence[str], projection: str | None = None) -> list[Item]:
        """Consistent reads of ``ids`` (distinct), 100 per request, retrying UnprocessedKeys."""
        found: list[Item] = []
        for chunk in chunked(ids, 100):
            request: dict[str, Any] = {
                "Keys": [{"id": _s(image_id)} for image_id in chunk],
                "ConsistentRead": True,
            }
            if projection:
                request["ProjectionExpression"] = projection
                request["ExpressionAttributeNames"] = {
                    k: v for k, v in NAMES.items() if k in projection
                }
            pending: dict[str, Any] = {self.table: request}
            for attempt in range(MAX_TRIES):
                response = self.client.batch_get_item(RequestItems=pending)
                found.extend(response.get("Responses", {}).get(self.table, []))
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                backoff(attempt)
            else:
                raise TransientError("DynamoDB kept returning UnprocessedKeys")
        return found

    def _batch_write(self, requests: Sequence[Item]) -> None:
        """BatchWriteItem 25 at a time, retrying UnprocessedItems with backoff until none are
        left (never dropping them)."""
        for chunk in chunked(requests, 25):
            pending: dict[str, Any] = {self.table: list(chunk)}
            for attempt in range(MAX_TRIES):
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                backoff(attempt)
            else:
                left = sum(len(v) for v in pending.values())
                raise TransientError(f"DynamoDB kept {left} writes unprocessed")
