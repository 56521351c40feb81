"""``--split`` inside S3, against moto over HTTP: an object is cut without being downloaded
(ranged GETs near each cut, then UploadPartCopy byte ranges), every part but the last is at
least 5 MiB, the parts hold the object's records in order with no record across a cut
(quoted CSV newlines included), a local file is cut as it is uploaded, part outputs join
back in order, and everything made for the job is deleted while the input stays as it was."""

from __future__ import annotations

import csv
import io
import random
import uuid
from pathlib import Path

import boto3
import pytest
from smkit.buyer import s3split
from smkit.project.transform_job import TransformJob
from smkit.transform import split
from smkit_testkit import csv_row_ends

MIB = 1 << 20


@pytest.fixture
def s3(aws_env: dict[str, str]):
    """An S3 client on the emulators' moto, counting the bytes its GETs return."""
    client = boto3.client("s3", region_name="us-east-1")
    client.got = 0

    def count(http_response, parsed, **_):
        client.got += int(parsed.get("ContentLength") or 0)

    client.meta.events.register("after-call.s3.GetObject", count)
    return client


@pytest.fixture
def bucket(s3) -> str:
    name = f"split-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def rows_csv(size: int, seed: int = 0, quoted: bool = False) -> bytes:
    """About ``size`` bytes of CSV; with ``quoted`` its text fields hold newlines."""
    rnd = random.Random(seed)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    i = 0
    while buf.tell() < size:
        note = rnd.choice(["a\nb", 'q "x",\ny', "plain"]) if quoted else "plain"
        writer.writerow([i, f"{rnd.random():.9f}", note])
        i += 1
    return buf.getvalue().encode()


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def body(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.mark.parametrize(("split_type", "quoted"), [("Line", False), ("None", True),
                                                    ("None", False)])
def test_an_object_is_cut_inside_s3_at_record_boundaries(s3, bucket: str, split_type: str,
                                                          quoted: bool) -> None:
    data = rows_csv(16 * MIB + 12345, quoted=quoted)
    s3.put_object(Bucket=bucket, Key="in/big.csv", Body=data)
    s3.put_object(Bucket=bucket, Key="in/small.csv", Body=b"1,2,3\n")
    s3.got = 0
    job = TransformJob(split_type=split_type, instance_count=4)
    staged = s3split.split_s3_input(s3, f"s3://{bucket}/in/", f"s3://{bucket}/parts/", job)
    # 16 MiB over 4 instances with a 5 MiB floor: 3 parts; read only near the two cuts (CSV
    # without quotes, whole: up to MAX_WINDOW on each side, to be sure of no quoted field).
    near = MIB if split_type == "Line" or quoted else 2 * (2 * split.MAX_WINDOW
                                                          + 2 * split.WINDOW)
    assert s3.got <= near
    assert staged.input_uri == f"s3://{bucket}/parts/"
    big, small = staged.pieces
    assert big.parts == [f"big.csv.smkit-part-0000{i}" for i in range(3)]
    assert small.parts == ["small.csv"]
    assert keys(s3, bucket, "parts/") == sorted(f"parts/{n}" for n in big.parts + small.parts)
    parts = [body(s3, bucket, f"parts/{n}") for n in big.parts]
    assert b"".join(parts) == data
    assert all(len(p) >= s3split.MIN_PART for p in parts[:-1])
    ends = csv_row_ends(data) if split_type == "None" else None
    offset = 0
    for part in parts[:-1]:
        offset += len(part)
        assert data[offset - 1:offset] == b"\n"
        if ends is not None:
            assert offset in ends
    assert body(s3, bucket, "parts/small.csv") == b"1,2,3\n"
    s3split.remove_parts(s3, staged)
    assert keys(s3, bucket, "parts/") == []
    assert body(s3, bucket, "in/big.csv") == data


def test_nothing_is_made_when_no_object_needs_a_cut(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="in/a.csv", Body=rows_csv(6 * MIB))
    s3.put_object(Bucket=bucket, Key="in/b.csv", Body=rows_csv(6 * MIB, 1))
    staged = s3split.split_s3_input(s3, f"s3://{bucket}/in/", f"s3://{bucket}/parts/",
                                    TransformJob(instance_count=2))
    assert staged.input_uri == f"s3://{bucket}/in/"
    assert staged.made == []
    assert keys(s3, bucket, "parts/") == []


def test_outputs_join_in_order_and_the_part_outputs_go(s3, bucket: str) -> None:
    sizes = [6 * MIB + 7, 1000, 3, 11 * MIB, 2 * MIB, 5]
    pieces = [bytes([65 + i]) * n for i, n in enumerate(sizes)]
    staged = s3split.SplitInput(f"s3://{bucket}/parts/", [
        s3split.Piece("x/big.csv", [split.part_name("x/big.csv", i) for i in range(6)]),
        s3split.Piece("whole.csv", ["whole.csv"])])
    for name, data in zip(staged.pieces[0].parts, pieces, strict=True):
        s3.put_object(Bucket=bucket, Key=f"out/{name}.out", Body=data)
    s3.put_object(Bucket=bucket, Key="out/whole.csv.out", Body=b"kept")
    assert s3split.join_outputs(s3, staged, f"s3://{bucket}/out/") == ["out/x/big.csv.out"]
    assert body(s3, bucket, "out/x/big.csv.out") == b"".join(pieces)
    assert keys(s3, bucket, "out/") == ["out/whole.csv.out", "out/x/big.csv.out"]
    # Small outputs are sent in one request.
    s3split.concatenate(s3, bucket, [("out/whole.csv.out", 4), ("out/whole.csv.out", 4)],
                        "out/twice")
    assert body(s3, bucket, "out/twice") == b"keptkept"


def test_a_missing_part_output_joins_nothing(s3, bucket: str) -> None:
    staged = s3split.SplitInput(f"s3://{bucket}/parts/", [
        s3split.Piece("a.csv", [split.part_name("a.csv", i) for i in range(2)])])
    s3.put_object(Bucket=bucket, Key="out/a.csv.smkit-part-00000.out", Body=b"1\n")
    assert s3split.join_outputs(s3, staged, f"s3://{bucket}/out/") == []
    assert keys(s3, bucket, "out/") == []


def test_a_local_file_is_cut_as_it_is_uploaded(s3, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "big.jsonl"  # 2 parts over boto3's 8 MiB multipart threshold
    source.write_bytes(b"".join(b'{"x": %d}\n' % i for i in range(1_700_000)))
    job = TransformJob(content_type="application/jsonlines", instance_count=2)
    staged = s3split.upload_split(s3, [(source, "big.jsonl")], f"s3://{bucket}/stage/input/",
                                  job)
    names = staged.pieces[0].parts
    assert len(names) == 2
    assert source.stat().st_size > 18 * MIB
    parts = [body(s3, bucket, f"stage/input/{n}") for n in names]
    assert b"".join(parts) == source.read_bytes()
    assert all(p.endswith(b"\n") for p in parts)
    s3split.remove_parts(s3, staged)
    assert keys(s3, bucket, "stage/") == []


def test_the_parts_go_to_staging_or_beside_the_input_never_under_it() -> None:
    assert s3split.parts_prefix("s3://b/in/", "s3://st/pre", "job1") == \
        "s3://st/pre/job1/split-input/"
    assert s3split.parts_prefix("s3://b/in/", "s3://st", "job1") == "s3://st/job1/split-input/"
    assert s3split.parts_prefix("s3://b/in/", None, "job1") == "s3://b/smkit-split/job1/"


def test_a_failure_names_the_buyers_input_and_where_the_part_starts() -> None:
    staged = s3split.SplitInput("s3://b/smkit-split/j/", [
        s3split.Piece("sub/big.csv", [split.part_name("sub/big.csv", i) for i in range(2)],
                      [0, 5767168], "s3://in/data/sub/big.csv")])
    said = ("transform job failed: first: s3://b/smkit-split/j/sub/big.csv.smkit-part-00001: "
            "records 3-4 (lines 3-4) failed, HTTP 400: bad")
    assert staged.explain(said) == (
        "transform job failed: first: s3://in/data/sub/big.csv (--split part 2 of 2, from "
        "byte 5767168; records and lines counted from there): records 3-4 (lines 3-4) "
        "failed, HTTP 400: bad")
