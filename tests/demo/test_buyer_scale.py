"""The buyer at scale: ``smkit buyer transform --cloud`` over S3 prefixes on several instances,
against the demo's emulators (moto over HTTP, the registry, the real product image), and the
pieces it prints (progress, cost, failure with its log streams).

moto records a transform job and marks it Completed without running anything, so on the
emulators smkit runs SageMaker's side itself (one container per instance, objects sharded by
key): the outputs checked here come from the real image, and are compared with the trained
model's own ``predict`` on the same records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import joblib
import pandas as pd
import pytest
from smkit.aws.clients import connect
from smkit.buyer import billing, wait
from wheel_kit import DemoRun

ROLE = "arn:aws:iam::123456789012:role/SmkitDemoValidation"
BUCKET = "smkit-demo-123456789012"
REGION = "us-east-1"


def smkit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The CLI as a user runs it."""
    return subprocess.run([sys.executable, "-m", "smkit.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False)


# ----------------------------------------------------------------------------- pure parts


def test_progress_shows_status_elapsed_time_and_the_software_cost_so_far() -> None:
    assert wait.progress_line("InProgress", 754, 2, "ml.m5.xlarge", None) == \
        "InProgress after 12m34s on 2 x ml.m5.xlarge"
    line = wait.progress_line("InProgress", 1800, 4, "ml.m5.xlarge", 1.5)
    # 4 instances x 0.5 h = 2 instance-hours x $1.50 = $3.00
    assert "software cost so far about $3.00 (2.00 instance-hours x $1.5/h" in line
    assert billing.software_cost(3, 7200, 0.25) == pytest.approx(1.5)
    # Prorated by the minute (marketplace.md): 61 s bills two minutes on each instance.
    assert billing.software_cost(2, 61, 0.6) == pytest.approx(2 * 2 / 60 * 0.6)


def test_the_billed_time_comes_from_the_jobs_start_and_end() -> None:
    start = dt.datetime(2026, 1, 1, 10, 0, tzinfo=dt.UTC)
    desc = {"TransformStartTime": start, "TransformEndTime": start + dt.timedelta(minutes=90)}
    assert billing.billed_seconds(desc, 5.0) == 5400
    assert billing.billed_seconds({}, 5.0) == 5.0


def test_a_failed_job_shows_its_reason_and_where_its_logs_are() -> None:
    desc = {"TransformJobName": "j1", "TransformJobStatus": "Failed",
            "FailureReason": "ClientError: See job logs for more information"}
    text = wait.failure_message(desc, ["j1/i-0abc-1700000000", "j1/i-0abc-1700000000/data-log"])
    assert text.splitlines() == [
        "transform job j1 is Failed: ClientError: See job logs for more information",
        "  the records' errors are in CloudWatch Logs: log group /aws/sagemaker/TransformJobs, "
        "streams j1/i-0abc-1700000000, j1/i-0abc-1700000000/data-log",
    ]
    assert "streams j1/<instance-id>-<time> and its /data-log stream" in wait.failure_message(
        {"TransformJobName": "j1", "TransformJobStatus": "Stopped"}, [])


def test_the_hourly_price_comes_from_the_listings_batch_pricing(tmp_path: Path) -> None:
    listing = tmp_path / "listing.yaml"
    listing.write_text("pricing:\n  model: hourly\n  batch:\n    ml.m5.large: '0.20'\n"
                       "    ml.m5.xlarge: 'TODO: USD per hour'\n")
    assert billing.hourly_price_from_listing(listing, "ml.m5.large") == 0.2
    assert billing.hourly_price_from_listing(listing, "ml.m5.xlarge") is None
    assert billing.hourly_price_from_listing(listing, "ml.c5.large") is None


# ----------------------------------------------------------------------------- emulators


@pytest.fixture
def parts(demo_run: DemoRun, demo_env: dict[str, str]) -> tuple[str, list[str]]:
    """The validation records as five objects under a fresh prefix (one in a sub-folder);
    returns (prefix URL, the records in key order)."""
    lines = (demo_run.out / "validation" / "input.csv").read_text().splitlines()
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", region_name=REGION)
    step = -(-len(lines) // 5)
    keys = [f"{prefix}/in/part-{i}.csv" if i != 2 else f"{prefix}/in/sub/part-2.csv"
            for i in range(5)]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=BUCKET, Key=key,
                      Body="".join(x + "\n" for x in lines[i * step:(i + 1) * step]).encode())
    ordered = [x for key in sorted(keys) for x in
               lines[keys.index(key) * step:(keys.index(key) + 1) * step]]
    return f"s3://{BUCKET}/{prefix}", ordered


def model_predictions(demo_run: DemoRun, records: list[str]) -> list[str]:
    """The trained model's own labels for CSV records."""
    model = joblib.load(demo_run.out / "model" / "model.joblib")
    frame = pd.DataFrame([r.split(",") for r in records], columns=model.feature_names_in_)
    for column in frame.columns:
        converted = pd.to_numeric(frame[column], errors="coerce")
        if converted.notna().all():
            frame[column] = converted
    return [str(v) for v in model.predict(frame).tolist()]


def job_name(stderr: str) -> str:
    m = re.search(r"transform job (smkit-buyer-[0-9a-f]+)", stderr)
    assert m, stderr
    return m.group(1)


def keys_under(url: str) -> list[str]:
    bucket, _, prefix = url[5:].partition("/")
    s3 = boto3.client("s3", region_name=REGION)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


@pytest.mark.container
def test_a_sharded_job_over_an_s3_prefix_on_two_instances(
        demo_run: DemoRun, demo_env: dict[str, str], parts: tuple[str, list[str]]) -> None:
    prefix, records = parts
    arn = demo_run.fact("model package")
    proc = smkit("buyer", "transform", "--cloud", "--model-package-arn", arn, "--role-arn", ROLE,
                 "--input", f"{prefix}/in/", "--output", f"{prefix}/out/",
                 "--instance-count", "2", "--max-concurrent", "2", "--max-payload", "1",
                 "--strategy", "MultiRecord", "--listing",
                 str(demo_run.out / "listing" / "listing.yaml"), env=demo_env)
    assert proc.returncode == 0, proc.stderr
    name = job_name(proc.stderr)
    assert f"5 file(s) in from {prefix}/in/, 5 .out file(s) at {prefix}/out/" in proc.stderr
    assert "Completed after" in proc.stderr
    assert "software cost about $" in proc.stderr
    assert "5 files over 2 instance(s): 3, 2" in proc.stderr
    # The request moto recorded is the job that was asked for.
    sm = boto3.client("sagemaker", region_name=REGION)
    job = sm.describe_transform_job(TransformJobName=name)
    assert job["TransformResources"]["InstanceCount"] == 2
    assert job["MaxConcurrentTransforms"] == 2
    assert job["MaxPayloadInMB"] == 1
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"{prefix}/in/"
    assert not [m for m in sm.list_models()["Models"] if m["ModelName"] == name]
    # One <key>.out per object, sub-folders kept; the predictions are the model's own.
    out_keys = [k for k in keys_under(f"{prefix}/out/")]
    bucket_prefix = prefix[len(f"s3://{BUCKET}/"):]
    assert out_keys == sorted(f"{bucket_prefix}/out/{k}.out" for k in
                              ["part-0.csv", "part-1.csv", "sub/part-2.csv", "part-3.csv",
                               "part-4.csv"])
    s3 = boto3.client("s3", region_name=REGION)
    got = [line for key in sorted(keys_under(f"{prefix}/in/"))
           for line in s3.get_object(Bucket=BUCKET, Key=key.replace("/in/", "/out/", 1)
                                     + ".out")["Body"].read().decode().splitlines()]
    assert got == model_predictions(demo_run, records)


@pytest.mark.container
def test_a_cloud_job_from_local_files_into_a_local_folder_works_on_the_emulators(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    # Issue 17 item 7: this used to end in "s3:GetObject failed: 404".
    arn = demo_run.fact("model package")
    source = demo_run.out / "validation" / "input.csv"
    proc = smkit("buyer", "transform", "--cloud", "--model-package-arn", arn, "--role-arn", ROLE,
                 "--s3-uri", f"s3://{BUCKET}/buyer", "--input", str(source),
                 "--output", str(tmp_path), "--join-source", "Input", env=demo_env)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "input.csv.out"
    assert proc.stdout.strip() == str(out)
    records = source.read_text().splitlines()
    expected = model_predictions(demo_run, records)
    # JoinSource=Input on CSV: the input record, then the output, on one line.
    assert out.read_text().splitlines() == [f"{r},{p}" for r, p in zip(records, expected,
                                                                        strict=True)]


def _state(staging: str) -> tuple[set[str], set[str], list[str]]:
    sm = boto3.client("sagemaker", region_name=REGION)
    models = {m["ModelName"] for m in sm.list_models(MaxResults=100)["Models"]}
    jobs = {j["TransformJobName"] for j in
            sm.list_transform_jobs(MaxResults=100)["TransformJobSummaries"]}
    return models, jobs, keys_under(staging)


@pytest.mark.container
@pytest.mark.parametrize(("args", "says"), [
    (["--instance-type", "ml.p3.2xlarge"], "--instance-type ml.p3.2xlarge is not supported"),
    (["--content-type", "application/x-npy"], "--content-type application/x-npy is not"),
    (["--accept", "application/x-npy"], "--accept application/x-npy is not supported"),
    (["--max-payload", "60", "--max-concurrent", "2"], "lower MaxConcurrentTransforms"),
    (["--distribution", "FullyReplicated", "--instance-count", "2"],
     "use --distribution ShardedByS3Key or --instance-count 1"),
    (["--input-filter", "$.features"], "CSV records are arrays"),
    (["--input", "s3://b/data/", "--output", "s3://b/data/out/"], "is under --input"),
])
def test_bad_combinations_are_refused_before_anything_is_created(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path, args: list[str],
        says: str) -> None:
    staging = f"s3://{BUCKET}/refused-{uuid.uuid4().hex[:8]}"
    before = _state(staging)
    proc = smkit("buyer", "transform", "--cloud", "--model-package-arn",
                 demo_run.fact("model package"), "--role-arn", ROLE, "--s3-uri", staging,
                 "--input", str(demo_run.out / "validation" / "input.csv"),
                 "--output", str(tmp_path), *args, env=demo_env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert says in lines[0]
    assert _state(staging) == before


@pytest.mark.container
def test_a_failed_job_says_which_file_failed_and_leaves_no_model(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.csv").write_text("1,2,3\n")
    proc = smkit("buyer", "transform", "--cloud", "--model-package-arn",
                 demo_run.fact("model package"), "--role-arn", ROLE, "--s3-uri",
                 f"s3://{BUCKET}/buyer", "--input", str(tmp_path / "in"),
                 "--output", str(tmp_path / "out"), env=demo_env)
    assert proc.returncode == 1
    assert "1 of 1 files failed" in proc.stderr
    assert "bad.csv: record 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    name = job_name(proc.stderr)
    sm = boto3.client("sagemaker", region_name=REGION)
    assert not [m for m in sm.list_models()["Models"] if m["ModelName"] == name]


@pytest.mark.container
def test_the_jobs_log_streams_are_found_in_cloudwatch(
        demo_run: DemoRun, demo_env: dict[str, str]) -> None:
    logs = boto3.client("logs", region_name=REGION)
    name = f"smkit-buyer-{uuid.uuid4().hex[:12]}"
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=wait.LOG_GROUP)
    for stream in (f"{name}/i-0abc-1700000000", f"{name}/i-0abc-1700000000/data-log",
                   f"other-{name}/i-0abc-1700000000"):
        logs.create_log_stream(logGroupName=wait.LOG_GROUP, logStreamName=stream)
    assert wait.log_streams(connect(REGION), name) == [
        f"{name}/i-0abc-1700000000", f"{name}/i-0abc-1700000000/data-log"]


@pytest.mark.container
def test_local_rehearsal_from_the_arn_on_two_instances_matches_the_model(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    lines = (demo_run.out / "validation" / "input.csv").read_text().splitlines()
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"p{i}.csv").write_text("".join(x + "\n" for x in lines[i::3]))
    proc = smkit("buyer", "transform", "--local", "--model-package-arn",
                 demo_run.fact("model package"), "--input", str(tmp_path / "in"),
                 "--output", str(tmp_path / "out"), "--instance-count", "2", env=demo_env)
    assert proc.returncode == 0, proc.stderr
    assert "from smkit's runner, 2 container(s)" in proc.stderr
    for i in range(3):
        got = (tmp_path / "out" / f"p{i}.csv.out").read_text().splitlines()
        assert got == model_predictions(demo_run, lines[i::3])
