"""Run a batch transform against a serving container, the way SageMaker's service does.

Mini-batches are produced lazily from the files, sent by a pool of MaxConcurrentTransforms
threads over one thread-safe urllib3 connection pool, and their responses are written in
order to ``<name>.out.partial``, renamed to ``<name>.out`` when the whole file succeeded
(a failed file leaves no ``.out``, as in SageMaker). At most about two requests per thread are
in flight, so memory stays within a few MaxPayloadInMB whatever the file size.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import urllib3

from smkit.core.errors import PlatformError
from smkit.project.transform_job import TransformConfig
from smkit.transform import rates
from smkit.transform import records as rec
from smkit.transform.config import Resolved, resolve

_LINE_IN_MESSAGE = re.compile(r"\b(?:on )?line (\d+)\b")


@dataclass
class Failure:
    """A mini-batch that failed: where, and what the container said."""

    file: Path
    first_record: int
    last_record: int
    first_line: int
    last_line: int
    #: HTTP status, or None when no answer came (connection failure, or refused before sending).
    status: int | None
    message: str

    def describe(self) -> str:
        """One line naming the file, the records, the status and the container's message."""
        rec_part = (f"record {self.first_record}" if self.first_record == self.last_record
                    else f"records {self.first_record}-{self.last_record}")
        line_part = (f"line {self.first_line}" if self.first_line == self.last_line
                     else f"lines {self.first_line}-{self.last_line}")
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        return f"{self.file}: {rec_part} ({line_part}) failed, {status}: {self.message}"


@dataclass
class FileResult:
    """What happened to one input file."""

    input: Path
    #: The ``.out`` file, or None when the file failed.
    output: Path | None
    #: Input records read (a SplitType=None file counts as one).
    records: int = 0
    #: Records answered with a placeholder (keep_going).
    placeholders: int = 0
    #: Mini-batches (requests) made for the file, retries of single records not counted.
    batches: int = 0
    #: Requests sent again after no answer (a worker died) or a 5xx, as SageMaker retries.
    retries: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the .out file was written."""
        return self.output is not None


@dataclass
class TransformReport:
    """The outcome of a transform job."""

    files: dict[Path, FileResult]
    parameters: Resolved
    seconds: float
    #: What /execution-parameters answered (None when the container has no such route).
    execution_parameters: dict[str, Any] | None = None
    #: First request to last answer (over every instance of a sharded run).
    span: rates.Span = field(default_factory=rates.Span)
    #: Instances that ran (and shared the span).
    instances: int = 1
    #: Each container's start-up (docker run to a healthy /ping); empty for a running server.
    startup_s: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file has its .out and nothing failed."""
        return all(f.ok and not f.failures for f in self.files.values())

    @property
    def records(self) -> int:
        """Input records over all files."""
        return sum(f.records for f in self.files.values())

    def summary(self) -> str:
        """A few lines for the terminal: counts, rate, and each failure."""
        p = self.parameters
        good = sum(1 for f in self.files.values() if f.ok)
        lines = [
            f"{good}/{len(self.files)} files transformed: "
            f"{rates.rate_line(self.records, self.span.seconds, self.instances)}; "
            f"BatchStrategy={p.batch_strategy}, MaxPayloadInMB={p.max_payload_mb}, "
            f"MaxConcurrentTransforms={p.max_concurrent_transforms}"
        ]
        startup = rates.startup_line(self.startup_s)
        if startup is not None:
            lines.append(startup)
        for f in self.files.values():
            lines += [f"  {x.describe()}" for x in f.failures]
            if f.placeholders:
                lines.append(f"  {f.input}: {f.placeholders} placeholder records written")
            if f.retries:
                lines.append(f"  {f.input}: {f.retries} requests sent again after no answer "
                             "or a 5xx")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- HTTP


class _Client:
    """POSTs to /invocations over a shared, thread-safe urllib3 pool."""

    def __init__(self, url: str, cfg: TransformConfig, size: int) -> None:
        self.base = url.rstrip("/")
        self.pool = urllib3.PoolManager(num_pools=2, maxsize=size, block=True)
        self.cfg = cfg
        self.timeout = urllib3.Timeout(connect=10, read=cfg.timeout_s)

    def invoke(self, make_body: Callable[[], bytes | Iterator[bytes]]
               ) -> tuple[int | None, bytes, str, int]:
        """Status (None when nothing answered), body, Content-Type and retries of one
        mini-batch.

        Like SageMaker (ModelClientConfig.InvocationsMaxRetries, default 3), a request that
        gets no answer (connection refused, reset or closed: a worker died) or a 5xx is sent
        again, up to ``cfg.retries`` times; a 4xx is the data's fault and is final.
        ``make_body`` gives a fresh body for each attempt (a stream is read again).
        """
        headers = {"Content-Type": self.cfg.content_type}
        if self.cfg.accept:
            headers["Accept"] = self.cfg.accept
        attempts = 1 + self.cfg.retries
        last: tuple[int | None, bytes, str] = (None, b"", "")
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(2.0, 0.2 * 2 ** (attempt - 1)))
            body = make_body()
            try:
                r = self.pool.request(
                    "POST", self.base + "/invocations", body=body, headers=headers,
                    timeout=self.timeout, retries=False, chunked=not isinstance(body, bytes),
                )
            except urllib3.exceptions.HTTPError as e:
                last = (None, f"{type(e).__name__}: {e}".encode(), "")
                continue
            last = (r.status, r.data, r.headers.get("Content-Type", ""))
            if r.status < 500:
                return (*last, attempt)
        return (*last, attempts - 1)


def _error_message(status: int | None, body: bytes) -> str:
    """The container's ``{"error": ...}`` message, or the start of its body."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        return doc["error"]
    return text[:500] or f"HTTP {status} with an empty body"


def execution_parameters(url: str, timeout: float = 5) -> dict[str, Any] | None:
    """What ``GET /execution-parameters`` answers, or None when the container has no answer."""
    client = urllib3.PoolManager()
    try:
        r = client.request("GET", url.rstrip("/") + "/execution-parameters", timeout=timeout,
                           retries=False)
    except urllib3.exceptions.HTTPError:
        return None
    if r.status != 200:
        return None
    try:
        doc = json.loads(r.data)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def check_reachable(url: str) -> None:
    """Raise PlatformError unless ``/ping`` answers 200."""
    try:
        r = urllib3.PoolManager().request("GET", url.rstrip("/") + "/ping", timeout=5,
                                          retries=False)
    except urllib3.exceptions.HTTPError as e:
        raise PlatformError(f"nothing answers at {url}/ping ({e}); start the container or "
                            "use --image to let smkit start it") from None
    if r.status != 200:
        raise PlatformError(f"{url}/ping answered {r.status}: {_error_message(r.status, r.data)}")


# ----------------------------------------------------------------------------- progress


class _Progress:
    """Progress on stderr after a few seconds: a rich bar on a terminal, else a line a while."""

    def __init__(self, total_bytes: int, enabled: bool | None) -> None:
        self.total = max(total_bytes, 1)
        self.done = 0
        self.records = 0
        self.started = time.monotonic()
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        # Explicitly enabled: the first line comes at once; automatic: after a few seconds.
        self.last_line = self.started - (10 if enabled else 0)
        self.bar: Any = None
        self.task: Any = None

    def advance(self, nbytes: int, nrecords: int) -> None:
        self.done += nbytes
        self.records += nrecords
        now = time.monotonic()
        if self.enabled is False or (self.enabled is None and now - self.started < 3):
            return
        if self.tty:
            if self.bar is None:
                # Deferred on purpose: rich loads only when a bar is drawn on a terminal.
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                    TransferSpeedColumn,
                )

                self.bar = Progress(TextColumn("transform"), BarColumn(),
                                    TextColumn("{task.percentage:>3.0f}%"),
                                    TransferSpeedColumn(), TimeRemainingColumn(),
                                    TextColumn("{task.fields[records]} records"),
                                    console=Console(stderr=True))
                self.task = self.bar.add_task("transform", total=self.total, records=0)
                self.bar.start()
            self.bar.update(self.task, completed=self.done, records=self.records)
        elif now - self.last_line >= 10:
            self.last_line = now
            rate = self.records / (now - self.started)
            print(f"transform: {100 * self.done / self.total:.0f}% of "
                  f"{self.total / (1 << 20):.1f} MB, {self.records} records "
                  f"({rate:,.0f}/s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, records=self.records)
            self.bar.stop()


# ----------------------------------------------------------------------------- the job


@dataclass
class _Outcome:
    """A batch's result as it goes into the .out file."""

    data: bytes
    #: The failed mini-batch, or with keep_going the failed records one by one.
    failures: list[Failure] = field(default_factory=list)
    placeholders: int = 0
    #: Times a request was sent again after no answer or a 5xx.
    retries: int = 0


class _Job:
    def __init__(self, cfg: TransformConfig, client: _Client, params: Resolved) -> None:
        self.cfg = cfg
        self.client = client
        self.params = params
        self.transform = rec.input_filter(cfg)

    def fail(self, batch: rec.Batch, status: int | None, message: str) -> Failure:
        match = _LINE_IN_MESSAGE.search(message)
        if match and batch.records > 1 and not batch.whole_file:
            n = int(match.group(1))
            if 1 <= n <= batch.records:
                # The container counts lines of the request body; say which record that is.
                message += f" (line {n} of the mini-batch is record {batch.first_record + n - 1})"
        return Failure(batch.path, batch.first_record, batch.last_record, batch.first_line,
                       batch.last_line, status, message)

    def run_batch(self, batch: rec.Batch) -> _Outcome:
        """Send one mini-batch and shape its answer; never raises for a bad answer."""
        if batch.error is not None:
            return self._failed(batch, None, batch.error)
        fixed = batch.body

        def make_body() -> bytes | Iterator[bytes]:
            if fixed is not None:
                return fixed
            return batch.stream(self.transform, lines=not batch.whole_file)

        try:
            status, data, ctype, retries = self.client.invoke(make_body)
        except OSError as e:  # the input file vanished or became unreadable mid-run
            return self._failed(batch, None, f"could not read {batch.path}: {e}")
        if status != 200:
            message = _error_message(status, data) if status is not None else data.decode()
            if retries:
                message += f" (after {retries} retries)"
            outcome = self._failed(batch, status, message)
            outcome.retries += retries
            return outcome
        try:
            return _Outcome(rec.assemble(self._shape(batch, data, ctype),
                                         self.cfg.assemble_with), retries=retries)
        except (ValueError, UnicodeDecodeError) as e:
            return self._failed(batch, status, f"the response could not be processed: {e}")

    def _shape(self, batch: rec.Batch, data: bytes, ctype: str) -> bytes | list[bytes]:
        if not self.cfg.joins and self.cfg.output_path is None:
            return data
        inputs = rec.batch_inputs(batch, self.cfg) if (self.cfg.joins or batch.whole_file) \
            else None
        expected = len(inputs) if inputs is not None else batch.records
        outputs = rec.split_outputs(data, ctype, expected)
        return rec.shape_outputs(self.cfg, inputs, outputs, ctype)

    def _failed(self, batch: rec.Batch, status: int | None, message: str) -> _Outcome:
        failure = self.fail(batch, status, message)
        if not self.cfg.keep_going:
            return _Outcome(b"", [failure])
        if batch.records == 1 or batch.whole_file:
            return _Outcome(rec.assemble([rec.placeholder(self.cfg, status, message)],
                                         self.cfg.assemble_with), [failure], batch.records)
        if status is None:
            # No answer at all (the container is gone): retrying record by record would
            # only repeat the connection failure, so every record gets a placeholder.
            filler = [rec.placeholder(self.cfg, status, message)] * batch.records
            return _Outcome(rec.assemble(filler, self.cfg.assemble_with), [failure],
                            batch.records)
        # Find the bad records: resend the batch one record at a time.
        pieces: list[bytes] = []
        bad: list[Failure] = []
        retries = 0
        for line in rec.iter_lines(batch.path, batch.start, batch.end, batch.first_record,
                                   batch.first_line):
            one = rec.Batch(batch.path, batch.file_index, line.number, line.number, line.line,
                            line.line, line.start, line.end, None)
            try:
                data = self.transform(line.data) if self.transform else line.data
            except ValueError as e:
                one.error = f"InputFilter failed: {e}"
            else:
                one.body = data + b"\n"
            single = self.run_batch(one)
            bad += single.failures
            retries += single.retries
            pieces.append(single.data[:-1] if self.cfg.assemble_with == "Line"
                          and single.data.endswith(b"\n") else single.data)
        # Report the records that failed on their own (the batch's failure only if none did).
        return _Outcome(rec.assemble(pieces, self.cfg.assemble_with), bad or [failure],
                        len(bad), retries)


@dataclass
class _FileState:
    result: FileResult
    out_path: Path
    partial: Path
    handle: IO[bytes] | None = None
    failed: bool = False


def run_transform(cfg: TransformConfig, endpoint_url: str) -> TransformReport:
    """Transform every input file through the container at ``endpoint_url``.

    Asks ``/execution-parameters`` for what the request leaves open, like SageMaker.
    A failed mini-batch fails its file (no ``.out``), unless ``keep_going`` writes
    placeholders for the failed records; other files carry on either way.
    """
    cfg.validate()
    check_reachable(endpoint_url)
    started = time.monotonic()
    answered = execution_parameters(endpoint_url)
    params = resolve(cfg, answered)
    files = cfg.input_files()
    client = _Client(endpoint_url, cfg, params.max_concurrent_transforms)
    job = _Job(cfg, client, params)
    states: dict[int, _FileState] = {}
    for i, (path, rel) in enumerate(files):
        out = Path(cfg.output_dir) / rel
        states[i] = _FileState(FileResult(path, None), out, out.with_name(out.name + ".partial"))
    progress = _Progress(sum(p.stat().st_size for p, _ in files), cfg.progress)
    span = rates.Span()

    def produce() -> Iterator[rec.Batch | rec.FileEnd]:
        for i, (path, _) in enumerate(files):
            yield from rec.iter_batches(path, i, cfg, params, job.transform,
                                        stop=_stopper(states[i]))

    def consume(item: rec.Batch | rec.FileEnd, outcome: _Outcome | None) -> None:
        state = states[item.file_index]
        if isinstance(item, rec.FileEnd):
            _finish(state, item)
            return
        assert outcome is not None
        span.answer()
        progress.advance(item.end - item.start, item.records)
        state.result.batches += 1
        state.result.retries += outcome.retries
        if state.failed:
            return
        if outcome.failures:
            state.result.failures += outcome.failures
            state.result.placeholders += outcome.placeholders
            if not cfg.keep_going:
                state.failed = True
                return
        if state.handle is None:
            state.partial.parent.mkdir(parents=True, exist_ok=True)
            state.handle = open(state.partial, "wb")  # noqa: SIM115 (closed in _finish)
        state.handle.write(outcome.data)

    window = params.max_concurrent_transforms * 2
    inflight: deque[tuple[rec.Batch | rec.FileEnd, Future[_Outcome] | None]] = deque()
    pool = ThreadPoolExecutor(params.max_concurrent_transforms,
                              thread_name_prefix="smkit-transform")
    try:
        for item in produce():
            if isinstance(item, rec.Batch):
                span.request()
            future = pool.submit(job.run_batch, item) if isinstance(item, rec.Batch) else None
            inflight.append((item, future))
            while inflight and (len(inflight) > window or inflight[0][1] is None
                                or inflight[0][1].done()):
                head, fut = inflight.popleft()
                consume(head, fut.result() if fut is not None else None)
        while inflight:
            head, fut = inflight.popleft()
            consume(head, fut.result() if fut is not None else None)
    finally:
        # On Ctrl-C or an error: drop the queued requests, let the running ones end.
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()
        for state in states.values():
            if state.handle is not None and not state.handle.closed:
                state.handle.close()
                state.partial.unlink(missing_ok=True)
    return TransformReport({s.result.input: s.result for s in states.values()}, params,
                           time.monotonic() - started, answered, span)


def _stopper(state: _FileState) -> Callable[[], bool]:
    """A check that tells the producer to stop reading a file that already failed."""
    return lambda: state.failed


def _finish(state: _FileState, end: rec.FileEnd) -> None:
    """Close the file's output: rename it to .out when it succeeded, else remove it."""
    state.result.records = end.records
    if state.handle is not None:
        state.handle.close()
    if state.failed:
        state.partial.unlink(missing_ok=True)
        return
    if state.handle is None:  # no records: SageMaker still writes an (empty) .out
        state.partial.parent.mkdir(parents=True, exist_ok=True)
        state.partial.write_bytes(b"")
    state.partial.replace(state.out_path)
    state.result.output = state.out_path
