"""``mda alerts …``: the watch officer's command line.

- ``tail``: follow an alert topic (an audience's ``mda.alerts.<A>``, or every rule message on
  ``mda.alerts``), filtered; a colour table, or JSON lines with ``--json``.
- ``ack | assign | note | close | reopen ALERT_ID``: send a validated action to
  ``mda.alert-actions`` and wait for the lifecycle's answer (the new state, or the rejection).
- ``show ALERT_ID``: the alert's current state from the compacted ``mda.alert-state``.

Consumers use manual partition assignment (no consumer group: nothing to join, nothing to
commit), so every officer's tail is independent and starts at once.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mda.alerts import RULES, SEVERITIES
from mda.lifecycle import ACTIONS, Action, ActionRejected, action_from_dict
from streams.alert_table import HEADER, format_row
from streams.alert_topics import AlertTopicNames, partition_for_alert
from streams.settings import Settings


@dataclass(frozen=True)
class Filters:
    """What ``tail`` shows; every given filter must match. ``severity`` is a minimum."""

    rules: frozenset[str] = frozenset()
    severity: str | None = None
    zone: str | None = None
    jurisdiction: str | None = None
    mmsi: int | None = None

    def match(self, a: dict[str, Any]) -> bool:
        if self.rules and a.get("rule") not in self.rules:
            return False
        if self.severity is not None:
            sev = a.get("severity")
            if sev not in SEVERITIES or SEVERITIES.index(sev) < SEVERITIES.index(self.severity):
                return False
        if self.zone is not None and a.get("zone_id") != self.zone:
            return False
        if self.jurisdiction is not None and a.get("jurisdiction") != self.jurisdiction:
            return False
        return self.mmsi is None or self.mmsi in (a.get("mmsi"), a.get("other_mmsi"))


#: How long ``mda alerts`` tries to reach the broker before saying it cannot (kafka-python's
#: default, 30 s, kept a watch officer waiting that long to learn the broker is down).
BOOTSTRAP_TIMEOUT_MS = 10_000


def _consumer(bootstrap: str) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=200,
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
    )


def _partitions(consumer: KafkaConsumer, topic: str, timeout_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return sorted(parts)
        if time.monotonic() > deadline:
            raise SystemExit(f"mda alerts: no topic {topic} on the broker")
        time.sleep(0.2)


def follow(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool,
    idle_timeout_s: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Alert messages of ``topic`` as they arrive (control records skipped)."""
    consumer = _consumer(bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in _partitions(consumer, topic)]
        consumer.assign(tps)
        if from_beginning:
            consumer.seek_to_beginning(*tps)
        else:
            consumer.seek_to_end(*tps)
        last = time.monotonic()
        while idle_timeout_s is None or time.monotonic() - last < idle_timeout_s:
            for records in consumer.poll(timeout_ms=200).values():
                for rec in records:
                    last = time.monotonic()
                    if rec.value is None:
                        continue  # a tombstone (compacted topics)
                    msg = orjson.loads(rec.value)
                    if isinstance(msg, dict) and "ctl" not in msg:
                        yield msg
    finally:
        consumer.close()


def tail(
    bootstrap: str,
    topic: str,
    filters: Filters,
    out: TextIO,
    *,
    as_json: bool = False,
    colour: bool = False,
    from_beginning: bool = False,
    limit: int | None = None,
    idle_timeout_s: float | None = None,
) -> int:
    """Print matching alerts until interrupted (or ``limit`` shown / idle); returns the count."""
    shown = 0
    if not as_json:
        print(HEADER, file=out, flush=True)
    for a in follow(bootstrap, topic, from_beginning=from_beginning, idle_timeout_s=idle_timeout_s):
        if not filters.match(a):
            continue
        line = orjson.dumps(a).decode() if as_json else format_row(a, colour)
        print(line, file=out, flush=True)
        shown += 1
        if limit is not None and shown >= limit:
            break
    return shown


def _end_offset(consumer: KafkaConsumer, tp: TopicPartition) -> int:
    return int(consumer.end_offsets([tp])[tp])


def send_action(
    bootstrap: str, names: AlertTopicNames, action: Action, wait_s: float
) -> dict[str, Any] | None:
    """Send an action; with ``wait_s`` > 0, return the lifecycle's answer.

    The answer is ``{"state": …}`` when the action was applied (found by its action_id in
    the alert's audit trail on ``mda.alert-state``), ``{"rejected": …}`` when the lifecycle
    rejected it; None when nothing came back in time (no worker running?).
    """
    consumer = _consumer(bootstrap)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    try:
        n = len(_partitions(consumer, names.actions))
        p = partition_for_alert(action.alert_id, n)
        state_tp = TopicPartition(names.state, p)
        rejected_tp = TopicPartition(names.rejected_actions, 0)
        watch = [state_tp, rejected_tp]
        consumer.assign(watch)
        for tp in watch:
            consumer.seek(tp, _end_offset(consumer, tp))
        value = orjson.dumps(action.to_dict())
        producer.send(names.actions, key=action.alert_id.encode(), value=value, partition=p)
        producer.flush()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                for rec in records:
                    if rec.value is None:
                        continue  # a retention tombstone on mda.alert-state
                    msg = orjson.loads(rec.value)
                    if tp == state_tp and any(
                        e.get("action_id") == action.action_id for e in msg.get("audit", ())
                    ):
                        return {"state": msg}
                    if tp == rejected_tp and action.action_id in msg.get("raw", ""):
                        return {"rejected": msg}
        return None
    finally:
        producer.close()
        consumer.close()


def current_state(bootstrap: str, names: AlertTopicNames, alert_id: str) -> dict[str, Any] | None:
    """The latest ``mda.alert-state`` record of ``alert_id``.

    None when there is none, or when the latest is a tombstone (closed longer than the
    retention, ``MDA_ALERT_RETENTION_S``, and forgotten).
    """
    consumer = _consumer(bootstrap)
    try:
        n = len(_partitions(consumer, names.state))
        tp = TopicPartition(names.state, partition_for_alert(alert_id, n))
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = _end_offset(consumer, tp)
        found: dict[str, Any] | None = None
        key = alert_id.encode()
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    if rec.key == key:
                        found = None if rec.value is None else orjson.loads(rec.value)
            # The embedded broker (Tansu) reports a partition's end as its last batch's base
            # offset + 1 (streams.admin.seal_changelogs); a fetch's high watermark is exact.
            end = max(end, consumer.highwater(tp) or 0)
        return found
    finally:
        consumer.close()


def format_state(s: dict[str, Any]) -> str:
    m = s["message"]
    lines = [
        f"{s['alert_id']}  {m['rule']}  {m['severity']}  {s['status'].upper()}",
        f"  vessel      {m['mmsi']} {m.get('vessel_name') or ''} flag {m.get('flag') or '-'}",
        f"  summary     {m['summary']}",
        f"  opened      {s['opened_at']}   last message {m['event_time']} ({m['status']})",
        f"  where       {m['lat']}, {m['lon']}  zone {m.get('zone_id') or '-'}  "
        f"jurisdiction {m['jurisdiction']}  releasable to {', '.join(m['releasability'])}",
        f"  ack         {s.get('acknowledged_by') or '-'} {s.get('acknowledged_at') or ''}",
        f"  assignee    {s.get('assignee') or '-'}",
        f"  messages    {s['forwarded']} forwarded, {s['suppressed']} repeats suppressed, "
        f"{s['duplicates']} duplicates dropped",
        f"  evidence    {orjson.dumps(m['evidence']).decode()}",
        f"  thresholds  {orjson.dumps(m['thresholds']).decode()}",
    ]
    if s.get("closed_at"):
        lines.append(f"  closed      {s['closed_at']} by {s['closed_by']}")
    lines += [f"  note        {n['at']} {n['by']}: {n['text']}" for n in s.get("notes", [])]
    lines.append("  audit")
    lines += [
        f"    {e['at']}  {e['by']:<16} {e['action']:<7} {e['detail']}" for e in s.get("audit", [])
    ]
    return "\n".join(lines)


def _bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap:
        raise SystemExit("mda alerts needs MDA_KAFKA_BOOTSTRAP (the broker the workers use)")
    return settings.kafka_bootstrap


def _csv(text: str) -> frozenset[str]:
    values = frozenset(v.strip().upper() for v in text.split(",") if v.strip())
    unknown = values - set(RULES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown rule(s): {', '.join(sorted(unknown))}")
    return values


def cmd_tail(args: argparse.Namespace) -> int:
    settings = Settings()
    names = AlertTopicNames.from_settings(settings)
    topic = names.audience(args.audience) if args.audience else names.alerts
    filters = Filters(
        rules=args.rule or frozenset(),
        severity=args.severity,
        zone=args.zone,
        jurisdiction=args.jurisdiction,
        mmsi=args.mmsi,
    )
    colour = sys.stdout.isatty() and not args.no_colour and "NO_COLOR" not in os.environ
    with contextlib.suppress(KeyboardInterrupt):
        tail(
            _bootstrap(settings),
            topic,
            filters,
            sys.stdout,
            as_json=args.json,
            colour=colour,
            from_beginning=args.from_beginning,
            limit=args.limit,
            idle_timeout_s=args.idle_timeout,
        )
    return 0


def build_action(args: argparse.Namespace, now: datetime | None = None) -> Action:
    """The validated action of an ``ack|assign|note|close|reopen`` command line."""
    at = (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    d: dict[str, Any] = {
        "action": args.action,
        "alert_id": args.alert_id,
        "by": args.by,
        "at": at,
        "action_id": str(uuid.uuid4()),
    }
    if getattr(args, "assignee", None) is not None:
        d["assignee"] = args.assignee
    if getattr(args, "text", None) is not None:
        d["text"] = args.text
    return action_from_dict(d)


def cmd_action(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        action = build_action(args)
    except ActionRejected as exc:
        print(f"mda alerts {args.action}: {exc}", file=sys.stderr)
        return 2
    names = AlertTopicNames.from_settings(settings)
    answer = send_action(_bootstrap(settings), names, action, 0 if args.no_wait else args.wait)
    if args.no_wait:
        print(f"sent {action.action} {action.alert_id} (action {action.action_id})")
        return 0
    if answer is None:
        print(f"sent, but no answer within {args.wait:.0f}s (is a worker running?)")
        return 3
    if "rejected" in answer:
        r = answer["rejected"]
        print(f"rejected: {r['reason']}: {r['detail']}", file=sys.stderr)
        return 1
    state = answer["state"]
    print(f"{action.action} applied to {action.alert_id} (status {state['status']})")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    settings = Settings()
    state = current_state(
        _bootstrap(settings), AlertTopicNames.from_settings(settings), args.alert_id
    )
    if state is None:
        print(f"no state for alert {args.alert_id}", file=sys.stderr)
        return 1
    print(orjson.dumps(state).decode() if args.json else format_state(state))
    return 0


def add_parser(sub: Any) -> None:
    """Register ``mda alerts`` on the top-level subcommands."""
    alerts = sub.add_parser("alerts", help="watch officer: tail, acknowledge, show alerts")
    asub = alerts.add_subparsers(dest="alerts_command", required=True)

    t = asub.add_parser("tail", help="follow alerts live (colour table, or --json)")
    t.add_argument("--audience", metavar="A", help="read mda.alerts.<A> (default: mda.alerts)")
    t.add_argument("--rule", type=_csv, metavar="R[,R]", help="only these rules")
    t.add_argument("--severity", choices=SEVERITIES, help="at least this severity")
    t.add_argument("--zone", metavar="Z", help="zone_id")
    t.add_argument("--jurisdiction", choices=("CA", "US", "BI", "INTL"))
    t.add_argument("--mmsi", type=int, metavar="M", help="either vessel of the alert")
    t.add_argument("--json", action="store_true", help="JSON lines (mda.alert/1 objects)")
    t.add_argument("--from-beginning", action="store_true", help="from the oldest retained")
    t.add_argument("--no-colour", "--no-color", action="store_true", dest="no_colour")
    t.add_argument("--limit", type=int, metavar="N", help="stop after N alerts")
    t.add_argument("--idle-timeout", type=float, metavar="S", help="stop after S s of quiet")
    t.set_defaults(func=cmd_tail)

    default_by = os.environ.get("MDA_OFFICER") or getpass.getuser()
    for name in ACTIONS:
        a = asub.add_parser(name, help=f"{name} an alert (mda.alert-actions)")
        a.add_argument("alert_id", metavar="ALERT_ID")
        a.add_argument("--by", default=default_by, help="who (default: $MDA_OFFICER or user)")
        if name == "assign":
            a.add_argument("--assignee", required=True, metavar="X")
        a.add_argument("--text", metavar="T", required=name == "note", help="note/reason")
        a.add_argument("--wait", type=float, default=15.0, metavar="S", help="answer timeout")
        a.add_argument("--no-wait", action="store_true", help="send and return")
        a.set_defaults(func=cmd_action, action=name)

    s = asub.add_parser("show", help="an alert's current state (mda.alert-state)")
    s.add_argument("alert_id", metavar="ALERT_ID")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)
