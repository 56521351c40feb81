"""``smkit buyer transform --split`` on the demo's model package and emulators (moto over
HTTP, the real product image): an S3 object is cut inside S3 and a local file as it is
uploaded, both instances get work, the joined ``<key>.out`` is byte for byte what a
1-instance job without --split writes (CSV, JoinSource=Input, --local too), nothing made for
the job is left in S3, and a job that fails leaves the input as it was."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
from test_buyer_scale import BUCKET, REGION, ROLE, keys_under, model_predictions, smkit
from wheel_kit import DemoRun

MIB = 1 << 20


def records(demo_run: DemoRun, size: int) -> list[str]:
    """The demo's validation records repeated to about ``size`` bytes."""
    lines = (demo_run.out / "validation" / "input.csv").read_text().splitlines()
    per = sum(len(x) + 1 for x in lines) / len(lines)
    return [lines[i % len(lines)] for i in range(int(size / per) + 1)]


def s3():
    return boto3.client("s3", region_name=REGION)


def cloud(demo_run: DemoRun, env: dict[str, str], *args: str):
    return smkit("buyer", "transform", "--cloud", "--model-package-arn",
                 demo_run.fact("model package"), "--role-arn", ROLE, *args, env=env)


@pytest.mark.container
def test_an_s3_object_split_on_two_instances_is_one_instances_output(
        demo_run: DemoRun, demo_env: dict[str, str]) -> None:
    prefix = f"split-{uuid.uuid4().hex[:8]}"
    rows = records(demo_run, 11 * MIB)
    data = "".join(r + "\n" for r in rows).encode()
    s3().put_object(Bucket=BUCKET, Key=f"{prefix}/in/big.csv", Body=data)
    base = f"s3://{BUCKET}/{prefix}"
    one = cloud(demo_run, demo_env, "--input", f"{base}/in/", "--output", f"{base}/one/",
                "--strategy", "MultiRecord")
    assert one.returncode == 0, one.stderr
    two = cloud(demo_run, demo_env, "--input", f"{base}/in/", "--output", f"{base}/two/",
                "--instance-count", "2", "--strategy", "MultiRecord", "--split")
    assert two.returncode == 0, two.stderr
    assert "--split: big.csv into 2 parts at record boundaries" in two.stderr
    assert "2 parts over 2 instance(s): 1, 1" in two.stderr
    assert f"1 file(s) in from {base}/in/, 1 .out file(s) at {base}/two/" in two.stderr
    joined = s3().get_object(Bucket=BUCKET, Key=f"{prefix}/two/big.csv.out")["Body"].read()
    assert joined == s3().get_object(Bucket=BUCKET,
                                     Key=f"{prefix}/one/big.csv.out")["Body"].read()
    assert joined.decode().splitlines() == model_predictions(demo_run, rows)
    # Nothing made for the job is left: no parts, no part outputs; the input is as it was.
    assert keys_under(f"{base}/") == sorted(f"{prefix}/{k}" for k in
                                            ["in/big.csv", "one/big.csv.out", "two/big.csv.out"])
    assert keys_under(f"s3://{BUCKET}/smkit-split/") == []
    assert s3().get_object(Bucket=BUCKET, Key=f"{prefix}/in/big.csv")["Body"].read() == data


@pytest.mark.container
def test_a_local_file_split_as_it_is_uploaded_joins_with_its_input(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    rows = records(demo_run, MIB)
    source = tmp_path / "rows.csv"
    source.write_text("".join(r + "\n" for r in rows))
    staging = f"s3://{BUCKET}/split-{uuid.uuid4().hex[:8]}"
    common = ("--s3-uri", staging, "--input", str(source), "--join-source", "Input")
    one = cloud(demo_run, demo_env, *common, "--output", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    two = cloud(demo_run, demo_env, *common, "--output", str(tmp_path / "two"),
                "--instance-count", "2", "--split")
    assert two.returncode == 0, two.stderr
    assert "--split: rows.csv into 2 parts" in two.stderr
    assert [p.name for p in (tmp_path / "two").iterdir()] == ["rows.csv.out"]
    out = (tmp_path / "two" / "rows.csv.out").read_bytes()
    assert out == (tmp_path / "one" / "rows.csv.out").read_bytes()
    expected = model_predictions(demo_run, rows)
    assert out.decode().splitlines() == [f"{r},{p}" for r, p in zip(rows, expected,
                                                                     strict=True)]
    assert not [k for k in keys_under(f"{staging}/") if ".smkit-part-" in k]
    # --local: the same cut, on this machine.
    local = smkit("buyer", "transform", "--local", "--model-package-arn",
                  demo_run.fact("model package"), "--input", str(source), "--output",
                  str(tmp_path / "local"), "--join-source", "Input", "--instance-count", "2",
                  "--split", env=demo_env)
    assert local.returncode == 0, local.stderr
    assert "--split: rows.csv into 2 parts" in local.stderr
    assert (tmp_path / "local" / "rows.csv.out").read_bytes() == out


@pytest.mark.container
def test_a_failed_split_job_leaves_the_input_and_no_parts(
        demo_run: DemoRun, demo_env: dict[str, str]) -> None:
    prefix = f"split-bad-{uuid.uuid4().hex[:8]}"
    rows = records(demo_run, 11 * MIB)
    rows[len(rows) * 3 // 4] = "not,a,row"  # in the second part
    data = "".join(r + "\n" for r in rows).encode()
    s3().put_object(Bucket=BUCKET, Key=f"{prefix}/in/big.csv", Body=data)
    base = f"s3://{BUCKET}/{prefix}"
    proc = cloud(demo_run, demo_env, "--input", f"{base}/in/", "--output", f"{base}/out/",
                 "--instance-count", "2", "--split")
    assert proc.returncode == 1, proc.stderr
    assert "--split: big.csv into 2 parts" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The failure names the buyer's object and where the failing part starts in it.
    assert f"{base}/in/big.csv (--split part 2 of 2, from byte " in proc.stderr
    assert "smkit-part" not in proc.stderr.split("error:", 1)[1]
    assert keys_under(f"{base}/") == [f"{prefix}/in/big.csv"]
    assert keys_under(f"s3://{BUCKET}/smkit-split/") == []
    assert s3().get_object(Bucket=BUCKET, Key=f"{prefix}/in/big.csv")["Body"].read() == data


@pytest.mark.container
def test_split_refuses_one_json_document_before_anything_is_created(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    staging = f"s3://{BUCKET}/split-refused-{uuid.uuid4().hex[:8]}"
    proc = cloud(demo_run, demo_env, "--s3-uri", staging, "--input",
                 str(demo_run.out / "validation" / "input.csv"), "--output", str(tmp_path),
                 "--content-type", "application/json", "--split-type", "None", "--split",
                 "--instance-count", "2")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[0].startswith(
        "error: --split cannot cut one JSON document with SplitType=None")
    assert keys_under(f"{staging}/") == []
