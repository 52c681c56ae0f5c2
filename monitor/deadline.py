"""Wall-clock deadlines for whole network exchanges: feed fetches, webhook posts, SMTP sessions.

A per-read time-out bounds one wait, not an exchange: a server that sends one byte just inside it
(header bytes, a webhook's answer, an SMTP greeting) holds the caller, and the run lock, for as
long as it likes. A :class:`Deadline` bounds the whole exchange in two ways at once:

- every operation gets at most the time left (:meth:`Deadline.timeout`; HTTP clients made by
  :func:`http_client` apply it to each connect, read and write);
- inside :meth:`Deadline.watch`, a watchdog shuts down every socket given to
  :meth:`Deadline.register` when the time is up, which wakes a read blocked anywhere (smtplib's
  line reads, a TLS handshake).

The caller then turns the failure into one line with :meth:`Deadline.passed_reason`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpcore
import httpx

#: A whole exchange may take at most this many of its per-operation time-outs.
TOTAL_TIMEOUT_FACTOR = 3


class Deadline:
    """The moment by which one network exchange must be over.

    Example: ``Deadline.within(10.0, "[ingest] timeout_s", budget_left, "[ingest] source_budget_s")``.

    Attributes:
        seconds: The time the exchange was given.
        limit: What set it, for messages (e.g. ``"3 times [ingest] timeout_s"``).
        key: The setting to raise for more time (e.g. ``"[ingest] timeout_s"``).
    """

    def __init__(self, seconds: float, limit: str, key: str) -> None:
        self.seconds = max(0.0, seconds)
        self.limit = limit
        self.key = key
        self.ends = time.monotonic() + self.seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._fired = False  # the watchdog shut the sockets down

    @classmethod
    def within(
        cls, timeout: float, timeout_key: str, budget_left: float | None = None, budget_key: str = ""
    ) -> Deadline:
        """``TOTAL_TIMEOUT_FACTOR`` times the per-operation ``timeout``, or what is left of a budget
        when that is less; ``timeout_key`` and ``budget_key`` name the settings in messages."""
        total = TOTAL_TIMEOUT_FACTOR * timeout
        if budget_left is not None and budget_left < total:
            return cls(budget_left, f"what was left of {budget_key}", budget_key)
        return cls(total, f"{TOTAL_TIMEOUT_FACTOR} times {timeout_key}", timeout_key)

    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.ends - time.monotonic())

    def passed(self) -> bool:
        """Whether the deadline has passed (so an end of data seen since may be the watchdog's doing)."""
        return self._fired or self.remaining() <= 0

    def passed_reason(self) -> str:
        """The reason an exchange cut off by this deadline failed, for a one-line message."""
        return (
            f"timed out: no complete answer within {self.seconds:.3g} s, the deadline of the whole "
            f"exchange (connect, request and answer) set by {self.limit}"
        )

    def timeout(self, per_operation: float | None, expired: type[Exception] = TimeoutError) -> float:
        """The time-out of the next operation: ``per_operation`` or the time left, whichever is less.

        Raises:
            expired: The deadline has passed (raised as ``expired(reason)``).
        """
        left = self.remaining()
        if left <= 0:
            raise expired(self.passed_reason())
        return left if per_operation is None else min(per_operation, left)

    def register(self, sock: socket.socket) -> None:
        """Have the watchdog of :meth:`watch` shut ``sock`` down when the deadline passes.

        A duplicate of the descriptor is kept, so the socket is reached also after it was wrapped
        for TLS (STARTTLS, HTTPS) under a new Python object.
        """
        with self._lock:
            self._sockets.append(sock.dup())

    @contextmanager
    def watch(self) -> Iterator[Deadline]:
        """Run the block under a watchdog that shuts the registered sockets down at the deadline."""
        timer = threading.Timer(self.remaining(), self._shut_down)
        timer.daemon = True
        timer.start()
        try:
            yield self
        finally:
            timer.cancel()
            with self._lock:
                sockets, self._sockets = self._sockets, []
            for sock in sockets:
                sock.close()

    def _shut_down(self) -> None:
        with self._lock:
            self._fired = True
            for sock in self._sockets:
                # The connection may be closed already (by its peer or its owner): nothing to do then.
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# --- httpx ---------------------------------------------------------------------------------------


class _Stream(httpcore.NetworkStream):
    """A network stream whose every operation waits at most until the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self.inner = inner
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.deadline.timeout(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.deadline.timeout(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        wait = self.deadline.timeout(timeout, httpcore.ConnectTimeout)
        return _Stream(self.inner.start_tls(ssl_context, server_hostname, wait), self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Opens connections whose streams keep to the deadline, and registers their sockets with it."""

    def __init__(self, inner: httpcore.NetworkBackend, deadline: Deadline) -> None:
        self.inner = inner
        self.deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        wait = self.deadline.timeout(timeout, httpcore.ConnectTimeout)
        return self._kept(self.inner.connect_tcp(host, port, wait, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        wait = self.deadline.timeout(timeout, httpcore.ConnectTimeout)
        return self._kept(self.inner.connect_unix_socket(path, wait, socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(min(seconds, self.deadline.remaining()))

    def _kept(self, stream: httpcore.NetworkStream) -> httpcore.NetworkStream:
        sock = stream.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            self.deadline.register(sock)
        return _Stream(stream, self.deadline)


def http_client(deadline: Deadline, **options: Any) -> httpx.Client:
    """An ``httpx.Client`` (``options`` as for it) whose connections, proxied ones included, keep to
    ``deadline``; use it inside ``deadline.watch()``.

    Raises:
        RuntimeError: This httpx keeps its connection pools elsewhere (a version not supported).
    """
    client = httpx.Client(**options)
    # httpx has no public hook for the network backend: install it in the pool of every transport.
    transports = [client._transport, *client._mounts.values()]  # noqa: SLF001
    pools = [t._pool for t in transports if isinstance(t, httpx.HTTPTransport)]  # noqa: SLF001
    if not pools or not all(hasattr(pool, "_network_backend") for pool in pools):
        client.close()
        raise RuntimeError(f"httpx {httpx.__version__}: cannot bound the time of its connections")
    for pool in pools:
        pool._network_backend = _Backend(pool._network_backend, deadline)  # noqa: SLF001
    return client
