"""The originals store the originals tests run on, once per backend: a folder (file://) and a
bucket on moto's server (s3://). Load with ``pytest_plugins = ["originals_support"]``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reingest.backends import open_backend
from reingest.originals.base import OriginalsStore

#: moto for AWS: tests/aws.py
pytest_plugins = ["aws"]


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OriginalsStore]:
    if request.param == "s3":
        import boto3

        from aws import unique_name

        request.getfixturevalue("aws_env")  # moto, started only when this param runs
        bucket = unique_name("originals")
        boto3.client("s3").create_bucket(Bucket=bucket)
        url = f"s3://{bucket}/images"
    else:
        url = (tmp_path / "originals").as_uri()
    backend = open_backend("originals", url, OriginalsStore)
    yield backend
    backend.close()
