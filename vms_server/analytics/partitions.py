"""Partitions of the Redis job streams, so that a camera's jobs are analysed in sequence across nodes.

A camera's jobs go to one of P partition streams per priority (`partition_of`: a hash of the camera id mod P;
P is agreed once in Redis, the first node's value wins). Each partition of each model's consumer group is read
by one consumer at a time: the consumer holding its lease (`lease` key, set only when absent, with a short
expiry renewed by the holder, the value carrying a counter that grows with every new holder: the fencing token).
Consumers register with a heartbeat; every partition goes to the live consumer that wins the rendezvous hash of
(model, partition, consumer), so adding or losing a consumer moves only the partitions it wins or held.

Why every stream operation is a script that checks the lease first: a consumer that lost its lease (stalled
past the expiry, or its partition moved) must neither read, nor acknowledge, nor publish a result, or a job
could be analysed twice in the wrong order. A consumer handing a partition over stops reading it, lets its
jobs in flight finish, then releases it; a consumer taking a partition over first claims every job the previous
holder took and did not acknowledge (XAUTOCLAIM, in id order), and hands those out before any new one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vms_common.aio import cancel_and_wait
from vms_server.analytics.types import Priority

logger = logging.getLogger(__name__)

# KEYS[1] lease, KEYS[2] fencing counter; ARGV member, ttl_ms. The lease value is "member@counter".
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local value = ARGV[1] .. '@' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
"""
# KEYS leases; ARGV[1] ttl_ms, ARGV[2..] the values held. 1 per lease still ours (renewed), else 0.
_RENEW = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then redis.call('PEXPIRE', key, ARGV[1]); out[i] = 1 else out[i] = 0 end
end
return out
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS[1] lease, KEYS[2..] the partition's streams; ARGV value, group, consumer. Every pending job, in id order.
_CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local out = {}
for i = 2, #KEYS do
  local cursor, got = '0-0', {}
  repeat
    local r = redis.call('XAUTOCLAIM', KEYS[i], ARGV[2], ARGV[3], 0, cursor, 'COUNT', 100)
    cursor = r[1]
    for _, m in ipairs(r[2]) do got[#got + 1] = m end
  until cursor == '0-0' or #got >= 10000
  out[i - 1] = got
end
return out
"""
# KEYS[1..k] leases, then the streams level by level (k per level); ARGV group, consumer, k, m, a cap per level
# (negative: that many from every stream, else in all), the k lease values. Reads the most urgent level that has
# new jobs; with none, the last id of each stream.
_READ = """
local k, m = tonumber(ARGV[3]), tonumber(ARGV[4])
local ok = {}
for j = 1, k do ok[j] = redis.call('GET', KEYS[j]) == ARGV[4 + m + j] end
for lvl = 1, m do
  local cap, n, got = tonumber(ARGV[4 + lvl]), 0, {}
  local each = cap < 0
  if each then cap = -cap end
  for j = 1, k do
    if ok[j] and (each or n < cap) then
      local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', each and cap or cap - n, 'STREAMS',
                           KEYS[k * lvl + j], '>')
      if r then n = n + #r[1][2]; got[#got + 1] = {j, r[1][2]} end
    end
  end
  if n > 0 then return {lvl, got} end
end
local tails = {}
for lvl = 1, m do
  for j = 1, k do
    if ok[j] then
      local last = redis.call('XREVRANGE', KEYS[k * lvl + j], '+', '-', 'COUNT', 1)
      tails[#tails + 1] = {KEYS[k * lvl + j], #last > 0 and last[1][1] or '0-0'}
    end
  end
end
return {0, tails}
"""
# KEYS[1] lease, KEYS[2] stream; ARGV value, group, ids. -1 when the lease is not ours.
_ACK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
return redis.call('XACK', KEYS[2], ARGV[2], unpack(ARGV, 3))
"""
# KEYS[1] lease, KEYS[2] job stream, KEYS[3] results stream; ARGV value, group, job id, maxlen, fields...
_PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5))
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
return id
"""


def partition_of(camera_id: uuid.UUID, partitions: int) -> int:
    """The partition of a camera's jobs: stable across processes and hosts (not Python's salted hash)."""
    digest = hashlib.blake2b(camera_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def rendezvous(model: str, partition: int, members: list[str]) -> str | None:
    """The member that should hold `partition` of `model`: the highest hash wins, so a member joining or
    leaving moves only the partitions it wins or held."""
    def score(member: str) -> bytes:
        return hashlib.blake2b(f"{model}|{partition}|{member}".encode(), digest_size=8).digest()
    return max(members, key=score) if members else None


async def agreed_partitions(redis: aioredis.Redis, key: str, wanted: int) -> int:
    """P is fixed cluster-wide: the first node's value is stored and every later one follows it (a node
    configured otherwise would send a camera's jobs to another partition than its peers)."""
    await redis.set(key, wanted, nx=True)
    raw = await redis.get(key)
    stored = int(raw) if raw is not None else wanted
    if stored != wanted:
        logger.warning("analytics.partitions is %d here but %d in Redis (%s); using %d", wanted, stored, key, stored)
    return stored


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(slots=True)
class Entry:
    """A stream message handed to a consumer, with the lease value it was read under."""

    priority: Priority
    partition: int
    msg_id: str
    fields: dict[bytes, bytes]
    lease: str
    attempts: int


def _entries(priority: Priority, partition: int, messages: list[Any], lease: str, attempts: int) -> list[Entry]:
    out = []
    for msg_id, flat in messages:
        fields = {flat[i]: flat[i + 1] for i in range(0, len(flat or []), 2)}
        out.append(Entry(priority, partition, _text(msg_id), fields, lease, attempts))
    return out


class PartitionHolder:
    """One consumer of one model's group: the partitions it holds, renewed and rebalanced in the background."""

    def __init__(self, redis: aioredis.Redis, prefix: str, model: str, consumer: str, partitions: int,
                 ttl_s: float, stream: Callable[[Priority, int], str]) -> None:
        self.redis, self.prefix, self.model, self.consumer = redis, prefix, model, consumer
        self.partitions = partitions
        self.ttl_ms = max(100, int(ttl_s * 1000))
        self.stream = stream
        self.member = f"{consumer}#{uuid.uuid4().hex[:8]}"  # two processes may share a consumer name
        self.held: dict[int, str] = {}
        self.draining: dict[int, float] = {}
        # Jobs this consumer took (claimed from the previous holder, or read beyond what it handed out) and has
        # still to hand out, per partition and level: they go before any newer job of their stream.
        self.backlog: dict[tuple[int, Priority], collections.deque[Entry]] = {}
        self.inflight: dict[tuple[str, str], Entry] = {}
        self.lock = asyncio.Lock()
        self._rotate = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._scripts = {name: redis.register_script(src) for name, src in (
            ("acquire", _ACQUIRE), ("renew", _RENEW), ("release", _RELEASE), ("claim", _CLAIM), ("read", _READ),
            ("ack", _ACK), ("publish", _PUBLISH))}

    def lease_key(self, partition: int) -> str:
        return f"{self.prefix}:lease:{self.model}:{partition}"

    @property
    def interval_s(self) -> float:
        return min(self.ttl_ms / 3000, 1.0)

    async def start(self) -> None:
        await self.rebalance()
        self._task = asyncio.create_task(self._cycle(), name=f"analytics-partitions-{self.model}")

    async def stop(self) -> None:
        """A clean stop: the leases are released at once, so the next holder claims the unfinished jobs now."""
        self._stopping = True
        await cancel_and_wait([self._task])  # cancelled until it ends (see RemoteModels.stop)
        with contextlib.suppress(Exception):  # Redis gone: the leases expire by themselves
            for partition, value in list(self.held.items()):
                await self._scripts["release"](keys=[self.lease_key(partition)], args=[value])
            await self.redis.delete(f"{self.prefix}:member:{self.model}:{self.member}")
            await self.redis.srem(f"{self.prefix}:members:{self.model}", self.member)
        self.held.clear()

    async def _cycle(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.interval_s)
            try:
                await self.rebalance()
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis hiccup: the leases may expire, and fencing keeps that safe
                logger.warning("renewing the %s partitions of %s failed", self.model, self.consumer, exc_info=True)

    async def members(self) -> list[str]:
        """The consumers of the model whose heartbeat has not expired (the expired are forgotten)."""
        index = f"{self.prefix}:members:{self.model}"
        names = sorted(_text(m) for m in await self.redis.smembers(index))
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.exists(f"{self.prefix}:member:{self.model}:{name}")
            alive = await pipe.execute()
        dead = [n for n, a in zip(names, alive, strict=True) if not a]
        if dead:
            await self.redis.srem(index, *dead)
        return [n for n, a in zip(names, alive, strict=True) if a]

    async def rebalance(self) -> None:
        """Heartbeat, renew what is held, hand over what another member wins, take what this one wins."""
        await self.redis.set(f"{self.prefix}:member:{self.model}:{self.member}", "1", px=self.ttl_ms)
        await self.redis.sadd(f"{self.prefix}:members:{self.model}", self.member)
        if self.held:
            held = list(self.held.items())
            kept = await self._scripts["renew"](keys=[self.lease_key(p) for p, _ in held],
                                                args=[self.ttl_ms, *(v for _, v in held)])
            for (partition, _), ok in zip(held, kept, strict=True):
                if not ok:
                    logger.warning("%s lost partition %d of %s (its lease expired)", self.consumer, partition,
                                   self.model)
                    self._forget(partition)
        members = await self.members()
        for partition in range(self.partitions):
            mine = rendezvous(self.model, partition, members) == self.member
            if mine and partition not in self.held:
                await self._acquire(partition)
            elif not mine and partition in self.held:
                await self._hand_over(partition)
            elif mine:
                self.draining.pop(partition, None)

    def _forget(self, partition: int) -> None:
        self.held.pop(partition, None)
        self.draining.pop(partition, None)
        self._drop_backlog(partition)

    def _drop_backlog(self, partition: int) -> None:
        """Left pending in Redis: the partition's next holder claims them."""
        for key in [k for k in self.backlog if k[0] == partition]:
            del self.backlog[key]

    async def _acquire(self, partition: int) -> None:
        value = await self._scripts["acquire"](keys=[self.lease_key(partition),
                                                     f"{self.prefix}:fence:{self.model}:{partition}"],
                                               args=[self.member, self.ttl_ms])
        if value is None:
            return  # the previous holder still has it (handing over, or not yet expired)
        value = _text(value)
        async with self.lock:
            claimed = await self._scripts["claim"](
                keys=[self.lease_key(partition), *(self.stream(p, partition) for p in Priority)],
                args=[value, self.model, self.consumer])
            if claimed is None:
                return
            count = 0
            for priority, messages in zip(Priority, claimed, strict=True):
                if messages:
                    self.backlog[(partition, priority)] = collections.deque(
                        _entries(priority, partition, messages, value, attempts=2))
                    count += len(messages)
            self.held[partition] = value
            if count:
                logger.info("%s took over partition %d of %s with %d unfinished job(s)", self.consumer,
                            partition, self.model, count)

    async def _hand_over(self, partition: int) -> None:
        """Stop reading the partition; release it once its jobs in flight are done (or after one lease time)."""
        deadline = self.draining.setdefault(partition, time.monotonic() + self.ttl_ms / 1000)
        self._drop_backlog(partition)
        async with self.lock:
            value = self.held[partition]
            busy = any(e.partition == partition and e.lease == value for e in self.inflight.values())
            if busy and time.monotonic() < deadline:
                return
            await self._scripts["release"](keys=[self.lease_key(partition)], args=[value])
            self._forget(partition)

    def backlog_level(self) -> Priority | None:
        levels = [p for (_, p), q in self.backlog.items() if q]
        return min(levels, key=lambda p: p.rank) if levels else None

    def take_backlog(self, priority: Priority, max_jobs: int, first: list[Entry] | None = None) -> list[Entry]:
        """Up to `max_jobs` (one if CRITICAL) jobs of `priority` from the backlog, after adding `first` (just
        read) to it: the oldest heads across partitions first, each partition's own order kept."""
        for e in first or []:
            self.backlog.setdefault((e.partition, e.priority), collections.deque()).append(e)
        queues = [q for (_, p), q in self.backlog.items() if p is priority and q]
        out: list[Entry] = []
        cap = 1 if priority is Priority.CRITICAL else max_jobs
        while len(out) < cap and queues:
            queue = min(queues, key=lambda q: float(q[0].fields.get(b"at", b"0")))
            out.append(queue.popleft())
            if not queue:
                queues.remove(queue)
        self.backlog = {k: q for k, q in self.backlog.items() if q}
        for e in out:
            self.inflight[(self.stream(e.priority, e.partition), e.msg_id)] = e
        return out

    async def read(self, levels: list[Priority], max_jobs: int) -> tuple[list[Entry], list[tuple[str, str]]]:
        """New jobs of the most urgent level that has any, from the partitions held and not handed over; with
        none, (stream, last id) pairs to wait on."""
        async with self.lock:
            parts = [p for p in self.held if p not in self.draining]
            if not parts or not levels:
                return [], []
            self._rotate = (self._rotate + 1) % len(parts)
            parts = parts[self._rotate:] + parts[:self._rotate]  # no partition always first
            values = [self.held[p] for p in parts]
            keys = [self.lease_key(p) for p in parts] + [self.stream(lvl, p) for lvl in levels for p in parts]
            caps = [-1 if lvl is Priority.CRITICAL else max_jobs for lvl in levels]  # the oldest CRITICAL first
            res: Any = await self._scripts["read"](keys=keys, args=[self.model, self.consumer, len(parts),
                                                                     len(levels), *caps, *values])
            if int(res[0]) == 0:
                return [], [(_text(k), _text(i)) for k, i in res[1]]
            level = levels[int(res[0]) - 1]
            read = [e for j, messages in res[1]
                    for e in _entries(level, parts[int(j) - 1], messages, values[int(j) - 1], attempts=1)]
            return self.take_backlog(level, max_jobs, read), []

    async def ack(self, entries: list[Entry]) -> None:
        """Acknowledge, only under the lease the jobs were read with (else the next holder redoes them)."""
        for e in entries:
            stream = self.stream(e.priority, e.partition)
            self.inflight.pop((stream, e.msg_id), None)
            done = await self._scripts["ack"](keys=[self.lease_key(e.partition), stream],
                                              args=[e.lease, self.model, e.msg_id])
            if int(done) < 0:
                logger.info("job %s of %s not acknowledged: partition %d moved on", e.msg_id, self.model,
                            e.partition)

    async def still_held(self, entries: list[Entry]) -> list[bool]:
        """Per entry: is its partition still held under the lease it was read with? Renews those that are, so
        the answer holds for a lease time more (the in-server pools' fence before they hand results out)."""
        if not entries:
            return []
        kept = await self._scripts["renew"](keys=[self.lease_key(e.partition) for e in entries],
                                            args=[self.ttl_ms, *(e.lease for e in entries)])
        return [bool(int(k)) for k in kept]

    async def publish(self, entry: Entry, results: str, fields: dict[str, bytes], max_len: int) -> bool:
        """Add a result to `results` and acknowledge its job in one step, under the job's lease: a worker killed
        in between leaves neither, a worker that lost the partition adds nothing. False: fenced off."""
        stream = self.stream(entry.priority, entry.partition)
        self.inflight.pop((stream, entry.msg_id), None)
        flat = [x for kv in fields.items() for x in kv]
        done = await self._scripts["publish"](keys=[self.lease_key(entry.partition), stream, results],
                                              args=[entry.lease, self.model, entry.msg_id, max_len, *flat])
        return done is not None
