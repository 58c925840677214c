"""HTTP clients for the data services, compared: requests/s and client CPU per GET.

The data-services client is the projection's hot path (seven GETs per image), and its CPU is
taken from the loader under the same GIL, so the figure that matters is CPU per request. Each
candidate fetches --images images' seven Grid endpoints from bench_services.py's stand-in Grid
(uvicorn in a subprocess, answering at once or after --delay-ms), --in-flight images at a time,
and the client process's CPU time is divided by the requests made. Candidates that are not
installed are skipped (aiohttp, tornado: `pip install aiohttp tornado`).

    python benchmarks/bench_http_clients.py --images 2000 --in-flight 8
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import orjson
import urllib3
from bench_services import stand_in_grid

from reingest.curl_pool import CurlPool
from reingest.services.http import GRID_ENDPOINTS

ID = "0" * 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=8, help="images fetched at once")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    with stand_in_grid({}) as port:  # every GET a 404 with a small JSON body
        base = f"http://127.0.0.1:{port}/{args.delay_ms}"
        urls = [f"{base}/{e.service}{e.path.format(id=ID)}" for e in GRID_ENDPOINTS.values()]
        print(
            f"{args.images:,} images x {len(urls)} GETs, {args.in_flight} images in flight, "
            f"stand-in answering after {args.delay_ms} ms"
        )
        for name, candidate in CANDIDATES.items():
            if candidate.needs and importlib.util.find_spec(candidate.needs) is None:
                print(f"{name:<34} not installed ({candidate.needs})")
                continue
            candidate.run(urls, 20, args.in_flight)  # warm up: connections, imports
            started, cpu = time.perf_counter(), time.process_time()
            candidate.run(urls, args.images, args.in_flight)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            requests = args.images * len(urls)
            print(
                f"{name:<34}{requests / seconds:>9,.0f} requests/s"
                f"{cpu / requests * 1e6:>8.0f} µs CPU per request"
            )


class Candidate:
    def __init__(self, run: Callable[[list[str], int, int], None], needs: str = "") -> None:
        self.run = run
        self.needs = needs


def curl_pool(urls: list[str], images: int, in_flight: int) -> None:
    """What HttpDataServices does: one group of GETs per image on a shared CurlPool."""
    pool = CurlPool(timeout=10, connect_timeout=10)

    def image(_: int) -> None:
        for answer in pool.get_all(urls).result():
            orjson.loads(answer.content)

    with ThreadPoolExecutor(in_flight) as images_at_once:
        list(images_at_once.map(image, range(images)))
    pool.close()


def httpx_threads(urls: list[str], images: int, in_flight: int) -> None:
    """What HttpDataServices did before: one httpx.Client, a thread per GET."""
    with httpx.Client() as client, ThreadPoolExecutor(16) as per_request:

        def image(_: int) -> None:
            for response in per_request.map(client.get, urls):
                response.json()

        with ThreadPoolExecutor(in_flight) as images_at_once:
            list(images_at_once.map(image, range(images)))


def urllib3_threads(urls: list[str], images: int, in_flight: int) -> None:
    pool = urllib3.PoolManager(maxsize=in_flight * len(urls))
    with ThreadPoolExecutor(in_flight * len(urls)) as per_request:
        for response in per_request.map(lambda url: pool.request("GET", url), urls * images):
            orjson.loads(response.data)


def gathered(
    session: Callable[[int], AbstractAsyncContextManager[Any]],
    fetch: Callable[[Any, str], Awaitable[None]],
) -> Callable[[list[str], int, int], None]:
    """An asyncio candidate: in one event loop, ``in_flight`` images at once, each image's GETs
    gathered, through ``session(connections)``."""

    def run(urls: list[str], images: int, in_flight: int) -> None:
        async def main() -> None:
            at_once = asyncio.Semaphore(in_flight)
            async with session(in_flight * len(urls)) as client:

                async def image() -> None:
                    async with at_once:
                        await asyncio.gather(*(fetch(client, url) for url in urls))

                await asyncio.gather(*(image() for _ in range(images)))

        asyncio.run(main())

    return run


async def httpx_fetch(client: httpx.AsyncClient, url: str) -> None:
    (await client.get(url)).json()


def httpx_session(connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(limits=httpx.Limits(max_connections=connections))


async def aiohttp_fetch(session: Any, url: str) -> None:
    async with session.get(url) as response:
        orjson.loads(await response.read())


def aiohttp_session(connections: int) -> Any:
    import aiohttp

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))


async def tornado_fetch(client: Any, url: str) -> None:
    orjson.loads((await client.fetch(url, raise_error=False)).body)


@asynccontextmanager
async def tornado_session(connections: int) -> AsyncIterator[Any]:
    from tornado.httpclient import AsyncHTTPClient

    client = "tornado.curl_httpclient.CurlAsyncHTTPClient"
    AsyncHTTPClient.configure(client, max_clients=connections)
    yield AsyncHTTPClient()


CANDIDATES = {
    "reingest CurlPool (pycurl multi)": Candidate(curl_pool),
    "aiohttp (asyncio)": Candidate(gathered(aiohttp_session, aiohttp_fetch), "aiohttp"),
    "tornado CurlAsyncHTTPClient": Candidate(gathered(tornado_session, tornado_fetch), "tornado"),
    "urllib3 PoolManager, threads": Candidate(urllib3_threads),
    "httpx Client, threads (before)": Candidate(httpx_threads),
    "httpx AsyncClient": Candidate(gathered(httpx_session, httpx_fetch)),
}


if __name__ == "__main__":
    main()
