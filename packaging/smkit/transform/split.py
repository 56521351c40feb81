"""``--split``: cut large inputs into parts at record boundaries, so every instance gets work,
and join the parts' outputs back into what one instance would have written.

Batch transform gives each input object to one instance (``shard``), so one large file on n
instances leaves n - 1 of them idle. With ``--split``, a file is cut into parts whose sizes
follow the instance count (``part_counts``); each part is a run of whole records, so the
container sees the same records, and a part's ``.out`` holds their outputs in order. Joining
the parts' outputs in input order gives the unsplit file's ``<name>.out`` byte for byte, as
long as a response ends where its records end (AssembleWith=Line with responses that do not
end in a newline, which is what the server writes; or AssembleWith=None with responses that
do): mini-batches never cross a part, and a cut is only ever a record boundary.

Where a record ends:

- SplitType=Line (any text type) and JSON Lines: after a newline, as SageMaker splits them.
- CSV with SplitType=None: the server reads the whole part as CSV, where a quoted field may
  hold a newline. A newline ends a record only outside quotes. A window around each cut is
  walked from both possible states (inside or outside quotes) by RFC 4180's rules (a quote
  opens a field only at its start, and closes it only before a comma, a line end or the end
  of the file); when only one state reads the window as CSV (or the window starts at a
  known boundary, or reaches the end of the file), its first line end after the cut is the
  boundary. Quotes RFC 4180 does not allow send the question to Python's ``csv`` reader,
  reading from the last known boundary. So does a window with no quote at all within
  MAX_WINDOW of the cut, for a local file (``exact``); in an S3 object, which is not to be
  downloaded, such a cut is taken as outside quotes: a quoted field would have to run for
  more than MAX_WINDOW without a quote.

Everything here works on a ``Read`` (bytes of a byte range), so the same code finds the cuts
in a local file and, by ranged GETs, in an S3 object (``smkit.buyer.s3split``). Not
splittable: one JSON document (SplitType=None with application/json) and binary types such as
application/x-npy; ``check_splittable`` refuses them.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import smkit_contract.content_types as ct

from smkit.core.errors import UserError
from smkit.project.transform_job import TransformJob
from smkit.transform.records import CHUNK
from smkit.transform.runner import Failure, FileResult, TransformReport

#: bytes [start, end) of the input.
Read = Callable[[int, int], bytes]

#: How far the first window reaches on each side of a cut, and the farthest it reaches.
WINDOW = 64 * 1024
MAX_WINDOW = 1 << 20
#: What a part's name adds to its file's name (``data.csv.smkit-part-00001``); its output is
#: ``data.csv.smkit-part-00001.out``. Zero-padded, so parts sort in input order.
PART_MARK = ".smkit-part-"


def check_splittable(job: TransformJob) -> None:
    """Refuse ``--split`` for inputs that have no record boundaries to cut at (UserError)."""
    media = job.media_type
    if media == ct.NPY:
        raise UserError(f"--split cannot cut {media} input (binary, no record boundaries); "
                        "drop --split, or split the array into several files yourself")
    if job.split_type == "None" and media not in (ct.CSV, ct.JSONLINES):
        what = "one JSON document" if media == ct.JSON else f"{media} input"
        raise UserError(
            f"--split cannot cut {what} with SplitType=None (each file is one request); drop "
            "--split, or use --split-type Line when every line is a record")


def quoted_records(job: TransformJob) -> bool:
    """True when a newline inside CSV quotes does not end a record (CSV, SplitType=None)."""
    return job.media_type == ct.CSV and job.split_type == "None"


# ----------------------------------------------------------------------------- boundaries


def record_end(read: Read, size: int, cut: int, *, quoted: bool, known: int = 0,
               exact: bool = True) -> int:
    """The first record boundary at or after ``cut`` (an offset just past the newline that
    ends a record; ``size`` when no record ends after ``cut``).

    ``known`` is a boundary at or before ``cut`` (a record starts there), where the csv
    reader starts when the window near the cut cannot tell quotes apart. With ``exact``
    False (an S3 object, read by ranged GETs), a window with no quote within MAX_WINDOW of
    the cut is taken as outside quotes instead of reading from ``known``.
    """
    if cut <= known:
        return known
    if cut >= size:
        return size
    if not quoted:
        return _newline_end(read, size, cut)
    return _quoted_end(read, size, cut, known, exact)


def _newline_end(read: Read, size: int, cut: int) -> int:
    """Just past the first newline at or after ``cut - 1``."""
    pos, step = cut - 1, WINDOW
    while pos < size:
        chunk = read(pos, min(size, pos + step))
        if not chunk:
            break
        found = chunk.find(b"\n")
        if found >= 0:
            return pos + found + 1
        pos += len(chunk)
        step = min(step * 2, MAX_WINDOW)
    return size


_QUOTE_OR_NEWLINE = re.compile(rb'["\n]')
#: What may follow a closing quote in RFC 4180 CSV; what may precede an opening one.
_AFTER_CLOSE = (b",", b"\n", b"\r")
_BEFORE_OPEN = b",\n"


def walk_csv(data: bytes, inside: bool, at_eof: bool, after: int = 0) -> int | None:
    """Read ``data`` as RFC 4180 CSV starting inside or outside a quoted field.

    Returns the offset just past the first newline at or after ``after - 1`` that ends a
    record, ``len(data) + 1`` when the bytes read as CSV but no such record end is in them,
    and None when they cannot be CSV from that state. With ``at_eof`` the data ends the
    file, where a quote must be closed.
    """
    first: int | None = None
    skip = -1
    for m in _QUOTE_OR_NEWLINE.finditer(data):
        i = m.start()
        if i == skip:
            continue
        if data[i] == 0x0A:
            if not inside and first is None and i + 1 >= after:
                first = i + 1
            continue
        if not inside:
            if i > 0 and data[i - 1] not in _BEFORE_OPEN:
                return None
            inside = True
            continue
        following = data[i + 1:i + 2]
        if following == b'"':
            skip = i + 1  # an escaped quote
        elif following in _AFTER_CLOSE or (not following and at_eof):
            inside = False
        elif not following:
            break  # the window ends on this quote: it says nothing either way
        else:
            return None
    if at_eof and inside:
        return None
    return first if first is not None else len(data) + 1


def _quoted_end(read: Read, size: int, cut: int, known: int, exact: bool) -> int:
    """``record_end`` for CSV whose quoted fields may hold newlines (module docstring)."""
    span = WINDOW
    while True:
        start, end = max(known, cut - span), min(size, cut + span)
        data = read(start, end)
        at_eof = end >= size
        # From a known boundary the state is known: outside quotes.
        states = (False,) if start == known else (False, True)
        readings = [r for r in (walk_csv(data, inside, at_eof, cut - start) for inside in states)
                    if r is not None]
        if len(readings) == 1:
            if readings[0] <= len(data):
                return start + readings[0]
            if at_eof:
                return size
        elif not readings:
            return csv_record_end(read, size, cut, known)  # not RFC 4180: the csv reader says
        elif b'"' not in data and span < MAX_WINDOW:
            span = MAX_WINDOW  # no evidence either way: look as far as allowed at once
            continue
        elif span >= MAX_WINDOW:
            if exact or b'"' in data:
                return csv_record_end(read, size, cut, known)
            # No quote within MAX_WINDOW of the cut: taken as outside quotes.
            return start + readings[0] if readings[0] <= len(data) else end
        span *= 2


def _lines(read: Read, start: int, size: int) -> Iterator[bytes]:
    """The bytes from ``start`` as lines that keep their newline, read CHUNK at a time."""
    pos, rest = start, b""
    while pos < size:
        chunk = read(pos, min(size, pos + CHUNK))
        if not chunk:
            break
        pos += len(chunk)
        pieces = (rest + chunk).split(b"\n")
        rest = pieces.pop()
        for piece in pieces:
            yield piece + b"\n"
    if rest:
        yield rest


#: The csv reader's field size limit while it looks for a record end (2 GiB - 1).
_FIELD_LIMIT = (1 << 31) - 1


def csv_record_end(read: Read, size: int, cut: int, known: int = 0) -> int:
    """``record_end`` by Python's csv reader, reading every record from ``known`` on."""
    offset = known

    def texts() -> Iterator[str]:
        nonlocal offset
        for line in _lines(read, known, size):
            offset += len(line)
            yield line.decode("utf-8", errors="replace")

    # A quoted field may be longer than the csv module's default limit (128 KiB).
    previous = csv.field_size_limit(_FIELD_LIMIT)
    try:
        for _row in csv.reader(texts()):
            if offset >= cut:
                return offset
    finally:
        csv.field_size_limit(previous)
    return size


def part_counts(sizes: Sequence[int], instances: int, min_part: int = 1) -> list[int]:
    """Into how many parts to cut each input, so that ``instances`` get about equal work.

    The work is shared by bytes: a file gets one part per instance's share of the whole
    input it holds (rounded, at least 1, at most ``instances``), and no part is smaller than
    ``min_part`` bytes (S3's 5 MiB, for parts made inside S3).
    """
    total = sum(sizes)
    if instances <= 1 or total == 0:
        return [1] * len(sizes)
    share = total / instances
    return [max(1, min(round(size / share), instances, size // max(min_part, 1)))
            for size in sizes]


def cut_points(read: Read, size: int, parts: int, *, quoted: bool,
               min_part: int = 1, exact: bool = True) -> list[int]:
    """Offsets ``[0, b1, ..., size]`` of up to ``parts`` parts of whole records, cut near
    equal sizes; every part but the last is at least ``min_part`` bytes. ``exact``: as in
    ``record_end``. One part (``[0, size]``) reads nothing."""
    bounds = [0]
    for i in range(1, parts):
        cut = size * i // parts
        at = record_end(read, size, cut, quoted=quoted, known=bounds[-1], exact=exact)
        if at - bounds[-1] >= max(min_part, 1) and at < size:
            bounds.append(at)
    bounds.append(size)
    return bounds


def file_reader(path: Path) -> Read:
    """A ``Read`` over a local file (opened on each read: a cut needs only a few)."""

    def read(start: int, end: int) -> bytes:
        with open(path, "rb") as f:
            f.seek(start)
            return f.read(max(0, end - start))

    return read


def part_name(name: str, index: int) -> str:
    """The name of part ``index`` (0-based) of a file called ``name``."""
    return f"{name}{PART_MARK}{index:05d}"


def part_names(name: str, bounds: Sequence[int]) -> list[str]:
    """The parts' names of a file called ``name`` cut at ``bounds`` (``cut_points``);
    ``[name]`` when it was not cut."""
    if len(bounds) <= 2:
        return [name]
    return [part_name(name, i) for i in range(len(bounds) - 1)]


# ----------------------------------------------------------------------------- local files


@dataclass
class SplitFile:
    """One input file of a split run and the parts it was cut into."""

    #: The input file and its output path relative to the output folder (``<name>.out``).
    source: Path
    rel: Path
    #: The parts, in input order, with their outputs' paths relative to the parts' output
    #: folder; ``[(source, rel)]`` when the file was not cut.
    parts: list[tuple[Path, Path]]
    #: Newlines before each part (to number the file's lines in messages).
    lines_before: list[int]

    @property
    def cut(self) -> bool:
        """True when the file was cut into more than one part."""
        return len(self.parts) > 1


def split_local(files: Sequence[tuple[Path, Path]], job: TransformJob,
                workdir: Path) -> list[SplitFile]:
    """Cut each of ``files`` (input, output relative path) into parts under ``workdir`` as
    ``part_counts`` says for ``job.instance_count``; files that stay whole are not copied."""
    check_splittable(job)
    quoted = quoted_records(job)
    sizes = [path.stat().st_size for path, _ in files]
    out: list[SplitFile] = []
    for (path, rel), size, count in zip(files, sizes,
                                        part_counts(sizes, job.instance_count), strict=True):
        bounds = cut_points(file_reader(path), size, count, quoted=quoted)
        if len(bounds) <= 2:
            out.append(SplitFile(path, rel, [(path, rel)], [0]))
            continue
        stem = rel.with_name(rel.name.removesuffix(".out"))
        parts: list[tuple[Path, Path]] = []
        lines_before: list[int] = []
        newlines = 0
        with open(path, "rb") as src:
            for i, (start, end) in enumerate(itertools.pairwise(bounds)):
                name = part_name(stem.name, i)
                target = workdir / stem.parent / name
                target.parent.mkdir(parents=True, exist_ok=True)
                lines_before.append(newlines)
                src.seek(start)
                with open(target, "wb") as dst:
                    left = end - start
                    while left > 0:
                        chunk = src.read(min(CHUNK, left))
                        if not chunk:
                            break
                        newlines += chunk.count(b"\n")
                        dst.write(chunk)
                        left -= len(chunk)
                parts.append((target, stem.parent / (name + ".out")))
        out.append(SplitFile(path, rel, parts, lines_before))
    return out


def describe_split(files: Sequence[SplitFile]) -> str | None:
    """One line naming the files that were cut and into how many parts, or None."""
    cut = [f for f in files if f.cut]
    if not cut:
        return None
    return "--split: " + ", ".join(f"{f.source.name} into {len(f.parts)} parts" for f in cut) \
        + " at record boundaries"


def join_local(report: TransformReport, files: Sequence[SplitFile], parts_output: Path,
               output_dir: Path) -> TransformReport:
    """The report of the unsplit job: each file's parts' ``.out`` files joined in order into
    ``output_dir/<name>.out`` (none when any part failed), with results and failures
    counted against the file, its records and lines numbered as in the whole file."""
    results: dict[Path, FileResult] = {}
    for f in files:
        parts = [report.files.get(p) for p, _ in f.parts]
        result = FileResult(f.source, None)
        records = 0
        for part, lines in zip(parts, f.lines_before, strict=True):
            if part is None:
                continue
            result.placeholders += part.placeholders
            result.batches += part.batches
            result.retries += part.retries
            result.failures += [_renumber(x, f.source, records, lines) for x in part.failures]
            records += part.records
        result.records = records
        if all(p is not None and p.ok for p in parts):
            target = output_dir / f.rel
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            with open(partial, "wb") as dst:
                for _, rel in f.parts:
                    with open(parts_output / rel, "rb") as src:
                        shutil.copyfileobj(src, dst, CHUNK)
            partial.replace(target)
            result.output = target
        results[f.source] = result
    return dataclasses.replace(report, files=results)


#: The runner's note on which record a line of a mini-batch is (runner._Job.fail).
_BATCH_RECORD = re.compile(r"(line \d+ of the mini-batch is record )(\d+)")


def _renumber(failure: Failure, source: Path, records: int, lines: int) -> Failure:
    """A part's failure as the whole file's: its records and lines counted from the file's
    start."""
    message = _BATCH_RECORD.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + records}",
                                failure.message)
    return dataclasses.replace(failure, file=source, message=message,
                               first_record=failure.first_record + records,
                               last_record=failure.last_record + records,
                               first_line=failure.first_line + lines,
                               last_line=failure.last_line + lines)
