"""Connections for the fetcher: pinned to the checked address, bounded by the fetch's deadline.

A fetch sets `deadline_of_this_thread` for its duration: every socket read then gets only the time
left, and the name lookup is given no more either (getaddrinfo itself has no timeout).
"""
from __future__ import annotations

import http.client
import io
import os
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util.ssl_ import create_urllib3_context

from jobs.fetch.addresses import AllowList, IPAddress, Resolver, resolve_public
from jobs.rules.stays import SyncFailure

deadline_of_this_thread = threading.local()  # .value: monotonic deadline of the running fetch


class _DeadlineReader(io.RawIOBase):
    """Socket reads that each get only the time left before the fetch's deadline."""

    def __init__(self, original: io.BufferedReader, sock: socket.socket, deadline: float):
        # Keep http.client's own file: it holds the reference that keeps the socket open after a
        # "Connection: close" response, until the body has been read.
        self._original, self._sock, self._deadline = original, sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the whole-request time limit was reached")
        self._sock.settimeout(left)
        return self._original.raw.readinto(buffer)

    def close(self) -> None:
        self._original.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response reading through _DeadlineReader: a per-read timeout alone lets a server
    that drips headers or body a byte at a time hold a worker for ever."""

    def __init__(self, sock: socket.socket, *args, **kwargs):
        super().__init__(sock, *args, **kwargs)
        deadline = getattr(deadline_of_this_thread, "value", None)
        if deadline is not None:
            self.fp = io.BufferedReader(_DeadlineReader(self.fp, sock, deadline))


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class FetchSession:
    """Connection pools keyed by (scheme, checked IP, port, TLS host name), shared by many threads."""

    def __init__(self, *, resolver: Resolver = socket.getaddrinfo, ca_certs: str | None = None,
                 num_pools: int = 256, connections_per_pool: int = 32):
        self.resolver = resolver
        # One TLS context for all connections: loading the CA bundle per connection costs milliseconds.
        context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
        context.load_verify_locations(ca_certs or certifi.where())
        self._pools = urllib3.PoolManager(num_pools=num_pools, maxsize=connections_per_pool, block=False,
                                          retries=False, ssl_context=context)
        self._pools.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def pool(self, scheme: str, host: str, ip: IPAddress, port: int) -> urllib3.HTTPConnectionPool:
        """A pool whose connections go to `ip` while TLS checks the certificate for `host`."""
        kwargs = {"server_hostname": host, "assert_hostname": host} if scheme == "https" else {}
        return self._pools.connection_from_host(str(ip), port, scheme, pool_kwargs=kwargs)

    def close(self) -> None:
        """Close every pooled connection."""
        self._pools.clear()

    def __enter__(self) -> FetchSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default_session: tuple[int, FetchSession] | None = None  # (owning pid, session)
_default_lock = threading.Lock()


def default_session() -> FetchSession:
    """The process-wide session, made on first use (nothing happens at import)."""
    global _default_session
    with _default_lock:
        # A forked child must not write into its parent's pooled connections.
        if _default_session is None or _default_session[0] != os.getpid():
            _default_session = (os.getpid(), FetchSession())
        return _default_session[1]


_lookups: tuple[int, ThreadPoolExecutor] | None = None  # (owning pid, pool)
_lookups_lock = threading.Lock()
# Checked answers kept a minute: a fleet sync asks the same few hosts thousands of times, and a lookup
# handed to the pool cost a third of the fetch threads' time (the pools share one lock). Safe against
# rebinding: a cached answer is one that passed the address rule, and connections go to it.
LOOKUP_TTL_SECONDS, LOOKUP_CACHE_SIZE = 60.0, 2048
_answers: dict[tuple, tuple[float, list[IPAddress]]] = {}
_answers_lock = threading.Lock()


def resolve_within(host: str, port: int, allow: AllowList, resolver: Resolver,
                   deadline: float) -> list[IPAddress]:
    """resolve_public, but a resolver that does not answer before the deadline is a dns failure;
    a checked answer is reused for LOOKUP_TTL_SECONDS (failures are never kept)."""
    key, now = (host, port, allow, resolver), time.monotonic()
    with _answers_lock:
        kept = _answers.get(key)
    if kept is not None and kept[0] > now:
        return list(kept[1])
    addresses = _resolve_in_pool(host, port, allow, resolver, deadline)
    with _answers_lock:
        if len(_answers) >= LOOKUP_CACHE_SIZE:
            _answers.clear()
        _answers[key] = (now + LOOKUP_TTL_SECONDS, list(addresses))
    return addresses


def _resolve_in_pool(host: str, port: int, allow: AllowList, resolver: Resolver,
                     deadline: float) -> list[IPAddress]:
    """One lookup in the lookup pool, given no more than the time left before the deadline."""
    global _lookups
    left = deadline - time.monotonic()
    if left <= 0:
        raise SyncFailure("timeout", "the remote did not answer in time")
    with _lookups_lock:
        # Made on first use (nothing happens at import) and again in a forked child (an RQ work
        # horse), which inherits the pool but none of its threads.
        if _lookups is None or _lookups[0] != os.getpid():
            _lookups = (os.getpid(), ThreadPoolExecutor(max_workers=16, thread_name_prefix="dns"))
    future = _lookups[1].submit(resolve_public, host, port, allow, resolver)
    try:
        return future.result(timeout=left)
    except FutureTimeout:
        # The lookup thread finishes on its own; the fetch does not wait for it.
        raise SyncFailure("dns", f"the name server gave no answer for {host} in time") from None
