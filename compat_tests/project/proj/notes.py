"""Side effects the checks read back: JSON values pushed on Redis lists."""

import json
import os

import redis

_client = redis.Redis.from_url(os.environ["COMPAT_REDIS_URL"])


def note(key, value):
    _client.rpush(f"notes:{key}", json.dumps(value))


def read(key):
    return [json.loads(item) for item in _client.lrange(f"notes:{key}", 0, -1)]
