"""The ``mda`` command line: run, worker, replay, demo."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from streams.settings import Settings


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError("speed must be 'max' or a positive number")
    return value


def _workers(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("at least one worker")
    return value


def _settings_with(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "zones", None):
        overrides["zones"] = args.zones
    if getattr(args, "reference", None):
        overrides["reference_dir"] = args.reference
    return Settings(**overrides)


_FILES_HELP = (
    "recorded AIS files (NMEA, tag blocks, USCG, CSV, gzip); several are one feed, merged in "
    "event-time order"
)


def format_summary(summary: Any, files: list[Path]) -> str:
    """A readable summary for the terminal."""
    lines = [
        f"files: {', '.join(p.name for p in files)}",
        f"lines read: {summary.lines}",
        f"decoded messages: {sum(summary.decoded.values())}  by type: "
        + ", ".join(
            f"{t}:{c}" for t, c in sorted(summary.decoded.items(), key=lambda x: int(x[0]))
        ),
        f"rejected: {sum(summary.rejected.values())}  by reason: "
        + (", ".join(f"{r}:{c}" for r, c in summary.rejected.most_common()) or "-"),
        f"reports tracked: {summary.reports}  duplicates suppressed: {summary.duplicates}"
        f"  late: {summary.late}",
        # Several files are one feed: a vessel heard in several is counted once.
        f"vessels: {summary.vessels}",
    ]
    lines += [f"broken off: {detail}; the lines before were processed" for detail in summary.broken]
    by_rule = Counter(a["rule"] for a in summary.alerts if a["status"] == "open")
    lines.append(
        f"alerts: {len(summary.alerts)} messages, opened by rule: "
        + (", ".join(f"{r}:{c}" for r, c in sorted(by_rule.items())) or "-")
    )
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from streams.runner import run_files

    settings = _settings_with(args)
    if not _configuration_ok(settings):
        return 2
    try:
        summary = run_files(
            args.files,
            settings,
            alerts_out=args.alerts_out,
            speed=args.speed,
            progress=not args.quiet and sys.stderr.isatty(),
            workers=args.workers,
        )
    except (RuntimeError, TimeoutError) as exc:  # a worker that died, a run that stalled
        print(f"mda run: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(format_summary(summary, args.files))
        if args.show_alerts:
            from streams.alert_table import HEADER, format_row

            print(HEADER)
            for a in summary.alerts:
                print(format_row(a, colour=sys.stdout.isatty()))
    return 0


def _configuration_ok(settings: Settings) -> bool:
    """Check the zones, reference set, thresholds and table store before anything starts
    (each problem on stderr)."""
    from streams.preflight import configuration_problems

    problems = configuration_problems(settings)
    for problem in problems:
        print(f"mda: {problem}", file=sys.stderr)
    return not problems


def cmd_reference_load(args: argparse.Namespace) -> int:
    from streams.reference import load

    return load(args.directory, Settings(), prune=args.prune)


def cmd_worker(args: argparse.Namespace) -> int:
    from streams import worker

    if args.zones:
        os.environ["MDA_ZONES"] = str(args.zones)
    worker.main(args.faust_args)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import uuid

    from kafka.errors import KafkaError
    from tqdm import tqdm

    from replay.files import TruncatedInputError
    from replay.producer import Deliveries, feed_key, raw_producer, replay_files
    from streams.admin import ensure_topics
    from streams.topics import TopicNames, topic_specs

    settings = Settings()
    if not settings.kafka_bootstrap:
        print("mda replay needs MDA_KAFKA_BOOTSTRAP (the broker the workers use)", file=sys.stderr)
        return 2
    ensure_topics(settings.kafka_bootstrap, topic_specs(settings))
    names = TopicNames.from_settings(settings)
    producer = raw_producer(settings.kafka_bootstrap)
    deliveries = Deliveries()
    run_id = uuid.uuid4().hex[:12]
    sent = 0

    def counted(n: int) -> None:
        nonlocal sent
        sent += n
        bar.update(n)

    # SIGTERM stops like Ctrl-C: the lines already handed to the producer are delivered
    # (the default handler would exit at once and drop the producer's buffer).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stopped = failed = False
    broken: list[TruncatedInputError] = []
    try:
        with tqdm(unit=" lines", desc="replay") as bar:
            # Several files are one feed, merged in event-time order (feed_lines).
            files = [(path, args.source or path.name) for path in args.files]
            _, broken = replay_files(
                producer,
                names.raw,
                files,
                key=feed_key([source for _, source in files], run_id),
                speed=args.speed,
                batch_lines=settings.raw_batch_lines,
                on_lines=counted,
                deliveries=deliveries,
            )
        # A file that broke off was sent up to its break, and the others whole.
        for exc in broken:
            print(f"mda replay: {exc.detail}; the lines before were sent", file=sys.stderr)
    except KeyboardInterrupt:
        stopped = True
    except KafkaError as exc:  # a send that could not start (the topic unknown for a minute)
        print(f"mda replay: {type(exc).__name__}: {exc}", file=sys.stderr)
        stopped = failed = True
    finally:
        producer.flush()
        producer.close()
    delivered = f"{deliveries.delivered} delivered"
    if stopped:
        print(f"replay stopped: {sent} lines sent, {delivered} (run {run_id})", flush=True)
    else:
        print(f"replayed {len(args.files)} file(s), {sent} lines, {delivered} (run {run_id})")
    if deliveries.failed:
        print(
            f"mda replay: {deliveries.failed} lines could not be delivered to {names.raw} "
            f"({deliveries.last_error})",
            file=sys.stderr,
        )
    return 1 if failed or deliveries.failed or broken else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import demo

    if not _configuration_ok(Settings()):
        return 2
    return demo(args.port if args.watch else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mda", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="process recorded AIS files end to end, write alerts")
    run.add_argument("files", nargs="+", type=Path, metavar="FILE", help=_FILES_HELP)
    run.add_argument("--reference", type=Path, metavar="DIR", help="reference-data directory")
    run.add_argument("--zones", type=Path, metavar="FILE", help="extra zones (GeoJSON)")
    run.add_argument("--alerts-out", type=Path, metavar="PATH", help="alerts as JSON lines")
    run.add_argument("--speed", type=_speed, default=None, metavar="max|N", help="default max")
    run.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="worker processes sharing partitions",
    )
    run.add_argument("--show-alerts", action="store_true", help="print every alert")
    run.add_argument("--quiet", action="store_true", help="print nothing")
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="run a long-lived Faust worker")
    worker.add_argument("--zones", type=Path, metavar="FILE")
    worker.add_argument("faust_args", nargs=argparse.REMAINDER, help="passed to faust worker")
    worker.set_defaults(func=cmd_worker)

    replay = sub.add_parser("replay", help="put recorded files on ais.raw (long-running)")
    replay.add_argument("files", nargs="+", type=Path, metavar="FILE", help=_FILES_HELP)
    replay.add_argument("--speed", type=_speed, default=None, metavar="max|N")
    replay.add_argument("--source", help="source name (default: the file name)")
    replay.set_defaults(func=cmd_replay)

    demo = sub.add_parser("demo", help="the bundled recording and scenario, end to end")
    demo.add_argument(
        "--watch",
        action="store_true",
        help="afterwards keep the worker up and serve the watch-floor page until Ctrl-C",
    )
    demo.add_argument(
        "--port", type=int, default=6066, help="the watch-floor page's port (default 6066)"
    )
    demo.set_defaults(func=cmd_demo)

    ref = sub.add_parser("reference", help="ISPS reference data (DESIGN.md §7)")
    ref_sub = ref.add_subparsers(dest="reference_command", required=True)
    ref_load = ref_sub.add_parser(
        "load", help="validate DIR's CSVs and publish them to the compacted isps.* topics"
    )
    ref_load.add_argument("directory", type=Path, metavar="DIR")
    ref_load.add_argument(
        "--prune", action="store_true", help="also delete (tombstone) keys DIR no longer has"
    )
    ref_load.set_defaults(func=cmd_reference_load)

    from streams import alerts_cli  # the watch officer's commands: mda alerts …

    alerts_cli.add_parser(sub)
    from streams import ingest_cli  # live receivers: mda ingest udp://… | tcp://…

    ingest_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    problems = [
        f"{p}: {why}" for p in getattr(args, "files", None) or () if (why := _unreadable(p))
    ]
    if problems:
        # Before anything starts (a broker, workers), not as a traceback half way through.
        print("mda: cannot read " + "; ".join(problems), file=sys.stderr)
        sys.exit(2)
    sys.exit(_run_command(args))


def _run_command(args: argparse.Namespace) -> int:
    """The command's exit code; a broker that cannot be reached (or is lost) is one line on
    stderr and exit 1, not a traceback."""
    from kafka.errors import KafkaError

    from replay.producer import error_text

    try:
        code: int = args.func(args)
    except KafkaError as exc:
        bootstrap = os.environ.get("MDA_KAFKA_BOOTSTRAP") or "the embedded broker"
        print(f"mda {args.command}: Kafka at {bootstrap}: {error_text(exc)}", file=sys.stderr)
        return 1
    return code


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input file, or None."""
    if not path.exists():
        return "no such file"
    if not path.is_file():
        return "not a file"
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


if __name__ == "__main__":
    main()
