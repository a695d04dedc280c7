"""Benchmarks: celeriac against Celery 5.x and streaQ, on this machine, in one run.

Run ``bench/run`` (or ``python -m bench --help``). Every system gets its own throwaway
redis-server on a free loopback port; nothing touches a Redis on port 6379.
"""
