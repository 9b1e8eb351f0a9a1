"""A recorded file that breaks off (a truncated or corrupt gzip) is a counted rejection, not
the end of the run: every complete line before the break is sent and processed, the break is
rejected as ``truncated_input`` at the source's end, and the next file is replayed.

Before: ``mda run cut.nmea.gz good.nmea`` died with a traceback; the last partial batch of
the cut file (up to 2,000 lines) was never sent, and ``good.nmea`` was never replayed.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import orjson
import pytest

from mda.model import raw_lines_from_wire
from replay.files import TruncatedInputError
from replay.producer import eof_record, replay_file
from streams.pipeline import DecodeStage
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import RecordingProducer
from tests.unit.test_replay_files import NOAADATA

NAMES = TopicNames.from_settings(Settings())


def cut_gzip(tmp_path: Path, fraction: float = 0.5) -> tuple[Path, list[str]]:
    """NOAADATA gzipped and cut at ``fraction`` of its bytes, and the complete lines that the
    cut leaves (read by zlib, which returns what it can without raising)."""
    data = gzip.compress(NOAADATA.read_bytes())
    cut = data[: int(len(data) * fraction)]
    path = tmp_path / "cut.ais.gz"
    path.write_bytes(cut)
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    complete = [b.decode().rstrip("\r") for b in readable.split(b"\n")[:-1]]
    return path, complete


@pytest.mark.parametrize("batch_lines", [1, 7, 2000])
def test_replay_sends_every_complete_line_then_raises(tmp_path: Path, batch_lines: int) -> None:
    path, complete = cut_gzip(tmp_path)
    assert 100 < len(complete) < 1000
    producer = RecordingProducer()
    with pytest.raises(TruncatedInputError) as exc:
        replay_file(producer, "raw", path, "cut", speed=None, batch_lines=batch_lines)  # type: ignore[arg-type]
    sent = [ln.text for v in producer.values for ln in raw_lines_from_wire(orjson.loads(v))]
    # The last, partial batch too (with 2,000 lines a batch, that is every line).
    assert sent == complete
    assert exc.value.lines_read == len(complete)


def test_replay_of_a_whole_file_raises_nothing(tmp_path: Path) -> None:
    path = tmp_path / "whole.ais.gz"
    path.write_bytes(gzip.compress(NOAADATA.read_bytes()))
    assert (
        replay_file(RecordingProducer(), "raw", path, "whole", speed=None, batch_lines=500) == 1001
    )  # type: ignore[arg-type]


def _break(tmp_path: Path) -> TruncatedInputError:
    path, _ = cut_gzip(tmp_path)
    with pytest.raises(TruncatedInputError) as exc:
        replay_file(RecordingProducer(), "raw", path, "cut", speed=None, batch_lines=500)  # type: ignore[arg-type]
    return exc.value


def test_the_decode_stage_rejects_the_break_at_the_source_end(tmp_path: Path) -> None:
    broken = _break(tmp_path)
    stage = DecodeStage(NAMES, 2)
    outs = stage.handle(eof_record("cut", "run-1", broken))
    rejected = [
        r for o in outs if o.topic == NAMES.rejected for r in orjson.loads(o.value)["rejects"]
    ]
    assert rejected == [
        {
            "reason": "truncated_input",
            "detail": broken.detail,
            "source": "cut",
            "line_no": broken.lines_read + 1,
            "raw": "",
            "event_ms": None,
        }
    ]
    assert "stopped after" in broken.detail and "cut.ais.gz" in broken.detail
    # Counted with the source's rejects, which the end marker carries to the run's summary.
    ends = [orjson.loads(o.value) for o in outs if o.topic == NAMES.reports]
    assert len(ends) == 2
    assert all(e["decode"]["rejected"] == {"truncated_input": 1} for e in ends)
    assert [r.reason for r in stage.last_rejects] == ["truncated_input"]


def test_a_whole_source_ends_without_a_reject() -> None:
    outs = DecodeStage(NAMES, 2).handle(eof_record("whole", "run-1"))
    assert [o.topic for o in outs] == [NAMES.reports, NAMES.reports]
    assert orjson.loads(outs[0].value)["decode"]["rejected"] == {}
    assert "truncated" not in orjson.loads(eof_record("whole", "run-1"))


@pytest.mark.parametrize("command", ["run", "replay"])
def test_inputs_that_cannot_be_read_stop_the_command_before_it_starts(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file, a directory and an unreadable file are named, each with why, and
    nothing starts (exit 2). Before: a directory gave a traceback after the broker and the
    worker had started."""
    from streams.cli import main

    good = tmp_path / "good.nmea"
    good.write_text("!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\n")
    locked = tmp_path / "locked.nmea"
    locked.write_text("x\n")
    locked.chmod(0)
    readable_anyway = os.access(locked, os.R_OK)  # (root reads it all the same)
    args = [command, str(good), str(tmp_path / "nope.nmea"), str(tmp_path), str(locked)]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nope.nmea'}: no such file" in err
    assert f"{tmp_path}: not a file" in err
    assert str(good) not in err
    assert (f"{locked}: Permission denied" in err) != readable_anyway
