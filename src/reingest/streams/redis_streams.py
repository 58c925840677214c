"""Streams on Redis Streams (``redis://host:port/db?prefix=NAME``), shared by thrall consumers.

Keys, all under the prefix (default ``reingest``):

- ``<prefix>:high``, ``<prefix>:low``: the streams, read through one consumer group ``thrall``.
  Acked messages are also deleted, so a stream's length is its unconsumed depth.
- ``<prefix>:<priority>:leases``: sorted set of delivered, unacked message ids scored by the
  (server-clock) time their lease ends. Redis itself only knows how long a message has been idle,
  and consumers may ask for different leases, so the lease each delivery was given is kept here.
- ``<prefix>:dead``: sorted set of dead letters (``<priority>:<id>``, scored by enqueue time), each
  kept in a hash ``<prefix>:dead:<priority>:<id>``; writing one twice is harmless. The member is
  the dead letter's id (entry ids of the two streams may coincide).

Receiving is one Lua script (atomic on the server): two consumers can never take the same expired
lease, and a message is never delivered without its lease being recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import redis

from ..errors import ConfigurationError
from .base import DeadLetter, Delivery, Priority, StreamLag, Streams

GROUP = "thrall"
DEFAULT_PREFIX = "reingest"

#: KEYS: stream, leases. ARGV: group, consumer, limit, lease seconds.
#: Returns {id, fields, deliveries} per message: expired leases first, then new messages.
RECEIVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local limit = tonumber(ARGV[3])
local out = {}
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now, 'LIMIT', 0, limit)
if #expired > 0 then
    redis.call('ZREM', KEYS[2], unpack(expired))
    -- min-idle 0: this script is the only claimer, and it runs atomically
    local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(expired))
    for _, entry in ipairs(claimed) do
        if entry then
            local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
            table.insert(out, {entry[1], entry[2], pending[1][4]})
        end
    end
end
if #out < limit then
    local fresh = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2],
        'COUNT', limit - #out, 'STREAMS', KEYS[1], '>')
    if fresh then
        for _, entry in ipairs(fresh[1][2]) do
            table.insert(out, {entry[1], entry[2], 1})
        end
    end
end
local lease_until = now + tonumber(ARGV[4])
for _, delivery in ipairs(out) do
    redis.call('ZADD', KEYS[2], lease_until, delivery[1])
end
return out
"""


def _entry_order(entry_id: str) -> tuple[int, int]:
    """Stream ids are ``<ms>-<seq>``: compare them as numbers, not strings."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _split_url(url: str) -> tuple[str, str]:
    """The URL redis-py understands, and the key prefix (``?prefix=``, which redis-py rejects)."""
    parts = urlparse(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for name, value in query if name == "prefix"]
    prefix = prefixes[-1] if prefixes else DEFAULT_PREFIX
    if not prefix:
        raise ConfigurationError("the redis:// streams URL has an empty ?prefix=")
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return urlunparse(parts._replace(query=rest)), prefix


def _describe(url: str) -> str:
    """Where a URL points, for error messages: never its password."""
    parts = urlparse(url)
    try:
        port = str(parts.port or 6379)
    except ValueError:
        port = "(bad port)"
    return f"Redis at {parts.hostname or 'localhost'}:{port}{parts.path or '/0'}"


class RedisStreams(Streams):
    def __init__(self, url: str) -> None:
        client_url, self.prefix = _split_url(url)
        where = _describe(url)
        try:
            self._redis = redis.Redis.from_url(client_url)
            for priority in Priority:
                try:
                    self._redis.xgroup_create(self._stream(priority), GROUP, id="0", mkstream=True)
                except redis.ResponseError as error:
                    if "BUSYGROUP" not in str(error):  # the group exists: fine
                        raise
        except ValueError as error:  # redis-py's complaint about the URL
            raise ConfigurationError(f"bad redis:// URL for {where}: {error}") from None
        except (redis.ConnectionError, redis.TimeoutError, redis.AuthenticationError) as error:
            raise ConfigurationError(f"cannot connect to {where}: {error}") from None
        self._receive = self._redis.register_script(RECEIVE)

    def _stream(self, priority: Priority) -> str:
        return f"{self.prefix}:{priority}"

    def _leases(self, priority: Priority) -> str:
        return f"{self.prefix}:{priority}:leases"

    def publish(self, priority: Priority, payloads: Sequence[bytes]) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for payload in payloads:
            pipe.xadd(self._stream(priority), {"payload": payload})
        pipe.execute()

    def receive(
        self, priority: Priority, consumer: str, limit: int, lease_seconds: float
    ) -> list[Delivery]:
        if limit <= 0:
            return []
        rows = self._receive(
            keys=[self._stream(priority), self._leases(priority)],
            args=[GROUP, consumer, limit, repr(float(lease_seconds))],
        )
        deliveries = []
        for raw_id, fields, count in rows:
            values = dict(zip(fields[::2], fields[1::2], strict=True))
            entry_id = raw_id.decode()
            deliveries.append(Delivery(entry_id, priority, values[b"payload"], int(count)))
        deliveries.sort(key=lambda delivery: _entry_order(delivery.id))
        return deliveries

    def _forget(self, pipe: Any, priority: Priority, ids: Sequence[str]) -> None:
        """Queue the commands that retire messages: ack, delete, drop their leases."""
        pipe.xack(self._stream(priority), GROUP, *ids)
        pipe.xdel(self._stream(priority), *ids)
        pipe.zrem(self._leases(priority), *ids)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        by_priority: dict[Priority, list[str]] = {}
        for delivery in deliveries:
            by_priority.setdefault(delivery.priority, []).append(delivery.id)
        if not by_priority:
            return
        pipe = self._redis.pipeline(transaction=True)
        for priority, ids in by_priority.items():
            self._forget(pipe, priority, ids)
        pipe.execute()

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        member = f"{delivery.priority}:{delivery.id}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            f"{self.prefix}:dead:{member}",
            mapping={
                "priority": str(delivery.priority),
                "reason": reason,
                "payload": delivery.payload,
            },
        )
        pipe.zadd(f"{self.prefix}:dead", {member: _entry_order(delivery.id)[0]})
        self._forget(pipe, delivery.priority, [delivery.id])
        pipe.execute()

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        if limit <= 0:
            return []
        members = cast(
            list[bytes], self._redis.zrange(f"{self.prefix}:dead", offset, offset + limit - 1)
        )
        pipe = self._redis.pipeline(transaction=False)
        for member in members:
            pipe.hgetall(f"{self.prefix}:dead:{member.decode()}")
        letters = []
        for member, fields in zip(members, pipe.execute(), strict=True):
            if not fields:  # removed between the two reads
                continue
            letters.append(
                DeadLetter(
                    member.decode(),
                    Priority(fields[b"priority"].decode()),
                    fields[b"reason"].decode(),
                    fields[b"payload"],
                )
            )
        return letters

    def replay_dead_letters(self, ids: Sequence[str]) -> int:
        """One MULTI that posts and drops, under WATCH of the dead letters' hashes: a
        concurrent replay of the same ones makes this one start over and find them gone, so
        each is posted exactly once."""
        members = list(dict.fromkeys(ids))
        keys = [f"{self.prefix}:dead:{member}" for member in members]
        if not keys:
            return 0

        posted = 0

        def replay(pipe: Any) -> None:  # run again from the start if a watched key changes
            nonlocal posted
            found = [
                (member, key, pipe.hgetall(key)) for member, key in zip(members, keys, strict=True)
            ]
            pipe.multi()
            posted = 0
            for member, key, fields in found:
                if not fields:
                    continue
                stream = self._stream(Priority(fields[b"priority"].decode()))
                pipe.xadd(stream, {"payload": fields[b"payload"]})
                pipe.delete(key)
                pipe.zrem(f"{self.prefix}:dead", member)
                posted += 1

        self._redis.transaction(replay, *keys)
        return posted

    def dead_letter_count(self) -> int:
        return int(cast(int, self._redis.zcard(f"{self.prefix}:dead")))

    def lag(self, priority: Priority) -> StreamLag:
        pipe = self._redis.pipeline(transaction=True)
        pipe.xlen(self._stream(priority))
        pipe.xrange(self._stream(priority), "-", "+", count=1)
        pipe.time()
        depth, oldest, (seconds, micros) = pipe.execute()
        if not oldest:
            return StreamLag(0, 0.0)
        enqueued = _entry_order(oldest[0][0].decode())[0] / 1000
        # the server's clock, like the entry id: a skewed client clock does not distort the age
        return StreamLag(int(depth), max(0.0, seconds + micros / 1e6 - enqueued))

    def close(self) -> None:
        self._redis.close()
