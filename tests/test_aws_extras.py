"""AWS backends beyond the shared contracts: Grid's wire and metadata formats, and the failure
modes the original tool got wrong (BatchWriteItem's UnprocessedItems)."""

from __future__ import annotations

import dataclasses
import gzip
import io
import random
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from reingest.backends import Components, open_backend
from reingest.batch_index import index_batch
from reingest.curl_pool import CurlPool, Response, TransportError
from reingest.errors import ConfigurationError, ImageNotFound
from reingest.loader import build_image
from reingest.originals.base import OriginalsStore, UploadRecord, storage_key
from reingest.originals.s3 import S3OriginalsStore, decode_metadata, encode_metadata
from reingest.originals.source import RangedSource
from reingest.progress.base import ProgressTable
from reingest.progress.dynamodb import DynamoProgressTable
from reingest.projection import Projector
from reingest.states import State
from reingest.streams.base import Priority, StreamLag, Streams
from reingest.streams.kinesis import NO_ITERATOR_AGE

pytest_plugins = ["aws"]

#: 10,000 bytes in which no slice is like its neighbours (251 is prime)
PATTERN = (bytes(range(251)) * 40)[:10_000]

#: one write at a time: moto undoes a failed transaction by restoring a snapshot of the whole
#: table, which erases concurrent writes (DynamoDB itself serialises them)
SERIAL = "?parallelism=1"


def unique_name(prefix: str) -> str:
    # as tests/aws.py's (importing it here would keep pytest from rewriting the plugin)
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# -- S3 user metadata (pure: no server) -----------------------------------------------------


def test_grids_s3_user_metadata_decodes_as_in_grids_test() -> None:
    """grid-model.md §4.7, PT S3FileExtractedMetadata."""
    upload = decode_metadata(
        {
            "file-name": "This%20photo%20was%20taken%20in%20%C5%81%C3%B3d%C5%BA.jpg",
            "uploaded-by": "s%C3%A9b.cevey%40theguardian.co.uk",
            "upload-time": "2021-02-01T12%3A52%3A34%2B09%3A00",
            "identifier!picdarurn": "12*543%5E25",
        }
    )
    assert upload == UploadRecord(
        uploaded_by="séb.cevey@theguardian.co.uk",
        upload_time="2021-02-01T03:52:34.000Z",
        filename="This photo was taken in Łódź.jpg",
        identifiers={"picdarurn": "12*543^25"},
    )


def test_underscored_keys_and_values_never_encoded_read_as_they_are() -> None:
    upload = decode_metadata(
        {"uploaded_by": "user", "upload_time": "2019-12-11T01:12:10.427Z", "file_name": "a.jpg"}
    )
    assert upload.uploaded_by == "user"
    assert upload.upload_time == "2019-12-11T01:12:10.427Z"
    assert upload.filename == "a.jpg"
    assert decode_metadata({}) == UploadRecord()


def test_metadata_is_written_url_encoded_as_grid_writes_it() -> None:
    metadata = encode_metadata(
        UploadRecord(
            uploaded_by="séb.cevey@theguardian.co.uk",
            upload_time="2021-02-01T03:52:34.000Z",
            filename="This photo was taken in Łódź.jpg",
            identifiers={"picdarurn": "12*543^25"},
        )
    )
    assert metadata == {
        "uploaded-by": "s%C3%A9b.cevey%40theguardian.co.uk",
        "upload-time": "2021-02-01T03%3A52%3A34.000Z",
        "file-name": "This%20photo%20was%20taken%20in%20%C5%81%C3%B3d%C5%BA.jpg",
        "identifier!picdarurn": "12*543%5E25",
    }
    assert all(value.isascii() for value in metadata.values())


# -- S3 store (moto) ------------------------------------------------------------------------


@pytest.fixture
def bucket(aws_env: str) -> str:
    name = unique_name("originals")
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def test_s3_uri_and_keys_follow_grid(bucket: str) -> None:
    store = open_backend("originals", f"s3://{bucket}", OriginalsStore)
    image_id, _ = store.put(b"grid", UploadRecord(filename="a.jpg"))
    assert store.get(image_id).uri == f"http://{bucket}.s3.amazonaws.com/{storage_key(image_id)}"
    s3 = boto3.client("s3")
    head = s3.head_object(Bucket=bucket, Key=storage_key(image_id))
    assert head["Metadata"] == {"uploaded-by": "re-ingester", "file-name": "a.jpg"}
    # Grid's image bucket also holds optimised PNGs under optimised/<key>: not originals
    s3.put_object(Bucket=bucket, Key=f"optimised/{storage_key(image_id)}", Body=b"png")
    assert list(store.ids()) == [image_id]


def test_s3_reads_an_object_grid_stored_and_its_last_modified(bucket: str) -> None:
    image_id = "ab" * 20
    boto3.client("s3").put_object(
        Bucket=bucket,
        Key=f"prefix/{storage_key(image_id)}",
        Body=b"original",
        Metadata={"uploaded_by": "user"},
    )
    store = open_backend("originals", f"s3://{bucket}/prefix", OriginalsStore)
    stored = store.get(image_id)
    assert stored.data == b"original" and stored.upload.uploaded_by == "user"
    assert stored.upload.upload_time is None
    assert stored.last_modified.endswith("Z") and len(stored.last_modified) == 24


class CountedWaves:
    """``CurlPool.get_all`` that keeps how many GETs each call asked for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.waves: list[int] = []
        real = CurlPool.get_all

        def get_all(pool: CurlPool, urls: Any, headers: Any = None) -> Any:
            self.waves.append(len(urls))
            return real(pool, urls, headers)

        monkeypatch.setattr(CurlPool, "get_all", get_all)


def png_of_many_chunks() -> bytes:
    noise = random.Random(0).randbytes(700 * 700 * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (700, 700), noise).save(out, "PNG")  # image data in 64 KiB chunks
    return out.getvalue()


def test_s3_reads_a_pngs_chunk_headers_in_waves_unless_its_url_makes_round_trips_dear(
    bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GET costs a round trip (a megabyte by default): the chunk headers of a PNG's image
    data past the window, which its stride predicts, are read in a wave of GETs all in flight
    at once (libcurl), so the walk takes a few round trips, not one per header, and a few
    bytes, not the rest; a URL making a round trip dearer than the rest reads it in one GET."""
    data = png_of_many_chunks()
    default, dear = f"s3://{bucket}", f"s3://{bucket}?request_cost={8 << 20}"
    image_id, _ = open_backend("originals", default, OriginalsStore).put(data, UploadRecord())
    reads, counted = {}, CountedWaves(monkeypatch)
    for url in (default, dear):
        store = open_backend("originals", url, OriginalsStore)
        stored = store.get_ranged(image_id, 65_536)
        build_image(stored, "2024-01-01T00:00:00.000Z", processors=())
        assert isinstance(stored.data, RangedSource)
        reads[url] = (stored.data.requests, stored.data.bytes_read, counted.waves)
        counted.waves = []
        store.close()
    requests, bytes_read, waves = reads[default]
    assert requests > 20 and bytes_read < len(data) / 4
    assert waves == [requests - 2, 1]  # after the window: the image data's, then IEND's
    assert reads[dear] == (2, len(data), [1])
    with pytest.raises(ConfigurationError, match="request_cost must be a number of bytes"):
        open_backend("originals", f"s3://{bucket}?request_cost=lots", OriginalsStore)


def test_s3_reads_through_boto3_the_ranges_libcurl_did_not_get(
    bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A range S3 does not answer with its bytes (206) over libcurl (here: the presigned URL
    names another key) is read again through boto3, with a warning: its bytes, or the error
    any GET gives."""
    store = open_backend("originals", f"s3://{bucket}", OriginalsStore)
    assert isinstance(store, S3OriginalsStore)
    image_id, _ = store.put(PATTERN, UploadRecord())
    ranges = [(0, 10), (500, 600), (5, 5), (9990, 10_000)]
    assert store.read_ranges(image_id, ranges) == [PATTERN[start:end] for start, end in ranges]
    presign = store.client.generate_presigned_url
    store.client = boto3.client("s3")  # as the store's, but presigning for a missing key
    store.client.generate_presigned_url = lambda operation, Params, ExpiresIn: presign(
        operation, Params={**Params, "Key": "missing"}, ExpiresIn=ExpiresIn
    )
    caplog.clear()
    assert store.read_ranges(image_id, ranges) == [PATTERN[start:end] for start, end in ranges]
    assert "3 of 3 ranged GETs" in caplog.text and "(first: 404)" in caplog.text
    store.delete(image_id)
    with pytest.raises(ImageNotFound):
        store.read_ranges(image_id, ranges)
    store.close()


def test_a_curl_pools_ranged_gets_leave_its_next_gets_whole(bucket: str) -> None:
    """Header lines given for some GETs (a Range each) are sent with those only."""
    boto3.client("s3").put_object(Bucket=bucket, Key="pattern", Body=PATTERN)
    url = boto3.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pattern"}
    )
    pool = CurlPool(timeout=10, connect_timeout=5)
    ranged = pool.get_all([url, url], [["Range: bytes=0-9"], ["Range: bytes=100-199"]]).result()
    whole = pool.get_all([url, url]).result()  # on the same handles
    pool.close()
    answers = [(a.status_code, a.content) for a in ranged + whole if isinstance(a, Response)]
    assert answers == [(206, PATTERN[:10]), (206, PATTERN[100:200]), (200, PATTERN), (200, PATTERN)]


# -- DynamoDB progress (moto) ---------------------------------------------------------------


class UnprocessedOnce:
    """A boto3 client whose first BatchWriteItem call leaves half its items unprocessed (without
    writing them), as DynamoDB does under throttling; every other call goes through."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.batch_writes = 0

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        self.batch_writes += 1
        if self.batch_writes > 1:
            return dict(self.real.batch_write_item(RequestItems=RequestItems))
        [(table, requests)] = RequestItems.items()
        keep, left = requests[: len(requests) // 2], requests[len(requests) // 2 :]
        self.real.batch_write_item(RequestItems={table: keep})
        return {"UnprocessedItems": {table: left}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_unprocessed_items_are_retried_until_none_are_left(aws_env: str) -> None:
    table = open_backend("progress", f"dynamodb://{unique_name('progress')}{SERIAL}", ProgressTable)
    assert isinstance(table, DynamoProgressTable)
    stub = UnprocessedOnce(table.client)
    table.client = stub
    ids = [f"{i:040x}" for i in range(20)]
    assert table.add(ids) == 20
    assert stub.batch_writes == 2  # the unprocessed half was sent again
    assert [image_id for image_id, _ in table.scan()] == ids
    assert table.counts() == table.recount() == {State.NotStarted: 20}
    table.close()


def test_a_claim_from_a_stale_candidate_list_loses(aws_env: str) -> None:
    """Two workers see the same candidates (the GSI is eventually consistent); the second to
    write loses every condition and claims nothing twice. (Deterministic on purpose: moto's
    threaded server does not serialise concurrent conditional writes as DynamoDB does.)"""
    name = f"dynamodb://{unique_name('progress')}{SERIAL}"
    slow = open_backend("progress", name, ProgressTable)
    fast = open_backend("progress", name, ProgressTable)
    assert isinstance(slow, DynamoProgressTable)
    slow.add(f"{i:040x}" for i in range(6))
    stale = list(slow._query_state(State.NotStarted))
    assert len(fast.claim(State.NotStarted, State.InProgress, "fast", 4, 60)) == 4
    slow._query_state = lambda *_args, **_kwargs: iter(stale)  # type: ignore[method-assign]
    won = slow.claim(State.NotStarted, State.InProgress, "slow", 6, 60)
    assert [c.id for c in won] == [f"{i:040x}" for i in (4, 5)]
    assert fast.counts() == fast.recount() == {State.InProgress: 6}
    owners = {row.id: row.owner for row in fast.get([f"{i:040x}" for i in range(6)])}
    assert list(owners.values()) == ["fast"] * 4 + ["slow"] * 2
    slow.close()
    fast.close()


# -- Kinesis streams (moto) -----------------------------------------------------------------


def test_kinesis_records_are_framed_as_grid_writes_them_and_both_forms_are_read(
    aws_env: str,
) -> None:
    base = unique_name("streams")
    streams = open_backend("streams", f"kinesis://{base}", Streams)
    body = b'{"subject":"reingest-image"}'
    streams.publish(Priority.LOW, [body])
    kinesis = boto3.client("kinesis")
    # a record written by Grid itself in plain JSON (its readers accept both forms)
    kinesis.put_record(StreamName=f"{base}-low", Data=b'{"subject":"image"}', PartitionKey="p")
    shard = kinesis.list_shards(StreamName=f"{base}-low")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName=f"{base}-low", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    on_the_wire = kinesis.get_records(ShardIterator=iterator)["Records"][0]["Data"]
    assert on_the_wire[:1] == b"\x00" and gzip.decompress(on_the_wire[1:]) == body
    received = streams.receive(Priority.LOW, "thrall", 10, 60)
    assert [d.payload for d in received] == [body, b'{"subject":"image"}']
    streams.ack(received)
    assert streams.lag(Priority.LOW).depth == 0
    # the acked prefix is folded into the checkpoint: a new consumer starts after it
    again = open_backend("streams", f"kinesis://{base}", Streams)
    assert again.receive(Priority.LOW, "other", 10, 60) == []
    streams.publish(Priority.LOW, [b"next"])
    assert [d.payload for d in again.receive(Priority.LOW, "other", 10, 60)] == [b"next"]


def put_iterator_age(stream: str, *values_ms: float, seconds_ago: float = 10) -> None:
    """Datapoints a little in the past (moto drops the query's EndTime to whole seconds)."""
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/Kinesis",
        MetricData=[
            {
                "MetricName": "GetRecords.IteratorAgeMilliseconds",
                "Dimensions": [{"Name": "StreamName", "Value": stream}],
                "Timestamp": datetime.now(UTC) - timedelta(seconds=seconds_ago),
                "Value": value,
                "Unit": "Milliseconds",
            }
            for value in values_ms
        ],
    )


def test_kinesis_lag_from_cloudwatch_is_the_originals_iterator_age_check(aws_env: str) -> None:
    """Beside a real Grid thrall (which never acks in our table), lag comes from CloudWatch:
    the Maximum over the last 5 minutes, and no datapoint at all means the lag is unknown."""
    base = unique_name("streams")
    streams = open_backend("streams", f"kinesis://{base}?lag=cloudwatch", Streams)
    unknown = StreamLag(0, 0.0, unknown=NO_ITERATOR_AGE)
    assert streams.lag(Priority.LOW) == unknown
    put_iterator_age(f"{base}-low", 120_000.0, seconds_ago=360)  # before the period
    assert streams.lag(Priority.LOW) == unknown
    put_iterator_age(f"{base}-low", 1_500.0, 90_000.0, seconds_ago=60)
    put_iterator_age(f"{base}-low", 0.0)
    assert streams.lag(Priority.LOW) == StreamLag(1, 90.0)
    assert streams.lag(Priority.HIGH) == unknown
    with pytest.raises(ConfigurationError, match="lag must be acks or cloudwatch"):
        open_backend("streams", f"kinesis://{base}?lag=guess", Streams)


def test_the_indexer_runs_only_when_cloudwatch_says_kinesis_is_nice_and_fast(
    aws_env: str, components: Components
) -> None:
    base = unique_name("streams")
    streams = open_backend("streams", f"kinesis://{base}?lag=cloudwatch", Streams)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    image_id, _ = components.originals.put(out.getvalue(), UploadRecord(filename="a.jpg"))
    components.progress.add([image_id])
    projector = Projector(components.originals, components.services)
    settings = dataclasses.replace(components.settings, latency_threshold_ms=60_000)

    def run() -> str | None:
        return index_batch(components.progress, projector, streams, settings, "w").skipped

    assert run() == f"low-priority stream lag unknown: {NO_ITERATOR_AGE}"
    put_iterator_age(f"{base}-low", 61_000.0, seconds_ago=120)
    assert "oldest message 61.0s old (threshold 60.0s)" in (run() or "")
    assert components.progress.counts() == {State.NotStarted: 1}
    other = unique_name("streams")  # a stream whose consumers keep up
    streams = open_backend("streams", f"kinesis://{other}?lag=cloudwatch", Streams)
    put_iterator_age(f"{other}-low", 0.0, 59_000.0)
    assert run() is None
    assert components.progress.counts() == {State.Enqueued: 1}


def test_each_aws_service_can_have_its_own_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Kinesis backend's state table is DynamoDB: with a Kinesis-only endpoint (a VPC
    endpoint), its calls must be able to go elsewhere."""
    from reingest.progress.dynamodb import aws_client

    monkeypatch.delenv("REINGEST_AWS_ENDPOINT_URL", raising=False)
    url = "kinesis://s?endpoint_url=http://kinesis.local:1&dynamodb_endpoint_url=http://ddb.local:2"
    assert aws_client("kinesis", url).meta.endpoint_url == "http://kinesis.local:1"
    assert aws_client("dynamodb", url).meta.endpoint_url == "http://ddb.local:2"
    monkeypatch.setenv("REINGEST_AWS_ENDPOINT_URL", "http://everything.local:3")
    assert aws_client("kinesis", url).meta.endpoint_url == "http://everything.local:3"
    assert aws_client("dynamodb", url).meta.endpoint_url == "http://ddb.local:2"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a certificate of its own (a private CA's, as far as
    any client can tell): its URL, and the certificate to trust it by."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/object", cert
    server.shutdown()
    server.server_close()


def test_s3_waves_trust_the_certificates_boto3_is_told_to_trust(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 behind a private CA (MinIO, a TLS-inspecting proxy) is trusted by boto3 through
    AWS_CA_BUNDLE: the store's libcurl waves trust the same bundle, so they do not all fail
    and fall back to one boto3 GET per range. Without it, certifi's CAs alone are trusted."""
    url, cert = tls_server
    [untrusted] = CurlPool(timeout=10, connect_timeout=5).get_all([url]).result()
    assert isinstance(untrusted, TransportError) and "not trusted" in str(untrusted)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
    store = S3OriginalsStore("s3://any-bucket")
    [answer] = store._curl.get_all([url]).result()
    assert isinstance(answer, Response) and (answer.status_code, answer.content) == (200, b"ok")
    store.close()
