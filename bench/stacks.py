"""Summarise py-spy collapsed stacks (``py-spy record --format raw``, or ``bench.run --py-spy``).

    python -m bench.stacks DIR/d0-w0.txt [--top 40] [--idle]

Prints, per function (``name (file)``), the share of samples in which it appears anywhere on
the stack (inclusive) and on top (self). Samples whose top frame is the event loop waiting
(``select``/``epoll``) count as idle and are left out of the shares unless ``--idle``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>[^ ]+) \((?P<file>[^:)]+)(?::\d+)?\)$")
_IDLE = ("select (selectors.py", "poll (selectors.py", "_run_once (asyncio/base_events.py")


def _key(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    file = m.group("file")
    parts = file.split("/")
    for anchor in ("site-packages", "python3.11"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1 :]
            break
    else:
        parts = parts[-2:]
    return f"{m.group('name')} ({'/'.join(parts)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--idle", action="store_true", help="count idle samples in the total")
    args = ap.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = idle = 0
    for path in args.files:
        for line in path.read_text().splitlines():
            stack, _, count_s = line.rpartition(" ")
            if not stack or not count_s.isdigit():
                continue
            count = int(count_s)
            frames = [_key(f) for f in stack.split(";")]
            if frames and any(frames[-1].startswith(i) for i in _IDLE) and not args.idle:
                idle += count
                continue
            total += count
            for k in set(frames):
                inclusive[k] += count
            if frames:
                own[frames[-1]] += count
    print(f"{total} busy samples, {idle} idle ({idle / max(1, total + idle):.0%} of all)")
    print(f"{'inclusive':>9} {'self':>6}  function")
    for k, c in inclusive.most_common(args.top):
        print(f"{c / total:9.1%} {own[k] / total:6.1%}  {k}")
    print("\ntop self:")
    for k, c in own.most_common(args.top // 2):
        print(f"{inclusive[k] / total:9.1%} {c / total:6.1%}  {k}")


if __name__ == "__main__":
    main()
