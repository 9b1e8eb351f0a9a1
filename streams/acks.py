"""Acknowledgements in offset order, per partition, for an agent that holds some messages back.

Faust commits a partition's offset past acknowledged messages. An agent that leaves one
message unacknowledged (to be read again by the partition's next owner) and acknowledges the
later ones is not safe: Faust's ``Consumer._new_offset`` commits past a single unacknowledged
message at the head of the uncommitted offsets, and past any while nothing has been committed
yet (faust-streaming/faust#606, open; measured on the installed version: committed 5, 5 held,
6 and 7 acknowledged → commits 8). So an agent that holds a message holds every later one of
its partition too, and acknowledges them in offset order once the held one is let go: the
commit then stops before the held message, and nothing after it is acknowledged out of turn.

Pure bookkeeping (no Faust): the agent adds each event with the hold that keeps it, if any,
lets holds go, and acknowledges what :meth:`InOrderAcks.ready` returns.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable
from typing import Generic, TypeVar

E = TypeVar("E")


class InOrderAcks(Generic[E]):
    """Per partition, the events not acknowledged yet, in the order they were processed, each
    with the hold that keeps it back (``None``: none)."""

    def __init__(self) -> None:
        self._queues: dict[int, deque[list[object]]] = defaultdict(deque)
        #: per partition, the events each hold keeps back
        self._held: dict[int, dict[Hashable, list[list[object]]]] = defaultdict(dict)

    def add(self, partition: int, event: E, hold: Hashable | None = None) -> None:
        entry: list[object] = [event, hold]
        self._queues[partition].append(entry)
        if hold is not None:
            self._held[partition].setdefault(hold, []).append(entry)

    def let_go(self, partition: int, hold: Hashable) -> None:
        """The events ``hold`` kept back on ``partition`` no longer wait for it."""
        for entry in self._held[partition].pop(hold, []):
            entry[1] = None

    def ready(self, partition: int) -> list[E]:
        """The events to acknowledge now, in order: those before the first one held."""
        queue = self._queues[partition]
        out: list[E] = []
        while queue and queue[0][1] is None:
            out.append(queue.popleft()[0])  # type: ignore[arg-type]
        return out

    def give_up_over(self, partition: int, limit: int) -> list[Hashable]:
        """Let every hold of ``partition`` go once more than ``limit`` events wait behind
        them, and return those holds: a hold whose end never comes must not stop the
        partition's commits, and keep its events in memory, for ever."""
        if self.waiting(partition) <= limit:
            return []
        holds = self.holds(partition)
        for hold in holds:
            self.let_go(partition, hold)
        return holds

    def drop(self, partition: int) -> None:
        """Forget a revoked partition: its events stay unacknowledged (its offsets are not
        committed), so its next owner reads them again."""
        self._queues.pop(partition, None)
        self._held.pop(partition, None)

    def waiting(self, partition: int) -> int:
        """Events of ``partition`` not acknowledged yet."""
        return len(self._queues.get(partition, ()))

    def holds(self, partition: int) -> list[Hashable]:
        """The holds keeping events of ``partition`` back."""
        return list(self._held.get(partition, {}))
