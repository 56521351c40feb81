"""Transform rates that mean one thing: records per second PER INSTANCE, from the first
request to the last answer, with container start-up on its own line.

A job's wall time mixes in the start-up of its containers (seconds, whatever the input) and,
with several instances, the time they run side by side. Neither says how fast one instance
transforms, which is the figure a buyer plans with (``smkit buyer plan``) and a listing
states. So every transform records a ``Span`` per instance (the moment its first request was
sent and the moment its last answer came back) and says:

- per instance: ``records / span``;
- for a job of n instances: ``records / (n x job span)``, the job span running from the
  first request on any instance to the last answer on any. An instance that finishes early
  (an uneven shard) lowers the figure, as it lowers what the job gets for its instance-hours;
- start-up: from ``docker run`` to the first healthy ``/ping``, the slowest container's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass
class Span:
    """When one instance sent its first request and got its last answer (monotonic seconds).

    ``request`` keeps the first mark, ``answer`` the last; both are safe from any thread.
    """

    first_request: float | None = None
    last_answer: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def request(self, at: float | None = None) -> None:
        """Mark a request sent (only the first one counts)."""
        now = time.monotonic() if at is None else at
        with self._lock:
            if self.first_request is None or now < self.first_request:
                self.first_request = now

    def answer(self, at: float | None = None) -> None:
        """Mark an answer received (only the last one counts)."""
        now = time.monotonic() if at is None else at
        with self._lock:
            if self.last_answer is None or now > self.last_answer:
                self.last_answer = now

    @property
    def seconds(self) -> float:
        """First request to last answer; 0 when nothing was sent or answered."""
        if self.first_request is None or self.last_answer is None:
            return 0.0
        return max(0.0, self.last_answer - self.first_request)


def union(spans: Iterable[Span]) -> Span:
    """The span of a job: the earliest first request to the latest last answer."""
    out = Span()
    for s in spans:
        if s.first_request is not None:
            out.request(s.first_request)
        if s.last_answer is not None:
            out.answer(s.last_answer)
    return out


def per_instance(records: int, seconds: float, instances: int = 1) -> float:
    """Records per second per instance: ``records / (instances x seconds)`` (0 when no time
    passed)."""
    if seconds <= 0 or instances < 1:
        return 0.0
    return records / (instances * seconds)


def rate_line(records: int, seconds: float, instances: int = 1) -> str:
    """``13,158 records/s per instance (50,000 records, 3.8 s from first request to last
    answer)``, with the job's total when it ran on several instances."""
    rate = per_instance(records, seconds, instances)
    line = (f"{rate:,.0f} records/s per instance ({records:,} records, {seconds:.1f} s from "
            "first request to last answer")
    if instances > 1:
        line += f", {instances} instances, {rate * instances:,.0f} records/s in all"
    return line + ")"


def startup_line(seconds: Sequence[float]) -> str | None:
    """``container start-up: 1.4 s`` (the slowest of several), or None when none was
    timed (a server that was already running)."""
    if not seconds:
        return None
    slowest = max(seconds)
    if len(seconds) == 1:
        return f"container start-up: {slowest:.1f} s (before the first request, not counted above)"
    return (f"container start-up: {slowest:.1f} s, the slowest of {len(seconds)} (before the "
            "first request, not counted above)")
