"""The app's Redis clients: one server or a Redis Cluster, chosen by the settings.

``connect`` (asyncio: the login stores, the study relay, the readiness probe) and
``connect_sync`` (the Redis scheduler, command-line tools) return a plain client for one
server, or a cluster client when ``RedisSettings.cluster`` is on: the URL then names any
node, and the client learns the others (and follows a failover or a resharding) by
itself. Both kinds answer the same commands; what this module leaves to its callers is
keeping the keys of one command, one Lua script or one transaction in one hash slot (the
scheduler's ``{shard}`` hash tags, decision 0008) and using sharded pub/sub on a cluster
(the relay, decision 0018).

Neither client decodes replies: every user here reads bytes.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import RedisClusterException, RedisError

from api.settings import RedisSettings

#: An asyncio client of one server or of a cluster.
AsyncRedis = redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster
#: A blocking client of one server or of a cluster.
SyncRedis = redis.Redis | redis.cluster.RedisCluster

#: What a Redis call raises when Redis (or part of a cluster) is away: a cluster client's
#: own errors (no reachable node, a slot not covered while the cluster re-forms) are not
#: ``RedisError``s.
UNAVAILABLE = (RedisError, RedisClusterException, OSError)

#: Connecting to a node that is away fails after this long (seconds), so a request that
#: needs Redis while it restarts is refused quickly (503) instead of hanging.
CONNECT_TIMEOUT_S = 2.0


def connect(settings: RedisSettings, **options: Any) -> AsyncRedis | None:
    """The asyncio client for ``settings`` (None without a URL: one process, no Redis);
    ``options`` go to redis-py's ``from_url``."""
    if settings.url is None:
        return None
    options.setdefault("socket_connect_timeout", CONNECT_TIMEOUT_S)
    if settings.cluster:
        return redis.asyncio.cluster.RedisCluster.from_url(settings.url, **options)
    return redis.asyncio.Redis.from_url(settings.url, **options)


def connect_sync(settings: RedisSettings, **options: Any) -> SyncRedis:
    """The blocking client for ``settings``; raises ``ValueError`` without a URL."""
    if settings.url is None:
        raise ValueError("no Redis configured (EXAMENGINE_REDIS_URL)")
    options.setdefault("socket_connect_timeout", CONNECT_TIMEOUT_S)
    if settings.cluster:
        return redis.cluster.RedisCluster.from_url(settings.url, **options)
    return redis.Redis.from_url(settings.url, **options)


async def ready(client: AsyncRedis) -> None:
    """Learn a cluster's nodes and slots if not known yet (a no-op on one server): the
    cluster client does it on its first command, but pub/sub needs the slot map first.
    Raises one of ``UNAVAILABLE``."""
    if isinstance(client, redis.asyncio.cluster.RedisCluster):
        await client.initialize()


def is_cluster(client: AsyncRedis | SyncRedis) -> bool:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, redis.asyncio.cluster.RedisCluster | redis.cluster.RedisCluster)


def decodes_responses(client: AsyncRedis | SyncRedis) -> bool:
    """Whether ``client`` turns replies into ``str`` (the scheduler needs bytes)."""
    return bool(client.get_encoder().decode_responses)
