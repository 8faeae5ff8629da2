"""The Qingming bench's load generator: visitors from their own loopback addresses, and its lost-write count."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from bench.loadgen import FlowerLedger, client_address, flower_visit, get_visit, run_phase


class Shop:
    """A tiny server that answers like the registry and silently drops every fifth new flower."""

    def __init__(self):
        self.lock = threading.Lock()
        self.addresses: set[str] = set()
        self.stored: set[str] = set()
        self.seen: set[str] = set()
        self.bad_forms = 0


def handler_for(shop: Shop):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _answer(self, status, body=b"", headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            with shop.lock:
                shop.addresses.add(self.client_address[0])
            page = b'<form><input type="hidden" name="csrf_token" value="tok-123"></form>'
            self._answer(200, page, [("Set-Cookie", "session=s1; HttpOnly")])

        def do_POST(self):
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            if form.get("csrf_token") != ["tok-123"] or "session=s1" not in (self.headers["Cookie"] or ""):
                with shop.lock:
                    shop.bad_forms += 1
                self._answer(400)
                return
            key = form["key"][0]
            with shop.lock:
                if key not in shop.seen:
                    shop.seen.add(key)
                    if len(shop.seen) % 5:
                        shop.stored.add(key)
            self._answer(303, headers=[("Location", "/page")])

    return Handler


@pytest.fixture
def shop():
    state = Shop()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, server.server_address[1]
    server.shutdown()
    server.server_close()


def test_client_addresses_are_distinct_loopback_hosts():
    addresses = [client_address(n) for n in range(70_000)]
    assert len(set(addresses)) == len(addresses)
    assert all(a.startswith("127.") and not a.endswith((".0", ".255")) for a in addresses)


def test_flowers_counted_from_distinct_addresses_and_a_lost_write_is_reported(shop):
    state, port = shop
    ledger = FlowerLedger()
    result = run_phase("flowers", "127.0.0.1", port, flower_visit(ledger, lambda n: "/page", lambda n: "/flower"),
                       threads=2, seconds=20, max_visitors=6, first_visitor=300)

    assert result.visitors == 6 and result.errors == 0 and state.bad_forms == 0
    assert result.statuses[303] == 6 * 3 + 2  # three flowers each, and visitors 0 and 4 tap twice
    assert len(state.addresses) == 6 and "127.0.0.1" not in state.addresses
    assert len(ledger.accepted) == 18 and ledger.retried == 2
    assert ledger.lost(len(state.stored)) == 18 - len(state.stored) == 3


def test_a_refused_connection_counts_as_an_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once the socket is closed
    result = run_phase("gone", "127.0.0.1", port, get_visit(lambda n: ["/"]), threads=1, seconds=5, max_visitors=3)
    assert result.errors == 3 and result.count == 0
