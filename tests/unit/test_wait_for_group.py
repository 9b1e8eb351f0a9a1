"""``streams.runner.wait_for_group``: a run with several workers sends its input only once
every worker holds its share of the partitions (their /vessels pages, served here by stub
HTTP servers answering what a worker's page says as its group forms)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from streams.runner import wait_for_group


class _Proc:
    """What wait_for_group reads of a worker process."""

    returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode


@contextmanager
def pages(*answers: list[list[int] | None]) -> Iterator[tuple[list[int], list[int]]]:
    """One stub /vessels page per worker: its answers in turn (None: not serving yet, 503),
    then its last answer again. Yields the ports and each page's request count."""
    servers: list[ThreadingHTTPServer] = []
    calls = [0] * len(answers)
    for i, seq in enumerate(answers):

        class Page(BaseHTTPRequestHandler):
            index = i
            states = seq

            def do_GET(self) -> None:
                assert self.path.startswith("/vessels?")
                n = calls[self.index]
                calls[self.index] += 1
                state = self.states[min(n, len(self.states) - 1)]
                if state is None:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = orjson.dumps(
                    {"type": "FeatureCollection", "features": [], "partitions": state}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield [s.server_address[1] for s in servers], calls
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def test_returns_once_every_worker_holds_its_own_share() -> None:
    every = [0, 1, 2, 3]
    first = [None, every, every, every, [0, 1]]
    # Not serving; in the group with nothing yet; 2 and 3 while the first still holds them
    # (a rebalance under way); then each its own.
    second = [None, [], [2, 3], [2, 3]]
    with pages(first, second) as (ports, calls):
        held = wait_for_group([_Proc(), _Proc()], ports, 4, timeout_s=30)
    assert held == [[0, 1], [2, 3]]
    # Five rounds: the first stopped at the first page (not serving), the others asked both.
    assert calls == [5, 4]


def test_one_worker_holds_every_partition() -> None:
    with pages([None, [1, 0]]) as (ports, calls):
        assert wait_for_group([_Proc()], ports, 2, timeout_s=30) == [[0, 1]]
    assert calls == [2]


def test_more_workers_than_partitions_leave_the_extra_ones_idle() -> None:
    with pages([[0]], [[1]], [[]]) as (ports, _):
        procs = [_Proc(), _Proc(), _Proc()]
        assert wait_for_group(procs, ports, 2, timeout_s=30) == [[0], [1], []]


def test_a_group_that_never_forms_is_a_timeout_saying_what_each_holds() -> None:
    held = r"in 1s: they hold \[\[0, 1\], \[\]\]"
    with pages([[0, 1]], [[]]) as (ports, _), pytest.raises(TimeoutError, match=held):
        wait_for_group([_Proc(), _Proc()], ports, 2, timeout_s=1)


def test_a_worker_that_exits_ends_the_wait() -> None:
    dead = _Proc()
    dead.returncode = 3
    with pages([None]) as (ports, _), pytest.raises(RuntimeError, match="code 3"):
        wait_for_group([dead], ports, 2, timeout_s=30)
