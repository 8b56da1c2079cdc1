"""The Redis scheduler: the same contract as ``InProcessScheduler`` for many API workers.

Design (docs/decisions/0008-redis-scheduler.md): sessions live in ``shards`` fixed logical
shards (``slot % shards``); every key of a shard carries the shard as a hash tag, so each
Lua call touches one Redis Cluster slot::

    {prefix}:{<shard>}:when   sorted set  slot -> ms of the slot's next event
                              (SCHEDULED: the challenge fires; AWAITING: the window
                              ends, plus ``miss_grace_ms``); absent when nothing is due
    {prefix}:{<shard>}:st     hash        slot -> the slot's state (29 bytes, below)
    {prefix}:{<shard>}:free   list        a stack of disarmed slots
    {prefix}:{<shard>}:hw     string      how many of the shard's slots were ever handed out
    {prefix}:{0}:meta         hash        shards, capacity and format (checked by every worker)

Everything is fixed-width little-endian binary, so a script moves bytes with
``string.sub`` instead of parsing and formatting text for every session. A slot, as zset
member, hash field and list element, is 4 bytes (u32). A state is ``<BI4i8i8`` then 8 bytes:
phase u8, seq u32, deadline i64 (fire time or window end, absolute ms), last_pass i64 (ms),
owner i64. Lua reads phase, seq and deadline only; it copies the owner as raw bytes (an
int64 learner id need not fit a double) and, where it changes only the head of a state,
appends the unchanged tail with ``string.sub``. ``format`` in the meta hash names this
layout (2; 1 was the textual "phase,seq,deadline,last_pass,owner" with decimal slots), and
a worker refuses keys written in another.

Every change is one atomic Lua step per shard over at most ``batch`` (≤ 500) sessions, so
several workers may tick the same shards at once: a due member is popped and rescheduled
by exactly one of them. Arguments and results go packed as fixed-size records (numpy
structured arrays on this side), never as thousands of Lua values. Times are absolute ms
(int64; exact in Lua's doubles up to 2**53; Redis writes a Lua number given to a command
with ``%.17g``, so a ZADD score passed as a number is the exact integer). Random intervals
are drawn in Python from the injected generator and passed as arguments, so the scripts
stay deterministic. The module reads neither the clock nor the environment: ``now`` is
passed in.

Acks from requests are appended to a deque and applied at the next ``tick``, in the
same pipeline as (and before) the shard's due scan, each with its own arrival time.
Because another worker may tick meanwhile, ``miss_grace_ms`` (≥ the ack flush period)
delays declaring a window missed so an ack that arrived in time and still sits in a
worker's queue is not lost; the window itself (the ack's deadline) is unchanged.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from redis.exceptions import NoScriptError

from api.store.redis_client import SyncRedis, decodes_responses
from examengine.challenges.contract import Phase, SchedulerFull, Seqs, Slots, TickResult
from examengine.challenges.policy import ChallengePolicy

#: The most sessions one Lua call may touch (1,000 block Redis ~10 ms; see HOTPATHS.md).
MAX_BATCH = 500
#: The binary layout's version, kept in ``{prefix}:{0}:meta`` (format 1, textual, had none).
FORMAT = 2
_EMPTY = np.zeros(0, dtype=np.int64)
_U32 = 2**32
_SLOT = np.dtype("<u4")
_OWNER = np.dtype("<i8")
_STATE = np.dtype(
    [("phase", "u1"), ("seq", "<u4"), ("deadline", "<i8"), ("last_pass", "<i8"), ("owner", "<i8")]
)
# the records the scripts read (arm, ack) and return (tick: issued and missed)
_ARM_RECORD = np.dtype([("slot", "<u4"), ("interval", "<i8")])
_ACK_RECORD = np.dtype([("slot", "<u4"), ("seq", "<u4"), ("received", "<i8"), ("interval", "<i8")])
_SLOT_SEQ = np.dtype([("slot", "<u4"), ("seq", "<u4")])

# Every script works on one Cluster slot's keys: a shard's (when, st, free; allocate: free,
# hw, st) or the meta hash. A state's bytes (1-based, as string.sub counts): 1 phase,
# 2-5 seq, 6-13 deadline, 14-21 last_pass, 22-29 owner.

_LAYOUT = r"""
-- ARGV: shards, capacity, format; a new prefix takes them, an existing one keeps its own
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'shards', ARGV[1], 'capacity', ARGV[2], 'format', ARGV[3])
end
return redis.call('HMGET', KEYS[1], 'shards', 'capacity', 'format')
"""

_ALLOCATE = r"""
-- ARGV: the shard's capacity, the shard count, the shard, packed i64 owners (copied, not
-- read); returns the slots taken, packed
local cap, nshards, shard = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local owners, zero = ARGV[4], string.rep('\0', 16)
local out = {}
for i = 1, #owners / 8 do
  local slot = redis.call('RPOP', KEYS[1])
  if not slot then
    local idx = tonumber(redis.call('GET', KEYS[2]) or '0')
    if idx >= cap then break end
    redis.call('SET', KEYS[2], string.format('%d', idx + 1))
    slot = struct.pack('<I4', shard + idx * nshards)
  end
  local v = redis.call('HGET', KEYS[3], slot)
  local seq = v and string.sub(v, 2, 5) or '\0\0\0\0'
  redis.call('HSET', KEYS[3], slot, '\3' .. seq .. zero .. string.sub(owners, i * 8 - 7, i * 8))
  out[i] = slot
end
return table.concat(out)
"""

_ARM = r"""
-- ARGV[1]: now; ARGV[2]: packed (slot u32, interval i64) records of 12 bytes
local now, data = tonumber(ARGV[1]), ARGV[2]
local n = #data / 12
if n == 0 then return 0 end
local fields = {}
for i = 1, n do
  fields[i] = string.sub(data, i * 12 - 11, i * 12 - 8)
end
local values = redis.call('HMGET', KEYS[2], unpack(fields))
local states, scores = {}, {}
for i = 1, n do
  local v = values[i]
  if v and string.byte(v) ~= 0 then
    local at = now + struct.unpack('<i8', data, i * 12 - 7)
    states[#states + 1] = fields[i]
    states[#states + 1] =
      '\1' .. string.sub(v, 2, 5) .. struct.pack('<i8', at) .. string.sub(v, 14)
    scores[#scores + 1] = at
    scores[#scores + 1] = fields[i]
  end
end
if #states > 0 then
  redis.call('HSET', KEYS[2], unpack(states))
  redis.call('ZADD', KEYS[1], unpack(scores))
end
return #scores / 2
"""

_ACK = r"""
-- ARGV[1]: packed (slot u32, seq u32, received i64, interval i64) records of 24 bytes, in
-- arrival order; returns one byte per ack, '1' passed or '0' refused
local data = ARGV[1]
local n = #data / 24
if n == 0 then return '' end
local fields = {}
for i = 1, n do
  fields[i] = string.sub(data, i * 24 - 23, i * 24 - 20)
end
local values = redis.call('HMGET', KEYS[2], unpack(fields))
local latest, states, scores, out = {}, {}, {}, {}
for i = 1, n do
  local slot = fields[i]
  local v = latest[slot] or values[i]
  local seq, ok = string.sub(data, i * 24 - 19, i * 24 - 16), '0'
  if v and string.byte(v) == 2 and string.sub(v, 2, 5) == seq then
    local at, interval = struct.unpack('<i8i8', data, i * 24 - 15)
    if at <= struct.unpack('<i8', v, 6) then
      local nxt = at + interval
      local state = '\1' .. seq .. struct.pack('<i8i8', nxt, at) .. string.sub(v, 22)
      latest[slot] = state
      states[#states + 1] = slot
      states[#states + 1] = state
      scores[#scores + 1] = nxt
      scores[#scores + 1] = slot
      ok = '1'
    end
  end
  out[i] = ok
end
if #states > 0 then
  redis.call('HSET', KEYS[2], unpack(states))
  redis.call('ZADD', KEYS[1], unpack(scores))
end
return table.concat(out)
"""

_TICK = r"""
-- ARGV: now, window, grace, batch; returns {members seen, issued, missed}, the last two
-- packed (slot u32, seq u32) records
local now, window, grace = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])
if #due == 0 then return {0, '', ''} end
local closes = struct.pack('<i8', now + window)
local score = now + window + grace
local issued, missed, states, scores, gone = {}, {}, {}, {}, {}
local values = redis.call('HMGET', KEYS[2], unpack(due))
for i = 1, #due do
  local slot, v = due[i], values[i]
  local p = v and string.byte(v)
  if p == 1 then
    local seq = struct.pack('<I4', struct.unpack('<I4', v, 2) + 1)
    states[#states + 1] = slot
    states[#states + 1] = '\2' .. seq .. closes .. string.sub(v, 14)
    scores[#scores + 1] = score
    scores[#scores + 1] = slot
    issued[#issued + 1] = slot
    issued[#issued + 1] = seq
  elseif p == 2 then
    states[#states + 1] = slot
    states[#states + 1] = '\3' .. string.sub(v, 2)
    gone[#gone + 1] = slot
    missed[#missed + 1] = slot
    missed[#missed + 1] = string.sub(v, 2, 5)
  else
    gone[#gone + 1] = slot
  end
end
if #states > 0 then redis.call('HSET', KEYS[2], unpack(states)) end
if #scores > 0 then redis.call('ZADD', KEYS[1], unpack(scores)) end
if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end
return {#due, table.concat(issued), table.concat(missed)}
"""

_DISARM = r"""
-- ARGV[1]: packed u32 slots; a slot's seq is kept, the rest of its state zeroed
local data, zero = ARGV[1], string.rep('\0', 24)
local n = 0
for i = 1, #data / 4 do
  local slot = string.sub(data, i * 4 - 3, i * 4)
  local v = redis.call('HGET', KEYS[2], slot)
  if v and string.byte(v) ~= 0 then
    redis.call('HSET', KEYS[2], slot, '\0' .. string.sub(v, 2, 5) .. zero)
    redis.call('ZREM', KEYS[1], slot)
    redis.call('RPUSH', KEYS[3], slot)
    n = n + 1
  end
end
return n
"""

_SCRIPTS = {
    "layout": _LAYOUT,
    "allocate": _ALLOCATE,
    "arm": _ARM,
    "ack": _ACK,
    "tick": _TICK,
    "disarm": _DISARM,
}


def _records(dtype: np.dtype[np.void], *columns: npt.NDArray[np.int64]) -> npt.NDArray[np.void]:
    """``columns`` side by side as ``dtype`` records (packed: ``tobytes`` is what Lua reads)."""
    records = np.empty(len(columns[0]), dtype=dtype)
    for name, column in zip(dtype.names or (), columns, strict=True):
        records[name] = column
    return records


def _slot_seqs(packed: bytes) -> tuple[Slots, Seqs]:
    records = np.frombuffer(packed, dtype=_SLOT_SEQ)
    return records["slot"].astype(np.int64), records["seq"].astype(np.int64)


def _members(slots: Slots) -> list[bytes]:
    """The slots as the 4-byte strings Redis keeps them as (hash fields, zset members)."""
    members: list[bytes] = slots.astype(_SLOT).view("V4").tolist()
    return members


class RedisScheduler:
    """See the module docstring. ``client`` (one server or a Redis Cluster: each call's
    keys are in one hash slot) must return bytes (``decode_responses`` off); ``rng`` (a
    Generator or a seed) draws the intervals; ``capacity`` (≤ 2**32: a slot is a u32) and
    ``shards`` must be the same for every worker over one ``prefix`` (checked, with the
    format)."""

    def __init__(
        self,
        client: SyncRedis,
        policy: ChallengePolicy,
        *,
        prefix: str,
        shards: int,
        capacity: int,
        rng: np.random.Generator | int,
        miss_grace_ms: int = 0,
        batch: int = MAX_BATCH,
    ) -> None:
        if not 1 <= batch <= MAX_BATCH:
            raise ValueError(f"batch must be within 1..{MAX_BATCH}")
        if shards < 1 or capacity < 0 or miss_grace_ms < 0:
            raise ValueError("shards must be positive; capacity and miss_grace_ms not negative")
        if capacity > _U32:
            raise ValueError("capacity must not exceed 2**32 (a slot is stored as a u32)")
        if decodes_responses(client):
            raise ValueError("the Redis client must not decode responses")
        self.client = client
        self.policy = policy
        self.prefix = prefix
        self.shards = shards
        self.capacity = capacity
        self.miss_grace_ms = miss_grace_ms
        self.batch = batch
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self._shas: dict[str, str] = {}
        self._load_scripts()
        self._check_layout()
        # the slots of shard s are s, s + S, s + 2S, ... below capacity
        self._shard_capacity = [max(0, -(-(capacity - s) // shards)) for s in range(shards)]
        self._cursor = 0
        # (slot, seq, received_ms); a deque so request threads may append while a tick drains
        self._acks: deque[tuple[int, int, int]] = deque()

    # -- keys --------------------------------------------------------------------------

    def key(self, shard: int, name: str) -> str:
        return f"{self.prefix}:{{{shard}}}:{name}"

    def _shard_keys(self, shard: int) -> list[str]:
        return [self.key(shard, "when"), self.key(shard, "st"), self.key(shard, "free")]

    def _check_layout(self) -> None:
        """Refuse keys laid out for other shards or capacity, or written in another format
        (the scripts would misread them: keys of format 1 have no ``format`` field)."""
        layout = [self.shards, self.capacity, FORMAT]
        (reply,) = self._run([("layout", [self.key(0, "meta")], layout)])
        shards, capacity = int(reply[0]), int(reply[1])
        written = int(reply[2] or 1)
        if written != FORMAT:
            raise ValueError(
                f"{self.prefix} holds scheduler state in format {written} (1: textual), not "
                f"{FORMAT} (binary): this worker cannot read it; drain the old workers' "
                "sessions or use another prefix"
            )
        if [shards, capacity] != [self.shards, self.capacity]:
            raise ValueError(
                f"{self.prefix} was laid out with {shards} shards and capacity "
                f"{capacity}, not {self.shards} and {self.capacity}"
            )

    # -- slots -------------------------------------------------------------------------

    def allocate(self, count: int, owners: npt.NDArray[np.int64] | None = None) -> Slots:
        """``count`` free slots, held by ``owners`` (learner ids); idle until armed.
        Spread over the shards; all or nothing (raises ``SchedulerFull``)."""
        owner_of = np.zeros(count, dtype=_OWNER) if owners is None else owners.astype(_OWNER)
        result = np.full(count, -1, dtype=np.int64)
        open_shards = [
            (self._cursor + i) % self.shards
            for i in range(self.shards)
            if self._shard_capacity[(self._cursor + i) % self.shards] > 0
        ]
        self._cursor = (self._cursor + count) % self.shards
        waiting = list(range(count))
        while waiting and open_shards:
            share, extra = divmod(len(waiting), len(open_shards))
            plan: list[tuple[int, list[int]]] = []
            start = 0
            for i, shard in enumerate(open_shards):
                take = min(share + (i < extra), self.batch)
                if take:
                    plan.append((shard, waiting[start : start + take]))
                    start += take
            rest = waiting[start:]
            calls: list[tuple[str, list[str], list[Any]]] = [
                (
                    "allocate",
                    [self.key(shard, "free"), self.key(shard, "hw"), self.key(shard, "st")],
                    [self._shard_capacity[shard], self.shards, shard, owner_of[wanted].tobytes()],
                )
                for shard, wanted in plan
            ]
            replies = self._run(calls)
            waiting = rest
            for (shard, wanted), packed in zip(plan, replies, strict=True):
                got = np.frombuffer(packed, dtype=_SLOT)
                result[wanted[: len(got)]] = got
                if len(got) < len(wanted):
                    open_shards.remove(shard)
                    waiting.extend(wanted[len(got) :])
        if waiting:
            self.disarm(result[result >= 0])
            raise SchedulerFull(f"{count} slots asked for, {count - len(waiting)} free")
        return result

    def owns(self, slot: int, owner: int) -> bool:
        """Whether ``owner`` holds ``slot`` (the slot travels in the session token)."""
        if not 0 <= slot < self.capacity:
            return False
        field = _members(np.array([slot], dtype=np.int64))[0]
        value: bytes | None = self.client.hget(self.key(slot % self.shards, "st"), field)  # type: ignore[assignment]
        if value is None:
            return False
        state = np.frombuffer(value, dtype=_STATE)[0]
        return bool(state["phase"] != Phase.FREE and state["owner"] == owner)

    def phase_of(self, slots: Slots) -> npt.NDArray[np.int8]:
        return self._states(slots)[0].astype(np.int8)

    def seq_of(self, slots: Slots) -> Seqs:
        return self._states(slots)[1]

    # -- the contract ------------------------------------------------------------------

    def arm(self, slots: Slots, *, now: int) -> None:
        """Schedule each slot's next challenge in [min, max] after ``now`` (a free slot
        is left alone)."""
        records = _records(_ARM_RECORD, slots, self._intervals(len(slots)))
        calls: list[tuple[str, list[str], list[Any]]] = [
            ("arm", self._shard_keys(shard), [now, records[chunk].tobytes()])
            for shard, idx in self._by_shard(slots)
            for chunk in self._chunks(idx)
        ]
        self._run(calls)

    def acknowledge(self, slots: Slots, seqs: Seqs, received_ms: npt.NDArray[np.int64]) -> None:
        """Queue a batch of answers for the next tick."""
        self._acks.extend(zip(slots.tolist(), seqs.tolist(), received_ms.tolist(), strict=True))

    def ack(self, slot: int, seq: int, received_ms: int) -> None:
        """Queue one answer (the request path: a deque append, no Redis, no numpy)."""
        self._acks.append((slot, seq, received_ms))

    def tick(self, *, now: int, shards: Sequence[int] | None = None) -> TickResult:
        """Apply the queued acks, then issue due challenges and report missed windows.
        ``shards`` limits the due scan to some shards (workers may split them; any
        overlap is safe); the acks are always applied in full."""
        queue = self._acks
        taken = [queue.popleft() for _ in range(len(queue))]
        ack_calls, ack_parts, refused = self._ack_calls(taken)
        scan = range(self.shards) if shards is None else shards
        tick_args = [now, self.policy.window_ms, self.miss_grace_ms, self.batch]
        calls = ack_calls + [("tick", self._shard_keys(s), tick_args) for s in scan]
        try:
            replies = self._run(calls)
        except Exception:
            # Redis away (a restart): the acks go back to the front of the queue and are
            # applied at the next tick that reaches it, each with its own arrival time, so
            # an answer given in time is not lost. (Should a connection drop part-way
            # through the pipeline, an ack already applied comes back refused: Redis holds
            # the pass, this tick's caller does not learn it.)
            queue.extendleft(reversed(taken))
            raise
        passed_parts: list[npt.NDArray[np.int64]] = []
        passed_ms_parts: list[npt.NDArray[np.int64]] = []
        refused_parts = [refused]
        for (slots, received), reply in zip(ack_parts, replies, strict=False):
            ok = np.frombuffer(reply, dtype=np.uint8) == ord("1")
            passed_parts.append(slots[ok])
            passed_ms_parts.append(received[ok])
            refused_parts.append(slots[~ok])
        issued: list[npt.NDArray[np.int64]] = []
        issued_seq: list[npt.NDArray[np.int64]] = []
        missed: list[npt.NDArray[np.int64]] = []
        missed_seq: list[npt.NDArray[np.int64]] = []
        pending = list(zip(scan, replies[len(ack_calls) :], strict=True))
        while pending:
            again: list[int] = []
            for shard, (seen, fired, expired) in pending:
                slot, seq = _slot_seqs(fired)
                issued.append(slot)
                issued_seq.append(seq)
                slot, seq = _slot_seqs(expired)
                missed.append(slot)
                missed_seq.append(seq)
                if seen >= self.batch:
                    again.append(shard)
            replies = self._run([("tick", self._shard_keys(s), tick_args) for s in again])
            pending = list(zip(again, replies, strict=True))
        return TickResult(
            issued=_concat(issued),
            issued_seq=_concat(issued_seq),
            missed=_concat(missed),
            missed_seq=_concat(missed_seq),
            passed=_concat(passed_parts),
            passed_ms=_concat(passed_ms_parts),
            refused=_concat(refused_parts),
        )

    def disarm(self, slots: Slots) -> None:
        """Stop the slots for good and return them to their shard's free list. A slot
        already free is left alone (disarming twice is harmless)."""
        slots = slots[(slots >= 0) & (slots < self.capacity)]
        packed = slots.astype(_SLOT)
        calls: list[tuple[str, list[str], list[Any]]] = [
            ("disarm", self._shard_keys(shard), [packed[chunk].tobytes()])
            for shard, idx in self._by_shard(slots)
            for chunk in self._chunks(idx)
        ]
        self._run(calls)

    # -- internals ---------------------------------------------------------------------

    def _intervals(self, n: int) -> npt.NDArray[np.int64]:
        p = self.policy
        return self.rng.integers(p.min_interval_ms, p.max_interval_ms + 1, size=n)

    def _by_shard(self, slots: Slots) -> list[tuple[int, npt.NDArray[np.intp]]]:
        """(shard, indices into ``slots``) for every shard present, order kept within."""
        if len(slots) == 0:
            return []
        shard_of = slots % self.shards
        order = np.argsort(shard_of, kind="stable")
        cuts = np.flatnonzero(np.diff(shard_of[order])) + 1
        return [(int(shard_of[part[0]]), part) for part in np.split(order, cuts)]

    def _chunks(self, idx: npt.NDArray[np.intp]) -> list[npt.NDArray[np.intp]]:
        return [idx[i : i + self.batch] for i in range(0, len(idx), self.batch)]

    def _ack_calls(
        self, taken: list[tuple[int, int, int]]
    ) -> tuple[
        list[tuple[str, list[str], list[Any]]],
        list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
        Slots,
    ]:
        if not taken:
            return [], [], _EMPTY
        slots, seqs, received = np.array(taken, dtype=np.int64).reshape(-1, 3).T
        # a slot outside the scheduler, or a seq no challenge has (seqs are u32 in Redis:
        # sent on, 2**32 + 1 would match 1), is refused here
        valid = (slots >= 0) & (slots < self.capacity) & (seqs >= 0) & (seqs < _U32)
        refused = slots[~valid]
        slots, seqs, received = slots[valid], seqs[valid], received[valid]
        records = _records(_ACK_RECORD, slots, seqs, received, self._intervals(len(slots)))
        calls: list[tuple[str, list[str], list[Any]]] = []
        parts = []
        for shard, idx in self._by_shard(slots):
            for chunk in self._chunks(idx):
                calls.append(("ack", self._shard_keys(shard), [records[chunk].tobytes()]))
                parts.append((slots[chunk], received[chunk]))
        return calls, parts, refused

    def _states(self, slots: Slots) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(phase, seq) of each slot; a slot never handed out is FREE with seq 0, and so is
        one outside the capacity (asked for, it would wrap around 32 bits to another)."""
        phase = np.zeros(len(slots), dtype=np.int64)
        seq = np.zeros(len(slots), dtype=np.int64)
        inside = np.flatnonzero((slots >= 0) & (slots < self.capacity))
        groups = self._by_shard(slots[inside])
        pipe = self.client.pipeline(transaction=False)
        for shard, idx in groups:
            pipe.hmget(self.key(shard, "st"), _members(slots[inside[idx]]))
        for (_, idx), values in zip(groups, pipe.execute(), strict=True):
            at = inside[idx].tolist()
            found = [i for i, value in zip(at, values, strict=True) if value is not None]
            states = np.frombuffer(b"".join(v for v in values if v is not None), dtype=_STATE)
            phase[found] = states["phase"]
            seq[found] = states["seq"]
        return phase, seq

    def _load_scripts(self) -> None:
        for name, source in _SCRIPTS.items():
            self._shas[name] = str(self.client.script_load(source))

    def _run(self, calls: list[tuple[str, list[str], list[Any]]]) -> list[Any]:
        """Run script calls in one pipeline (one round trip); a script the server lost
        (restart, SCRIPT FLUSH) is loaded again and only the calls that failed rerun."""
        if not calls:
            return []
        replies = self._pipeline(calls)
        lost = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if lost:
            self._load_scripts()
            for i, reply in zip(lost, self._pipeline([calls[i] for i in lost]), strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    def _pipeline(self, calls: list[tuple[str, list[str], list[Any]]]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for name, keys, args in calls:
            # EVALSHA by name: a cluster pipeline blocks its `evalsha` method, yet routes
            # the command by its keys (all in one slot here) like any other
            pipe.execute_command("EVALSHA", self._shas[name], len(keys), *keys, *args)
        return list(pipe.execute(raise_on_error=False))


def _concat(parts: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    return np.concatenate(parts).astype(np.int64, copy=False) if parts else _EMPTY
