"""``--split``'s cuts without Docker: every cut is a record boundary (a newline, or for CSV
with SplitType=None a row end of Python's csv reader, quoted newlines included), the part
counts follow the instances and S3's minimum, local parts join back to the file, and inputs
that cannot be cut are refused with the fix on the first line."""

from __future__ import annotations

import csv
import io
import itertools
import random
from pathlib import Path

import pytest
from smkit.core.errors import UserError
from smkit.project.transform_job import TransformJob
from smkit.transform import split
from smkit_testkit import csv_row_ends


def reader(data: bytes) -> split.Read:
    """A ``Read`` over bytes that counts the bytes it was asked for."""

    def read(start: int, end: int) -> bytes:
        read.asked += max(0, end - start)  # type: ignore[attr-defined]
        return data[start:end]

    read.asked = 0  # type: ignore[attr-defined]
    return read


def quoted_csv(rows: int, seed: int = 0) -> bytes:
    """CSV whose text fields are quoted and often hold newlines, commas and quotes."""
    rnd = random.Random(seed)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for i in range(rows):
        note = rnd.choice(["plain", "two\nlines", 'say "hi", then\nleave', "", "x,y"])
        writer.writerow([i, f"{rnd.random():.6f}", note, "a\nb\nc" if i % 7 == 0 else "z"])
    return buf.getvalue().encode()


def test_a_cut_in_a_quoted_newline_moves_to_the_end_of_the_record() -> None:
    data = b'1,"first\nsecond",3\n4,"x",5\n'
    cut = data.index(b"second")  # inside the quotes, after their newline
    assert split.record_end(reader(data), len(data), cut, quoted=True) == data.index(b"4,")
    # Without quotes counting (SplitType=Line), a newline is a record end, as SageMaker has it.
    assert split.record_end(reader(data), len(data), cut, quoted=False) == cut
    assert split.record_end(reader(data), len(data), 3, quoted=False) == data.index(b"second")


@pytest.mark.parametrize("seed", range(4))
def test_every_csv_cut_is_a_row_end_of_pythons_csv_reader(seed: int) -> None:
    data = quoted_csv(3000, seed)
    ends = csv_row_ends(data)
    rnd = random.Random(seed)
    for cut in [rnd.randrange(1, len(data)) for _ in range(60)]:
        got = split.record_end(reader(data), len(data), cut, quoted=True)
        assert got in ends
        assert got == min(e for e in ends if e >= cut)


def test_the_window_reads_little_and_the_csv_reader_takes_over_when_it_cannot_tell() -> None:
    data = quoted_csv(20000)
    read = reader(data)
    split.record_end(read, len(data), len(data) // 2, quoted=True)
    assert read.asked <= 4 * split.WINDOW  # type: ignore[attr-defined]
    # 3 MiB without a quote inside a quoted field: no window can tell inside from outside,
    # so for a local file the csv reader reads from the last known boundary and finds the
    # record's true end.
    plain = b"1,2,3\n" * (3 * 1024 * 1024 // 6)
    tricky = b'0,"open\n' + plain + b'close",9\n' + plain
    cut = len(tricky) // 3
    read = reader(tricky)
    got = split.record_end(read, len(tricky), cut, quoted=True)
    assert got == tricky.index(b'close",9\n') + len(b'close",9\n')
    assert read.asked > cut  # type: ignore[attr-defined]
    # In S3 (exact=False) the object is not read through: a cut with no quote within
    # MAX_WINDOW is taken as outside quotes (the documented limit).
    read = reader(tricky)
    got = split.record_end(read, len(tricky), cut, quoted=True, exact=False)
    assert got == tricky.index(b"\n", cut - 1) + 1
    assert read.asked <= 2 * split.MAX_WINDOW + 2 * split.WINDOW  # type: ignore[attr-defined]


def test_a_window_from_a_known_boundary_or_to_the_end_needs_no_second_guess() -> None:
    data = b'1,"a\nb"\n2,"c"\n'
    for cut in range(1, len(data)):
        got = split.record_end(reader(data), len(data), cut, quoted=True, exact=False)
        assert got == min(e for e in csv_row_ends(data) if e >= cut)


def test_json_lines_and_split_lines_cut_after_a_newline() -> None:
    data = b'{"a": 1}\n{"a": 2}\n\n{"a": 3}'
    for cut in range(1, len(data)):
        got = split.record_end(reader(data), len(data), cut, quoted=False)
        assert got == len(data) or data[got - 1:got] == b"\n"
        assert b"\n" not in data[cut:got - 1]


def test_part_counts_follow_the_instances_and_the_smallest_part() -> None:
    assert split.part_counts([100], 4) == [4]
    assert split.part_counts([60, 40], 2) == [1, 1]  # already shared: nothing to cut
    assert split.part_counts([90, 10], 2) == [2, 1]
    assert split.part_counts([100], 1) == [1]
    mib = 1 << 20
    # S3: every part but the last at least 5 MiB, so 12 MiB makes 2 parts, not 4.
    assert split.part_counts([12 * mib], 4, 5 * mib) == [2]
    assert split.part_counts([4 * mib], 4, 5 * mib) == [1]


def test_cut_points_keep_parts_over_the_minimum() -> None:
    data = b"".join(f"{i},{i * i}\n".encode() for i in range(5000))
    bounds = split.cut_points(reader(data), len(data), 4, quoted=False)
    assert len(bounds) == 5
    assert bounds[0] == 0
    assert bounds[-1] == len(data)
    assert all(data[b - 1:b] == b"\n" for b in bounds[1:])
    sizes = [b - a for a, b in itertools.pairwise(bounds)]
    assert max(sizes) - min(sizes) < 20
    big = split.cut_points(reader(data), len(data), 4, quoted=False, min_part=len(data) // 3)
    assert all(b - a >= len(data) // 3 for a, b in itertools.pairwise(big[:-1]))
    assert len(big) == 3  # two parts: four would be under the minimum


def test_local_parts_hold_the_file_in_order_and_number_its_lines(tmp_path: Path) -> None:
    source = tmp_path / "in" / "big.csv"
    source.parent.mkdir()
    data = quoted_csv(4000, 7)
    source.write_bytes(data)
    small = tmp_path / "in" / "small.csv"
    small.write_bytes(b"1,2\n")
    job = TransformJob(split_type="None", instance_count=3)
    files = [(source, Path("big.csv.out")), (small, Path("small.csv.out"))]
    pieces = split.split_local(files, job, tmp_path / "parts")
    big, little = pieces
    assert [rel.name for _, rel in big.parts] == [
        f"big.csv.smkit-part-0000{i}.out" for i in range(3)]
    assert b"".join(p.read_bytes() for p, _ in big.parts) == data
    ends = csv_row_ends(data)
    offset = 0
    for (part, _), lines in zip(big.parts, big.lines_before, strict=True):
        assert offset in ends
        assert lines == data[:offset].count(b"\n")
        offset += part.stat().st_size
    assert not little.cut
    assert little.parts == [(small, Path("small.csv.out"))]
    assert source.read_bytes() == data


@pytest.mark.parametrize(("content_type", "split_type", "said"), [
    ("application/x-npy", "None", "--split cannot cut application/x-npy input (binary"),
    ("application/x-npy", "Line", "--split cannot cut application/x-npy input (binary"),
    ("application/json", "None", "--split cannot cut one JSON document with SplitType=None"),
])
def test_inputs_without_record_boundaries_are_refused(content_type: str, split_type: str,
                                                      said: str) -> None:
    with pytest.raises(UserError) as caught:
        split.check_splittable(TransformJob(content_type=content_type, split_type=split_type))
    assert str(caught.value).splitlines()[0].startswith(said)
    assert caught.value.exit_code == 2
    split.check_splittable(TransformJob(content_type="application/json", split_type="Line"))
    split.check_splittable(TransformJob(content_type="application/jsonlines",
                                        split_type="None"))


def test_a_file_in_a_sub_folder_keeps_its_folder_and_joins_back(tmp_path: Path) -> None:
    from smkit.transform.runner import FileResult, TransformReport

    source = tmp_path / "in" / "sub" / "a.jsonl"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"".join(b'{"x": %d}\n' % i for i in range(1000)))
    job = TransformJob(content_type="application/jsonlines", instance_count=2)
    (piece,) = split.split_local([(source, Path("sub/a.jsonl.out"))], job, tmp_path / "parts")
    assert [rel.as_posix() for _, rel in piece.parts] == [
        "sub/a.jsonl.smkit-part-00000.out", "sub/a.jsonl.smkit-part-00001.out"]
    assert all(p.parent == tmp_path / "parts" / "sub" for p, _ in piece.parts)
    # Each part's output (here: its input echoed) joins back in order under sub/.
    outs = tmp_path / "part-outs"
    results = {}
    for path, rel in piece.parts:
        (outs / rel).parent.mkdir(parents=True, exist_ok=True)
        (outs / rel).write_bytes(path.read_bytes())
        results[path] = FileResult(path, outs / rel, records=500)
    report = TransformReport(results, None, 1.0)  # type: ignore[arg-type]
    joined = split.join_local(report, [piece], outs, tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "a.jsonl.out").read_bytes() == source.read_bytes()
    assert list(joined.files) == [source]
    assert joined.files[source].records == 1000
