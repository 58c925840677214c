"""Data services over HTTP against the embedded ones: batch-index's projection rate.

Builds N small originals (the sample generator) with their service data, and starts a stand-in
Grid: uvicorn in a subprocess (this script with --stand-in) answering every data-service GET
with what `reingest serve` answers for that image (recorded once through its app), after a fixed
delay given by the URL's first segment (`/20/usage/usages/media/<id>` answers after 20 ms).
Then, in one process on the same cores, it projects every image with batch-index's machinery
(`project_ids` in batches of --batch-size: the adaptive in-flight limit, retries, MAX_SIZE, the
digest) three ways:
  local:     the embedded SQLite services
  http 0ms:  HttpDataServices against the stand-in, answering at once
  http Nms:  the same, every answer --delay-ms late
The ids go in slices of --slice images, each slice timed the three ways back to back, so a busy
moment on a shared machine lands on all of them. Prints images/s, the ratios (targets: http 0 ms
>= 0.5 x local; http at 20 ms >= 0.7 x http at 0 ms) and the in-flight limits batch-index
settled on.

    python benchmarks/bench_services.py --images 1500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from reingest.backends import Components
from reingest.batch_index import project_ids
from reingest.concurrency import limit_for
from reingest.config import Settings
from reingest.http import create_app
from reingest.projection import Projector
from reingest.quickstart import store_sample_library
from reingest.sample import generate_sample_library
from reingest.services.http import API_KEY_HEADER, GRID_ENDPOINTS, HttpDataServices
from reingest.services.local import LocalDataServices
from reingest.workers import settle_garbage_collector

KEY = "bench-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--slice", type=int, default=300, help="images timed back to back")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay-ms", type=int, default=20, help="the slow stand-in's delay")
    parser.add_argument("--max-in-flight", type=int, default=Settings.projection_max_in_flight)
    parser.add_argument("--stand-in", nargs=2, metavar=("ANSWERS", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stand_in:
        serve_stand_in(Path(args.stand_in[0]), int(args.stand_in[1]))
        return
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.from_env(
            {
                "REINGEST_HOME": str(Path(folder) / "home"),
                "REINGEST_BATCH_SIZE": str(args.batch_size),
                "REINGEST_PROJECTION_MAX_IN_FLIGHT": str(args.max_in_flight),
            }
        )
        sample = generate_sample_library(Path(folder) / "sample", count=args.images)
        with Components(settings) as components:
            assert isinstance(components.services, LocalDataServices)
            ids, _broken = store_sample_library(components, sample)  # thumbnails made once
            local = Projector(components.originals, components.services, settings.processors)
            with stand_in_grid(grid_answers(components, ids)) as port:
                seconds = measure(components, local, ids, port, args)
    report(seconds, len(ids), args)


def grid_answers(components: Components, ids: list[str]) -> dict[str, list[Any]]:
    """Path → [status, body] of every data-service GET of ``ids``, as ``reingest serve``
    answers it (so both sides merge the same data)."""
    client = TestClient(create_app(components, api_keys=[KEY]), headers={API_KEY_HEADER: KEY})
    answers = {}
    for image_id in ids:
        for endpoint in GRID_ENDPOINTS.values():
            path = f"/{endpoint.service}{endpoint.path.format(id=image_id)}"
            response = client.get(f"/services{path}")
            answers[path] = [response.status_code, response.text]
    return answers


def measure(
    components: Components, local: Projector, ids: list[str], port: int, args: Any
) -> dict[str, list[float]]:
    """Seconds per slice of each way, the three timed back to back slice by slice."""
    settings = components.settings
    projectors = {"local": local}
    for name, delay in (("http 0ms", 0), (f"http {args.delay_ms}ms", args.delay_ms)):
        services = HttpDataServices(f"http://127.0.0.1:{port}/{delay}", KEY)
        projectors[name] = Projector(components.originals, services, settings.processors)
    for image_id in ids[:20]:  # the stand-in serves exactly the local data
        expected = local.project(image_id).to_json()
        for projector in projectors.values():
            assert projector.project(image_id).to_json() == expected, image_id
    settle_garbage_collector()
    seconds: dict[str, list[float]] = {name: [] for name in projectors}
    cpu = dict.fromkeys(projectors, 0.0)
    stand_in_cpu = dict.fromkeys(projectors, 0.0)
    for _ in range(args.rounds):
        for start in range(0, len(ids), args.slice):
            part = ids[start : start + args.slice]
            for name, projector in projectors.items():
                started, cpu_before = time.perf_counter(), time.process_time()
                stand_in_before = stand_in_seconds(port)
                for batch in range(0, len(part), args.batch_size):
                    project_ids(projector, part[batch : batch + args.batch_size], settings)
                seconds[name].append(time.perf_counter() - started)
                cpu[name] += time.process_time() - cpu_before
                stand_in_cpu[name] += stand_in_seconds(port) - stand_in_before
    images = len(ids) * args.rounds
    for name in projectors:
        print(
            f"{name:<12} CPU per image: {cpu[name] / images * 1000:.2f} ms here, "
            f"{stand_in_cpu[name] / images * 1000:.2f} ms in the stand-in Grid"
        )
    for name, projector in projectors.items():
        limit = limit_for(projector)
        print(
            f"{name:<12} {limit.needs.threads} thread(s), {limit.needs.read_ahead} read ahead, "
            f"peak {limit.peak} in flight (per image: CPU {limit.cpu * 1000:.2f} ms, "
            f"latency {(limit.latency or 0) * 1000:.2f} ms, blocked {(limit.blocked or 0) * 1000:.2f} ms)"
        )
        if projector is not local:
            projector.services.close()
    return seconds


def report(seconds: dict[str, list[float]], images: int, args: Any) -> None:
    (local, local_s), (fast, fast_s), (slow, slow_s) = seconds.items()
    rate = {name: images * args.rounds / sum(values) for name, values in seconds.items()}
    print(
        f"batch-index projection, {images:,} small originals, batch {args.batch_size}, "
        f"at most {args.max_in_flight} in flight, {args.rounds} rounds of "
        f"{len(local_s) // args.rounds} slices, {os.cpu_count()} cores"
    )
    for name in seconds:
        print(f"{name:<22}{rate[name]:>10,.0f} images/s")
    pairs = ((fast, local, fast_s, local_s, 0.5), (slow, fast, slow_s, fast_s, 0.7))
    for name, base, ours, theirs, target in pairs:
        per_slice = [t / o for o, t in zip(ours, theirs, strict=True)]
        print(
            f"{name + ' / ' + base:<22}{rate[name] / rate[base]:>10.2f}   (target >= {target}; "
            f"median per slice {statistics.median(per_slice):.2f})"
        )


# -- the stand-in Grid ----------------------------------------------------------------------


def serve_stand_in(answers_file: Path, port: int) -> None:
    """A bare ASGI app on uvicorn: ``/{delay_ms}{path}`` answers ``path``'s recorded answer
    after ``delay_ms``; 404 for paths it does not know."""
    import uvicorn

    answers = {
        path.encode(): (status, body.encode())
        for path, (status, body) in json.loads(answers_file.read_text()).items()
    }
    missing = (404, b'{"errorKey":"not-found","errorMessage":"unknown path"}')

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["raw_path"] == b"/cpu":  # the CPU this process has spent so far
            status, body = 200, b"%f" % time.process_time()
        else:
            _, delay, path = scope["raw_path"].split(b"/", 2)
            if delay != b"0":
                await asyncio.sleep(int(delay) / 1000)
            status, body = answers.get(b"/" + path, missing)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def stand_in_grid(answers: dict[str, list[Any]]) -> Iterator[int]:
    """The stand-in Grid serving ``answers`` (path → [status, body]) in a subprocess; yields
    its port."""
    with tempfile.TemporaryDirectory() as folder:
        answers_file = Path(folder) / "answers.json"
        answers_file.write_text(json.dumps(answers))
        port = free_port()
        command = [sys.executable, __file__, "--stand-in", str(answers_file), str(port)]
        stand_in = subprocess.Popen(command)
        try:
            wait_for(port)
            yield port
        finally:
            stand_in.terminate()
            stand_in.wait()


def stand_in_seconds(port: int) -> float:
    """The CPU seconds the stand-in Grid has spent so far."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"GET /cpu HTTP/1.1\r\nHost: stand-in\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
    return float(answer.rsplit(b"\r\n\r\n", 1)[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the stand-in Grid did not start")


if __name__ == "__main__":
    main()
