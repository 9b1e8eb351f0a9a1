"""The end markers of a run: each counted once, what is missing named (streams.end_markers),
and ``mda run``'s collection of mda.alerts, which must not end early on a marker that came
twice (the stages are at least once)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

import orjson
import pytest

from mda.geo import Geography
from mda.mid import MidTable
from mda.model import RawLine
from mda.rules.context import RuleContext
from mda.thresholds import Thresholds
from replay.scenarios import great_lakes_demo
from streams.end_markers import EndMarkers, Marker
from streams.pipeline import DecodeStage, TrackStage
from streams.proximity import ProximityStage
from streams.runner import RunSummary, _collect
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import through_track

NAMES = TopicNames.from_settings(Settings())


def alerts_records(partitions: int, source: str = "demo") -> list[tuple[int, dict[str, Any]]]:
    """(alerts partition, message) of everything the decode, track and proximity stages put on
    mda.alerts for the demo file and its end of file, in the order they were produced."""
    geography = Geography.load()
    ctx = RuleContext(geography, MidTable.load_default())
    decode = DecodeStage(NAMES, partitions)
    track = TrackStage(NAMES, partitions, ctx, {})
    prox = ProximityStage(NAMES, partitions, geography, MidTable.load_default(), Thresholds())
    lines = great_lakes_demo().lines
    raws = [RawLine(source, i, text, 0).to_dict() for i, text in enumerate(lines, 1)]
    batches = [orjson.dumps({"lines": raws[i : i + 100]}) for i in range(0, len(raws), 100)]
    batches.append(orjson.dumps({"ctl": "eof", "run": "r", "source": source}))
    out: list[tuple[int, dict[str, Any]]] = []
    presence: dict[int, list[bytes]] = defaultdict(list)
    for _, t in through_track(decode, track, batches):
        if t.topic == NAMES.presence:
            assert t.partition is not None
            presence[t.partition].append(t.value)
        elif t.topic == NAMES.alerts:
            out.append((t.partition or 0, orjson.loads(t.value)))
    for p, values in sorted(presence.items()):
        for value in values:
            for o in prox.handle(value, p):
                out.append((o.partition or 0, orjson.loads(o.value)))
    return out


def eofs(records: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    return [(p, m) for p, m in records if m.get("ctl") == "eof"]


@pytest.mark.parametrize("partitions", [1, 2, 3])
def test_the_stages_end_markers_are_exactly_the_expected_ones(partitions: int) -> None:
    markers = EndMarkers("r", ["demo"], partitions)
    ends = eofs(alerts_records(partitions))
    assert len(ends) == 2 * partitions * partitions
    for i, (p, msg) in enumerate(ends):
        assert not markers.done
        assert markers.add(msg, p), (i, msg)
    assert markers.done
    assert markers.duplicates == 0
    assert markers.progress() == f"{len(ends)}/{len(ends)} end markers"


def test_a_marker_that_comes_twice_is_counted_once() -> None:
    ends = eofs(alerts_records(2))
    markers = EndMarkers("r", ["demo"], 2)
    # Every marker but the last, each twice: as many records as the run has markers.
    for p, msg in ends[:-1]:
        markers.add(msg, p)
        assert not markers.add(msg, p)
    assert not markers.done
    assert markers.duplicates == len(ends) - 1
    last_p, last = ends[-1]
    stage = "proximity" if last.get("stage") == "proximity" else "track"
    sender = last.get("presence_partition", last.get("reports_partition"))
    assert markers.progress() == (
        f"{len(ends) - 1}/{len(ends)} end markers; missing: {stage} partition {sender} of demo "
        f"to alerts partition {last_p} ({len(ends) - 1} came twice)"
    )
    assert markers.add(last, last_p)
    assert markers.done


def test_other_runs_sources_and_records_are_not_markers() -> None:
    markers = EndMarkers("r", ["demo"], 2)
    for p, msg in eofs(alerts_records(2, source="other")):
        assert not markers.add(msg, p)  # a source not of the run
        assert not markers.add({**msg, "run": "r2", "source": "demo"}, p)  # another run
    assert not markers.add({"ctl": "tick", "run": "r", "source": "demo"}, 0)
    assert not markers.seen
    missing = markers.expected - markers.seen
    assert Marker("demo", "proximity", 1, 0) in missing
    assert len(missing) == 8
    assert markers.progress() == "0/8 end markers; missing: " + ", ".join(
        f"{stage} partition {s} of demo to alerts partition {a}"
        for stage in ("proximity", "track")
        for s in (0, 1)
        for a in (0, 1)
    )


def test_many_missing_markers_are_summed_up_by_source() -> None:
    markers = EndMarkers("r", ["a", "b", "c"], 2)
    assert markers.progress() == "0/24 end markers; 24 missing, of sources a, b, c"


class _Record(NamedTuple):
    partition: int
    value: bytes


class _Consumer:
    """What _collect reads of a KafkaConsumer: poll() returning the given batches in turn."""

    def __init__(self, batches: list[list[tuple[int, dict[str, Any]]]]) -> None:
        self.batches = batches

    def poll(self, timeout_ms: int) -> dict[int, list[_Record]]:
        if not self.batches:
            raise AssertionError("polled after the last batch: the run never ended")
        batch = self.batches.pop(0)
        return {0: [_Record(p, orjson.dumps(m)) for p, m in batch]}


def test_mda_run_reads_on_until_the_last_marker_when_one_came_twice() -> None:
    """A track marker processed twice (at least once) made as many records as the run has
    markers before the last one came: the run ended then, without the alerts still coming,
    and with that partition's track figures counted twice."""
    records = alerts_records(2)
    alerts = [(p, m) for p, m in records if m.get("ctl") != "eof"]
    ends = eofs(records)
    track_ends = [(p, m) for p, m in ends if m.get("stage") != "proximity"]
    again = next((p, m) for p, m in track_ends if p == 0)
    late_alert = alerts[-1]
    batches = [alerts[:-1], ends[:-1], [again], [late_alert, ends[-1]]]
    summary = RunSummary()
    _collect(_Consumer(batches), summary, EndMarkers("r", ["demo"], 2), [], 60.0)  # type: ignore[arg-type]
    assert len(summary.alerts) == len(alerts)
    assert summary.alerts[-1] == late_alert[1]
    # The track figures: one marker per track partition (the copy on alerts partition 0).
    expected_reports = sum(m["track"]["reports"] for p, m in track_ends if p == 0)
    assert expected_reports > 0
    assert summary.reports == expected_reports
    assert summary.lines == len(great_lakes_demo().lines)
