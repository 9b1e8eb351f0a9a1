"""The watch-floor page served by every worker: ``http://HOST:PORT/watch/``.

What the page gets, all from this module:

- ``/watch/`` the page (``streams/static/``: HTML, JS, CSS; no external resources) and
  ``/watch/basemap.json`` — Natural Earth land, lakes, rivers and borders shipped in the repo
  (``scripts/build_basemap.py``), so the map needs no internet tiles.
- ``/watch/overlays.json``: the zones and the maritime boundary the rules use (defaults +
  ``MDA_ZONES`` + reference facilities).
- ``/watch/alerts``: the alert list; ``/watch/alerts/{id}``: one alert's state, evidence and
  evidence track; ``/watch/events``: server-sent events, one per alert-state change, so the
  list updates live; ``POST /watch/alerts/{id}/actions``: a watch officer's ack, assign, note,
  close or reopen, validated here and sent to ``mda.alert-actions`` (the lifecycle applies it
  and its new state comes back through ``/watch/events``).
- Vessels come from ``/vessels?bbox=…`` (``streams.web``).

Every worker shows every alert: :class:`AlertFeed` reads all partitions of the compacted
``mda.alert-state`` topic, ``mda.alerts`` (positions for the evidence tracks) and
``mda.alert-actions.rejected`` with a group-less consumer from the beginning, into an
:class:`mda.board.AlertBoard`. Vessels are the worker's own partitions (see ``/vessels``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web as aioweb
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.web import Request, Response, View

from mda.board import AlertBoard, Change, overlays_geojson
from mda.lifecycle import ActionRejected, action_from_dict
from streams.alert_topics import AlertTopicNames, partition_for_alert
from streams.app import app, settings
from streams.topics import TopicNames

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
#: Events queued per open page before it is told to reload (a page that stopped reading).
QUEUE_EVENTS = 1000
#: A comment line on an idle event stream this often keeps proxies from closing it.
KEEPALIVE_S = 15.0
#: Actions the page may send (the lifecycle validates them again).
_PAGE_FIELDS = frozenset({"action", "by", "assignee", "text"})

names = TopicNames.from_settings(settings)
alert_names = AlertTopicNames.from_settings(settings)
actions_topic = app.topic(alert_names.actions, partitions=settings.partitions)

Event = tuple[str, dict[str, Any]]


class AlertFeed:
    """The board and the pages listening to it (one asyncio queue per open page)."""

    def __init__(self) -> None:
        self.board = AlertBoard()
        self.subscribers: set[asyncio.Queue[Event | None]] = set()
        self.ready = asyncio.Event()  # set once the topics were read up to their end

    def subscribe(self) -> asyncio.Queue[Event | None]:
        q: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=QUEUE_EVENTS)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event | None]) -> None:
        self.subscribers.discard(q)

    def publish(self, event: Event) -> None:
        for q in list(self.subscribers):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                # The page stopped reading: drop what it missed, tell it to reload.
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(("reload", {}))

    def close_all(self) -> None:
        """End every open event stream (the worker is stopping)."""
        for q in list(self.subscribers):
            while not q.empty():
                q.get_nowait()
            q.put_nowait(None)

    def handle(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """One record of the three topics → the board (and an event for the pages)."""
        is_state = topic == alert_names.state
        if is_state and key is None:
            return
        doc: Any = None  # None: a tombstone (or an empty record)
        if value is not None:
            try:
                doc = orjson.loads(value)
            except orjson.JSONDecodeError:
                doc = value  # not an object: ignored below
        if doc is not None and not isinstance(doc, dict):
            self.board.ignored += 1
        elif is_state:
            assert key is not None
            change = self.board.apply_state(key.decode("utf-8", errors="replace"), doc)
            if change is not None:
                self.publish(_change_event(change, self.board.counts()))
        elif doc is None:
            return
        elif topic == alert_names.rejected_actions:
            self.publish(("rejected", _rejection_event(doc)))
        else:
            alert_id = self.board.apply_message(doc)
            if alert_id is not None and alert_id in self.board.states:
                self.publish(("track", {"alert_id": alert_id}))

    async def run(self, bootstrap: str) -> None:
        """Read the topics for ever (reconnecting as aiokafka does)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="mda-watch",
        )
        await consumer.start()
        self.board = AlertBoard()  # a restart reads everything again
        self.ready.clear()
        try:
            tps = await _assign_all(
                consumer, (alert_names.state, names.alerts, alert_names.rejected_actions)
            )
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                for tp, records in batches.items():
                    for rec in records:
                        self.handle(tp.topic, rec.key, rec.value)
                if not self.ready.is_set() and await _caught_up(consumer, ends):
                    self.ready.set()
                    log.info("watch page: %d alerts on the board", len(self.board))
                    self.publish(("reload", {}))
        finally:
            await consumer.stop()


async def _caught_up(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Whether every partition was read up to the end offset it had when reading started."""
    for tp, end in ends.items():
        if int(await consumer.position(tp)) < end:
            return False
    return True


async def _assign_all(consumer: AIOKafkaConsumer, topics: tuple[str, ...]) -> list[TopicPartition]:
    """Every partition of ``topics`` (created by the worker before it starts)."""
    for _ in range(60):
        await consumer.topics()  # refreshes the metadata
        parts = {t: consumer.partitions_for_topic(t) for t in topics}
        if all(parts.values()):
            tps = [TopicPartition(t, p) for t, ps in parts.items() for p in sorted(ps or ())]
            consumer.assign(tps)
            return tps
        await asyncio.sleep(1.0)
    raise RuntimeError(f"watch page: topics {topics} not found")


def _change_event(change: Change, counts: dict[str, int]) -> Event:
    if change.kind == "removed":
        return ("removed", {"alert_id": change.alert_id, "counts": counts})
    return ("alert", {"row": change.entry, "counts": counts})


def _rejection_event(doc: dict[str, Any]) -> dict[str, Any]:
    raw = doc.get("raw")
    action_id = None
    if isinstance(raw, str):
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(raw)
            if isinstance(parsed, dict):
                action_id = parsed.get("action_id")
    return {"action_id": action_id, "reason": doc.get("reason"), "detail": doc.get("detail")}


feed = AlertFeed()


@app.task
async def _read_alerts() -> None:
    assert settings.kafka_bootstrap is not None
    while True:
        try:
            await feed.run(settings.kafka_bootstrap)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watch page: alert feed failed; retrying in 5 s")
            await asyncio.sleep(5.0)


@app.on_before_shutdown.connect
async def _close_pages(app: Any, **kwargs: Any) -> None:
    feed.close_all()


@cache
def _static(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()


@cache
def _overlays_gz() -> bytes:
    from streams import agents  # the geography of the rules (agents imports this module)

    _, geography = agents._reference_and_geography()
    return gzip.compress(orjson.dumps(overlays_geojson(geography)), mtime=0)


_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def _text(body: bytes, content_type: str) -> Response:
    return aioweb.Response(  # type: ignore[return-value]
        body=body, content_type=content_type, charset="utf-8", headers={"Cache-Control": "no-cache"}
    )


def _gz_json(body: bytes) -> Response:
    return aioweb.Response(  # type: ignore[return-value]
        body=body,
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Cache-Control": "max-age=3600",
        },
    )


@app.page("/")
async def root(self: View, request: Request) -> Response:
    return aioweb.Response(status=302, headers={"Location": "/watch/"})  # type: ignore[return-value]


@app.page("/watch/")
async def page(self: View, request: Request) -> Response:
    return _text(_static("index.html"), "text/html")


@app.page("/watch/static/{name}")
async def static(self: View, request: Request, name: str) -> Response:
    suffix = Path(name).suffix
    if suffix not in _TYPES or "/" in name or name.startswith("."):
        return self.json({"error": "not found"}, status=404)
    try:
        body = _static(name)
    except FileNotFoundError:
        return self.json({"error": "not found"}, status=404)
    return _text(body, _TYPES[suffix])


@app.page("/watch/basemap.json")
async def basemap(self: View, request: Request) -> Response:
    return _gz_json(_static("basemap.json.gz"))


@app.page("/watch/overlays.json")
async def overlays(self: View, request: Request) -> Response:
    return _gz_json(await asyncio.to_thread(_overlays_gz))


@app.page("/watch/alerts")
async def alerts(self: View, request: Request) -> Response:
    include_closed = request.query.get("closed", "1") != "0"
    return self.json(
        {
            "ready": feed.ready.is_set(),
            "counts": feed.board.counts(),
            "alerts": feed.board.rows(include_closed),
        }
    )


@app.page("/watch/alerts/{alert_id}")
async def alert(self: View, request: Request, alert_id: str) -> Response:
    detail = feed.board.detail(alert_id)
    if detail is None:
        return self.json({"error": f"unknown alert {alert_id}"}, status=404)
    return self.json(detail)


def build_page_action(alert_id: str, body: Any, now: datetime) -> dict[str, Any]:
    """The ``mda.alert-action/1`` object of a page request (validated; ActionRejected)."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    unexpected = sorted(set(body) - _PAGE_FIELDS)
    if unexpected:
        raise ValueError(f"unexpected fields: {', '.join(unexpected)}")
    d: dict[str, Any] = {
        **body,
        "alert_id": alert_id,
        "at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "action_id": str(uuid.uuid4()),
    }
    return action_from_dict(d).to_dict()


@app.page("/watch/alerts/{alert_id}/actions")
class Act(View):
    async def post(self, request: Request, alert_id: str) -> Response:
        """``{"action": "ack", "by": "OOW Smith"}`` (``assignee`` for assign, ``text`` for
        note). 202 with the action sent; 400 when invalid; 404 for an alert the board lacks."""
        if alert_id not in feed.board.states:
            return self.json({"error": f"unknown alert {alert_id}"}, status=404)
        try:
            body = orjson.loads(await request.read())
            action = build_page_action(alert_id, body, datetime.now(UTC))
        except (orjson.JSONDecodeError, ValueError) as e:
            return self.json({"error": str(e)}, status=400)
        except ActionRejected as e:
            return self.json({"error": e.detail, "reason": e.reason.value}, status=400)
        await actions_topic.send(
            key=alert_id.encode(),
            value=orjson.dumps(action),
            partition=partition_for_alert(alert_id, settings.partitions),
        )
        return self.json({"action": action}, status=202)


async def _events(q: asyncio.Queue[Event | None]) -> AsyncIterator[bytes]:
    yield _sse("hello", {"counts": feed.board.counts(), "ready": feed.ready.is_set()})
    while True:
        try:
            event = await asyncio.wait_for(q.get(), KEEPALIVE_S)
        except TimeoutError:
            yield b": keepalive\n\n"
            continue
        if event is None:
            return
        yield _sse(*event)


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@app.page("/watch/events")
async def events(self: View, request: Request) -> Response:
    """Server-sent events: ``hello``, ``alert`` (a row changed), ``removed``, ``track``
    (new positions for an alert), ``rejected`` (an action the lifecycle refused), ``reload``."""
    response = aioweb.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)  # type: ignore[arg-type]
    q = feed.subscribe()
    try:
        async for chunk in _events(q):
            await response.write(chunk)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        feed.unsubscribe(q)
    return response  # type: ignore[return-value]
