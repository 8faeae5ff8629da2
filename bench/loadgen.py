"""A small HTTP load generator: threads of visitors, each from its own loopback address, bounded in count and time."""

from __future__ import annotations

import http.client
import itertools
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

# The hidden field the site's forms carry (Flask-WTF); a visitor reads it from the page like a browser.
_CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


def client_address(n: int) -> str:
    """The ``n``-th visitor's source address in 127.1.0.1 … 127.250.255.254 (never .0 or .255)."""
    per_block = 254 * 256
    return f"127.{1 + (n // per_block) % 250}.{(n // 254) % 256}.{1 + n % 254}"


class Visitor:
    """One browser: a keep-alive connection from its own address, with its cookies."""

    def __init__(self, host: str, port: int, address: str, timeout: float = 30.0):
        self.address = address
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(address, 0))
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        # A browser sends a Chinese query percent-encoded as UTF-8.
        self.connection.request(method, quote(path, safe="/?=&%:+,"), body=body, headers=sent)
        response = self.connection.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def csrf_token(self, page: bytes) -> str:
        found = _CSRF.search(page)
        return found.group(1).decode() if found else ""

    def close(self) -> None:
        self.connection.close()


@dataclass
class Result:
    """What one phase measured: latencies of the timed requests and how each was answered."""

    name: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    failures: int = 0  # connection refused, reset or timed out: counted as errors with the 5xx
    visitors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, started: float, status: int) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.latencies_ms.append(elapsed)
            self.statuses[status] += 1

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500) + self.failures

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


Visit = Callable[[Visitor, int, Result], None]


def run_phase(name: str, host: str, port: int, visit: Visit, *, threads: int, seconds: float,
              max_visitors: int, first_visitor: int = 0) -> Result:
    """Let ``threads`` threads run ``visit(visitor, n, result)`` for new visitors until time or count runs out.

    Visitor ``n`` connects from :func:`client_address` ``(first_visitor + n)``, so a per-client rate limit
    sees as many clients as there are visitors. ``visit`` times what it wants with ``result.record``.
    """
    result = Result(name)
    numbers = itertools.count()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker():
        while time.perf_counter() < deadline:
            with lock:
                n = next(numbers)
            if n >= max_visitors:
                return
            visitor = Visitor(host, port, client_address(first_visitor + n))
            try:
                visit(visitor, n, result)
            except (OSError, http.client.HTTPException):
                with result.lock:
                    result.failures += 1
            finally:
                visitor.close()
            with result.lock:
                result.visitors += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(seconds + 120)  # a hung request times out after 30 s; never wait forever
    result.seconds = time.perf_counter() - started
    return result


def get_visit(paths: Callable[[int], list[str]]) -> Visit:
    """A visitor who GETs each of ``paths(n)`` on one connection, every request timed."""

    def visit(visitor: Visitor, n: int, result: Result) -> None:
        for path in paths(n):
            started = time.perf_counter()
            status, _headers, _body = visitor.request("GET", path)
            result.record(started, status)

    return visit


@dataclass
class FlowerLedger:
    """The flowers the server answered 303 to (by idempotency key), for the lost-write count."""

    accepted: set = field(default_factory=set)
    retried: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def accept(self, key: str) -> None:
        with self.lock:
            self.accepted.add(key)

    def lost(self, stored_rise: int) -> int:
        """Accepted flowers minus the rise in stored counts: above 0 a write was lost, below 0 one was doubled."""
        return len(self.accepted) - stored_rise


def flower_visit(ledger: FlowerLedger, page: Callable[[int], str], post: Callable[[int], str], *,
                 flowers: int = 3, retry_every: int = 4) -> Visit:
    """A family: opens the grave page (untimed, for the form's token), lays ``flowers`` flowers, sometimes retries.

    Each flower is timed; a 303 marks its key accepted. Every ``retry_every``-th visitor sends its last
    flower's form again with the same key (a double tap), which must not count twice.
    """

    def visit(visitor: Visitor, n: int, result: Result) -> None:
        status, _headers, body = visitor.request("GET", page(n))
        if status != 200:
            with result.lock:
                result.statuses[f"page {status}"] += 1
            return
        token = visitor.csrf_token(body)
        key = ""
        for i in range(flowers):
            key = f"qm-{n:08d}-{i}"
            started = time.perf_counter()
            status, _headers, _body = visitor.request("POST", post(n), _form(token, key))
            result.record(started, status)
            if status == 303:
                ledger.accept(key)
        if retry_every and n % retry_every == 0:
            started = time.perf_counter()
            status, _headers, _body = visitor.request("POST", post(n), _form(token, key))
            result.record(started, status)
            with ledger.lock:
                ledger.retried += 1

    return visit


def _form(token: str, key: str) -> bytes:
    return urlencode({"csrf_token": token, "kind": "flower", "key": key}).encode()
