"""Streams on Kinesis (``kinesis://STREAM``), at-least-once with leases kept in DynamoDB.

Priorities are streams: ``STREAM-high``, ``STREAM-low`` and ``STREAM-migration`` (override
with ``?high=NAME&low=NAME`` to point at a real Grid's two thrall streams; Grid has no migration
stream, its thrall feeds migrations in-process, so that one is reingest's own). All are created if
missing (``?shards=N``, default 1; ``?create=false`` to refuse instead). Records are written as
given (the caller encodes: Grid's ``0x00`` + gzip(JSON), or plain JSON), one record per
message with a random partition key, as Grid does.

**Acks.** Kinesis has no per-message ack, only a position per shard. So the consumer state
lives in a small DynamoDB table (``STREAM-reingest-state``, or ``?state_table=NAME``; created
if missing), keyed ``pk``/``sk``:

- ``shard#<priority>#<shard>`` / ``checkpoint``: every record up to this sequence number is
  done;
- ``shard#<priority>#<shard>`` / ``msg#<sequence>``: a record after the checkpoint that was
  handed out: owner, lease end, deliveries, acked (one query reads a shard's whole state). A lease is a conditional write (``attribute_not_exists``
  or "not acked and lease ended"), so two consumers never hold one record at once;
- ``dead`` / ``<time>#<priority>#<id>``: dead letters with their reason and payload; the sort
  key is the dead letter's id.

``receive`` reads each shard from its checkpoint, skips acked and still-leased records, leases
the rest, and folds the acked prefix into the checkpoint (deleting those items). This is shared
by any number of consumer processes, survives restarts, and costs one GetRecords pass over the
not-yet-checkpointed records per call: fine while consumers keep up (the outstanding window is
a few batches), slower when a long run of records stays leased. Trade-offs, honestly:

- order is per shard; with more than one shard (random partition keys) ``receive`` drains
  shards in turn, so "oldest first" holds per shard only;
- ``lag`` counts unacked records after the checkpoint, reading at most ``LAG_SCAN`` records per
  shard (beyond that ``depth`` is a lower bound); the oldest age is exact (the arrival time of
  the first unacked record);
- resharding is handled naively (closed shards are read to their end like open ones);
- records older than the stream's retention (24 h by default) are gone whatever the state says;
- a dead letter whose payload exceeds DynamoDB's item size keeps its first ``DEAD_PAYLOAD_MAX``
  bytes and says so in its reason; such a dead letter is never replayed (it would only be
  dead-lettered again, without the first reason);
- a replay posts to Kinesis, then deletes the dead letters: interrupted between the two, or
  run twice at once, it posts some twice (at least once).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from botocore.exceptions import ClientError

from ..batching import chunked
from ..errors import ConfigurationError, TransientError
from ..messages import compressed, uncompressed
from ..progress.dynamodb import MAX_TRIES, aws_client, backoff, error_code
from .base import DeadLetter, Delivery, Priority, StreamLag, Streams

#: records read per shard by one lag() call before depth becomes a lower bound
LAG_SCAN = 10_000
#: records read per shard by one receive() call
RECEIVE_SCAN = 10_000
#: GetRecords calls per shard by one receive() or lag() call (empty pages happen mid-stream)
MAX_PAGES = 50
#: the original's CloudWatch check: one period of 5 minutes, ending now
ITERATOR_AGE_PERIOD = 300
NO_ITERATOR_AGE = "no iterator-age datapoints from CloudWatch in the last 5 minutes"
DEAD_PAYLOAD_MAX = 350_000
TRUNCATED = "(payload truncated from"
DEAD = "dead"
#: how long the list of shards is reused before it is listed again (resharding is rare)
SHARD_CACHE_SECONDS = 30.0
CHECKPOINT = "checkpoint"
MSG = "msg#"
#: sequence numbers are decimal strings of varying length: pad to compare them as text
SEQ_WIDTH = 80


def _pad(sequence: str) -> str:
    return sequence.zfill(SEQ_WIDTH)


def _unpad(padded: str) -> str:
    return padded.lstrip("0") or "0"


@dataclass
class _Record:
    shard: str
    sequence: str
    data: bytes
    arrival: float


class KinesisStreams(Streams):
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "kinesis" or not parsed.netloc:
            raise ConfigurationError(f"expected kinesis://STREAM, got {url!r}")
        query = parse_qs(parsed.query)

        def option(name: str, default: str) -> str:
            return query.get(name, [default])[0]

        base = parsed.netloc
        self.names = {
            Priority.HIGH: option("high", f"{base}-high"),
            Priority.LOW: option("low", f"{base}-low"),
            Priority.MIGRATION: option("migration", f"{base}-migration"),
        }
        self.state_table = option("state_table", f"{base}-reingest-state")
        #: "acks": lag from this backend's own acks (its consumers are reingest's thrall);
        #: "cloudwatch": the original's check, for streams a real Grid thrall consumes (it never
        #: acks here): the streams' max GetRecords.IteratorAgeMilliseconds over 5 minutes,
        #: none meaning "not fast"
        self.lag_source = option("lag", "acks")
        if self.lag_source not in ("acks", "cloudwatch"):
            raise ConfigurationError(f"lag must be acks or cloudwatch, got {self.lag_source!r}")
        create = option("create", "true").lower() not in ("false", "0", "no")
        self._shard_cache: dict[Priority, tuple[float, list[str]]] = {}
        self.kinesis = aws_client("kinesis", url)
        self.dynamodb = aws_client("dynamodb", url)
        self.cloudwatch = aws_client("cloudwatch", url) if self.lag_source == "cloudwatch" else None
        for name in self.names.values():
            self._ensure_stream(name, int(option("shards", "1")), create)
        self._ensure_state_table()

    # -- setup ---------------------------------------------------------------------------------

    def _ensure_stream(self, name: str, shards: int, create: bool) -> None:
        try:
            self.kinesis.describe_stream_summary(StreamName=name)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            if not create:
                raise ConfigurationError(f"Kinesis stream {name!r} does not exist") from error
            try:
                self.kinesis.create_stream(StreamName=name, ShardCount=shards)
            except ClientError as race:
                if error_code(race) != "ResourceInUseException":
                    raise
        self.kinesis.get_waiter("stream_exists").wait(
            StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )

    def _ensure_state_table(self) -> None:
        try:
            self.dynamodb.describe_table(TableName=self.state_table)
            return
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
        try:
            self.dynamodb.create_table(
                TableName=self.state_table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
            )
        except ClientError as error:
            if error_code(error) != "ResourceInUseException":
                raise
        self.dynamodb.get_waiter("table_exists").wait(
            TableName=self.state_table, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )

    # -- verbs ---------------------------------------------------------------------------------

    def publish(self, priority: Priority, payloads: Sequence[bytes]) -> None:
        for chunk in chunked(payloads, 500):  # PutRecords takes at most 500 records
            # Grid's writers frame every record as 0x00 + gzip(JSON); its readers expect that
            records = [
                {"Data": compressed(data), "PartitionKey": str(uuid.uuid4())} for data in chunk
            ]
            for attempt in range(MAX_TRIES):
                response = self.kinesis.put_records(
                    StreamName=self.names[priority], Records=records
                )
                if not response.get("FailedRecordCount"):
                    break
                # retry only the records that failed (throttling), keeping their order
                records = [
                    record
                    for record, result in zip(records, response["Records"], strict=True)
                    if "ErrorCode" in result
                ]
                backoff(attempt)
            else:
                raise TransientError(f"Kinesis kept refusing {len(records)} records")

    def receive(
        self, priority: Priority, consumer: str, limit: int, lease_seconds: float
    ) -> list[Delivery]:
        deliveries: list[Delivery] = []
        # a lease counts as live if it had not ended when this call began: never steal one early
        now = time.time()
        for shard in self._shards(priority):
            if len(deliveries) >= limit:
                break
            checkpoint, states = self._shard_state(priority, shard)
            done_prefix: str | None = None
            in_prefix = True
            for record in self._read(priority, shard, checkpoint, RECEIVE_SCAN):
                state = states.get(record.sequence)
                acked = bool(state and state.get("acked", {}).get("BOOL"))
                if acked:
                    if in_prefix:
                        done_prefix = record.sequence
                    continue
                in_prefix = False
                if len(deliveries) >= limit:
                    break
                if state and float(state.get("lease_until", {"N": "0"})["N"]) >= now:
                    continue
                # the lease runs from now on, not from the start of this (slow) call
                taken = self._lease(priority, record, consumer, now, lease_seconds)
                if taken is not None:
                    deliveries.append(
                        Delivery(f"{shard}/{record.sequence}", priority, record.data, taken)
                    )
            if done_prefix is not None:
                self._advance(priority, shard, done_prefix, states)
        return deliveries

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            shard, sequence = delivery.id.split("/", 1)
            self.dynamodb.update_item(
                TableName=self.state_table,
                Key=self._msg_key(delivery.priority, shard, sequence),
                UpdateExpression="SET acked = :true REMOVE #owner, lease_until",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        payload = delivery.payload
        if len(payload) > DEAD_PAYLOAD_MAX:
            reason = f"{reason} {TRUNCATED} {len(payload)} bytes)"
            payload = payload[:DEAD_PAYLOAD_MAX]
        self.dynamodb.put_item(
            TableName=self.state_table,
            Item={
                "pk": {"S": DEAD},
                "sk": {"S": f"{time.time_ns():020d}#{delivery.priority}#{delivery.id}"},
                "id": {"S": delivery.id},
                "priority": {"S": str(delivery.priority)},
                "reason": {"S": reason},
                "payload": {"B": payload},
            },
        )
        self.ack([delivery])

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        found: list[DeadLetter] = []
        if limit <= 0:
            return found
        for position, item in enumerate(self._query(DEAD, limit=offset + limit)):
            if position < offset:  # read past, never kept: memory stays with ``limit``
                continue
            found.append(_dead_letter(item))
            if len(found) >= limit:
                break
        return found

    def replay_dead_letters(self, ids: Sequence[str]) -> int:
        letters = []
        for sk in dict.fromkeys(ids):
            item = self.dynamodb.get_item(
                TableName=self.state_table,
                Key={"pk": {"S": DEAD}, "sk": {"S": sk}},
                ConsistentRead=True,
            ).get("Item")
            if item is not None and TRUNCATED not in item["reason"]["S"]:
                letters.append(_dead_letter(item))
        for priority in Priority:
            payloads = [letter.payload for letter in letters if letter.priority == priority]
            if payloads:
                self.publish(priority, payloads)
        self._delete_items([{"pk": {"S": DEAD}, "sk": {"S": letter.id}} for letter in letters])
        return len(letters)

    def dead_letter_count(self) -> int:
        total = 0
        request: dict[str, Any] = {
            "TableName": self.state_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": DEAD}},
            "Select": "COUNT",
        }
        while True:
            response = self.dynamodb.query(**request)
            total += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def lag(self, priority: Priority) -> StreamLag:
        if self.cloudwatch is not None:
            return self._iterator_age(priority)
        depth = 0
        oldest: float | None = None
        for shard in self._shards(priority):
            checkpoint, states = self._shard_state(priority, shard)
            for record in self._read(priority, shard, checkpoint, LAG_SCAN):
                if states.get(record.sequence, {}).get("acked", {}).get("BOOL"):
                    continue
                depth += 1
                oldest = record.arrival if oldest is None else min(oldest, record.arrival)
        return StreamLag(depth, max(0.0, time.time() - oldest) if oldest is not None else 0.0)

    def _iterator_age(self, priority: Priority) -> StreamLag:
        """The original Lambda's "Kinesis is nice and fast" check: the Maximum of
        GetRecords.IteratorAgeMilliseconds over one 300-second period ending now. Like the
        original, no datapoint is not fast (lag unknown). CloudWatch gives no depth, so depth
        is 1 while consumers lag at all (enough for the checker's "wait" test)."""
        assert self.cloudwatch is not None
        now = datetime.now(UTC)
        answer = self.cloudwatch.get_metric_statistics(
            Namespace="AWS/Kinesis",
            MetricName="GetRecords.IteratorAgeMilliseconds",
            Dimensions=[{"Name": "StreamName", "Value": self.names[priority]}],
            StartTime=now - timedelta(seconds=ITERATOR_AGE_PERIOD),
            EndTime=now,
            Period=ITERATOR_AGE_PERIOD,
            Statistics=["Maximum"],
        )
        points = answer.get("Datapoints", [])
        if not points:
            return StreamLag(0, 0.0, unknown=NO_ITERATOR_AGE)
        age_ms = max(point["Maximum"] for point in points)
        return StreamLag(1 if age_ms > 0 else 0, age_ms / 1000)

    # -- helpers -------------------------------------------------------------------------------

    def _shards(self, priority: Priority) -> list[str]:
        cached = self._shard_cache.get(priority)
        if cached is not None and time.monotonic() - cached[0] < SHARD_CACHE_SECONDS:
            return cached[1]
        shards: list[str] = []
        request: dict[str, Any] = {"StreamName": self.names[priority]}
        while True:
            response = self.kinesis.list_shards(**request)
            shards.extend(shard["ShardId"] for shard in response["Shards"])
            if not response.get("NextToken"):
                self._shard_cache[priority] = (time.monotonic(), sorted(shards))
                return sorted(shards)
            request = {"NextToken": response["NextToken"]}

    def _read(
        self, priority: Priority, shard: str, after: str | None, most: int
    ) -> Iterator[_Record]:
        """Records of one shard after the sequence number ``after`` (all if None), oldest
        first, up to ``most`` of them, ending at the tip of the stream."""
        request: dict[str, Any] = {"StreamName": self.names[priority], "ShardId": shard}
        if after is None:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            request["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            request["StartingSequenceNumber"] = after
        iterator = self.kinesis.get_shard_iterator(**request)["ShardIterator"]
        seen = pages = 0
        while iterator and seen < most:
            response = self.kinesis.get_records(ShardIterator=iterator, Limit=min(most, 10_000))
            for record in response["Records"]:
                seen += 1
                yield _Record(
                    shard,
                    record["SequenceNumber"],
                    uncompressed(bytes(record["Data"])),
                    record["ApproximateArrivalTimestamp"].timestamp(),
                )
                if seen >= most:
                    return
            pages += 1
            if not response.get("MillisBehindLatest") or pages >= MAX_PAGES:
                return  # at the tip (or read enough for one call)
            iterator = response.get("NextShardIterator")

    def _shard_state(
        self, priority: Priority, shard: str
    ) -> tuple[str | None, dict[str, dict[str, Any]]]:
        """The shard's checkpoint and its handed-out records (by sequence), in one query."""
        checkpoint: str | None = None
        states: dict[str, dict[str, Any]] = {}
        for item in self._query(self._shard_pk(priority, shard)):
            key = item["sk"]["S"]
            if key == CHECKPOINT:
                checkpoint = _unpad(item["sequence"]["S"])
            else:
                states[_unpad(key.removeprefix(MSG))] = item
        return checkpoint, states

    def _query(self, pk: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.state_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        if limit is not None:
            request["Limit"] = limit
        while True:
            response = self.dynamodb.query(**request)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @staticmethod
    def _shard_pk(priority: Priority, shard: str) -> str:
        return f"shard#{priority}#{shard}"

    def _msg_key(self, priority: Priority, shard: str, sequence: str) -> dict[str, Any]:
        return {"pk": {"S": self._shard_pk(priority, shard)}, "sk": {"S": MSG + _pad(sequence)}}

    def _lease(
        self, priority: Priority, record: _Record, consumer: str, now: float, seconds: float
    ) -> int | None:
        """Lease one record to ``consumer``; its delivery count, or None if another holds it.

        The lease runs from when the write is confirmed: if the write itself took a noticeable
        part of the lease (short leases, a slow store), the lease is restarted, on condition
        that this consumer still holds it; if it was lost meanwhile the record is not handed
        out."""
        started = time.time()
        until = started + seconds
        key = self._msg_key(priority, record.shard, record.sequence)
        try:
            response = self.dynamodb.update_item(
                TableName=self.state_table,
                Key=key,
                UpdateExpression="SET #owner = :owner, lease_until = :until ADD deliveries :one",
                ConditionExpression="attribute_not_exists(sk) OR "
                "(attribute_not_exists(acked) AND (attribute_not_exists(lease_until) "
                "OR lease_until < :now))",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":owner": {"S": consumer},
                    ":until": {"N": repr(until)},
                    ":now": {"N": repr(now)},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise
        deliveries = int(response["Attributes"]["deliveries"]["N"])
        finished = time.time()
        for _ in range(5):  # restart it until a write is quick next to the lease
            if finished - started <= seconds / 10:
                break
            started = finished
            try:
                self.dynamodb.update_item(
                    TableName=self.state_table,
                    Key=key,
                    UpdateExpression="SET lease_until = :until",
                    ConditionExpression="#owner = :owner AND deliveries = :n",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={
                        ":until": {"N": repr(finished + seconds)},
                        ":owner": {"S": consumer},
                        ":n": {"N": str(deliveries)},
                    },
                )
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    return None
                raise
            finished = time.time()
        return deliveries

    def _advance(
        self,
        priority: Priority,
        shard: str,
        sequence: str,
        states: dict[str, dict[str, Any]],
    ) -> None:
        """Move the shard's checkpoint to ``sequence`` (never backwards) and drop the state
        items it now covers."""
        try:
            self.dynamodb.put_item(
                TableName=self.state_table,
                Item={
                    "pk": {"S": self._shard_pk(priority, shard)},
                    "sk": {"S": CHECKPOINT},
                    "sequence": {"S": _pad(sequence)},
                },
                ConditionExpression="attribute_not_exists(#seq) OR #seq < :seq",
                ExpressionAttributeNames={"#seq": "sequence"},
                ExpressionAttributeValues={":seq": {"S": _pad(sequence)}},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
        covered = [seq for seq in states if _pad(seq) <= _pad(sequence)]
        self._delete_items([self._msg_key(priority, shard, seq) for seq in covered])

    def _delete_items(self, keys: Sequence[dict[str, Any]]) -> None:
        """Delete state items, 25 per BatchWriteItem, retrying what DynamoDB leaves undone."""
        for chunk in chunked(keys, 25):
            pending: dict[str, Any] = {
                self.state_table: [{"DeleteRequest": {"Key": key}} for key in chunk]
            }
            for attempt in range(MAX_TRIES):
                pending = (
                    self.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems")
                    or {}
                )
                if not pending:
                    break
                backoff(attempt)


def _dead_letter(item: dict[str, Any]) -> DeadLetter:
    """A dead-letter item; its sort key is its id."""
    return DeadLetter(
        item["sk"]["S"],
        Priority(item["priority"]["S"]),
        item["reason"]["S"],
        bytes(item["payload"]["B"]),
    )
