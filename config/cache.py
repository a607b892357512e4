"""The Redis cache backend, reusing its Redis client.

Django's RedisCache builds a new `redis.Redis` for every cache call; building one (its
table of response callbacks) cost ~0.3 ms on this machine, as much as the round trip
itself, and a page or API call makes several (rate limits, the volume strip's counts).
A `redis.Redis` over a connection pool is safe to share between threads, so one per pool
serves every call.
"""

from typing import Any

from django.core.cache.backends import redis as django_redis


class _ReusingClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}  # id(connection pool) -> its client

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusingClient
