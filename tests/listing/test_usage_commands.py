"""The usage commands on the listing page run as shown, with the AWS CLI from PyPI.

``listing init`` writes the usage instructions for a model package in moto; this test runs
every command in them, word for word, with the AWS CLI against moto over HTTP. moto only
pretends to serve: it answers ``invoke-endpoint`` with a canned body and a transform job
writes nothing. So after each of those commands the test sends the same request (the
arguments the command was given, or the job moto recorded) to the product's image in the
SageMaker SDK's local mode, puts the real answer where AWS would have put it, and the next
command shown (``cat output.csv``, ``aws s3 cp ... -``) must print the model's predictions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import joblib
import numpy as np
import pytest
import yaml
from listing_kit import Server, create_package
from smkit.cli import main
from smkit.local import housekeeping
from smkit.local import sdk as localmode

pytestmark = pytest.mark.container

AWSCLI = "awscli==1.46.2"
SAMPLE_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
ROLE = "arn:aws:iam::123456789012:role/BuyerSageMakerRole"
BUCKET = "buyer-data"


@pytest.fixture(scope="session")
def aws_cli() -> Path:
    """The AWS CLI from PyPI, in a venv of its own (kept in the user's cache between runs)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = base / "smkit-tests" / AWSCLI.replace("==", "-")
    aws = venv / "bin" / "aws"
    if not aws.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", AWSCLI], check=True,
                       timeout=600)
    return aws


def commands(usage: str) -> list[str]:
    """The shell commands of the usage text, in order: a command continues over lines that
    end in a backslash, a heredoc up to its end marker; prose lines are not commands."""
    out: list[str] = []
    lines = iter(usage.splitlines())
    for line in lines:
        if not line.startswith(("aws ", "cat ", "JOB=")):
            continue
        unit = [line]
        if "<<'" in line:
            end = line.split("<<'", 1)[1].rstrip("'")
            for more in lines:
                unit.append(more)
                if more == end:
                    break
        while unit[-1].endswith("\\"):
            unit.append(next(lines))
        out.append("\n".join(unit))
    return out


def _argv(command: str) -> list[str]:
    return shlex.split(command.replace("\\\n", " "))


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


class Buyer:
    """Runs the page's commands in one folder, as a buyer's shell would."""

    def __init__(self, cwd: Path, aws: Path, moto_url: str) -> None:
        self.cwd = cwd
        self.env = {**os.environ, "PATH": f"{aws.parent}:{os.environ['PATH']}",
                    "AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                    "ROLE_ARN": ROLE, "BUCKET": BUCKET}
        (cwd / "state.sh").write_text("")

    def run(self, command: str) -> str:
        """Run one command; shell variables it sets (JOB) carry over to the next."""
        script = f"set -euo pipefail\nsource ./state.sh\n{command}\n" \
                 "if [ -n \"${JOB:-}\" ]; then declare -p JOB > ./state.sh; fi\n"
        proc = subprocess.run(["bash", "-c", script], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"
        return proc.stdout

    def job(self) -> str:
        """The JOB variable the commands set."""
        state = (self.cwd / "state.sh").read_text()
        return state.split("JOB=", 1)[1].strip().strip('"')


@pytest.fixture
def product(moto: Server, image: str, iris_model_dir: Path, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
            ) -> tuple[dict[str, Any], Path]:
    """``listing init``'s listing for an iris package in moto taking ``request.param``."""
    media = request.param
    arn = create_package(moto.url, f"iris-{media.split('/')[-1]}", realtime=["ml.m5.large"],
                         batch=["ml.m5.large"], content_types=(media,))
    model_dir = tmp_path / "model"
    shutil.copytree(iris_model_dir, model_dir)
    (model_dir / "sample_input.csv").write_text(
        "\n".join(",".join(map(str, r)) for r in SAMPLE_ROWS))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", moto.url)
    out = tmp_path / "listing" / "listing.yaml"
    assert main(["listing", "init", "--model-package", arn, "--model-dir", str(model_dir),
                 "--image", image, "--out", str(out)]) == 0
    return yaml.safe_load(out.read_text()), model_dir


def _predictions(model_dir: Path) -> list[int]:
    return joblib.load(model_dir / "model.joblib").predict(np.array(SAMPLE_ROWS)).tolist()


def _answer(body: str, media: str) -> list[int]:
    if media == "application/json":
        return [int(v) for v in json.loads(body)["predictions"]]
    return [int(float(v)) for v in body.split()]


@pytest.mark.parametrize("product", ["text/csv", "application/json"], indirect=True)
def test_every_command_on_the_page_runs_and_answers_with_the_models_predictions(
        product: tuple[dict[str, Any], Path], aws_cli: Path, moto: Server, image: str,
        tmp_path: Path) -> None:
    listing, model_dir = product
    media = listing["delivery"]["input"]["content_types"][0]
    # A JSON body is not line-delimited, so init measures no batch rate for it.
    assert ("batch_throughput_per_s" in listing["performance"]) == (media != "application/json")
    usage = listing["delivery"]["usage_instructions"]
    steps = commands(usage)
    assert any("invoke-endpoint" in c for c in steps)
    assert any("create-transform-job" in c for c in steps)
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)  # the buyer's own bucket
    buyer_dir = tmp_path / "buyer"
    buyer_dir.mkdir()
    buyer = Buyer(buyer_dir, aws_cli, moto.url)
    expected = _predictions(model_dir)
    deadline = time.monotonic() + 180
    while not housekeeping.port_free(localmode.DEFAULT_PORT):  # another SDK run holds it
        assert time.monotonic() < deadline, "port 8080 stayed busy"
        time.sleep(1)
    printed: dict[str, str] = {}
    # SDK local mode serves one thing on port 8080 at a time: the endpoint for the invokes,
    # then the transform job, each started where the page's commands reach them.
    with contextlib.ExitStack() as stack:
        endpoint: localmode.LocalEndpoint | None = None
        for command in steps:
            out = buyer.run(command)
            argv = _argv(command)
            if argv[:3] == ["aws", "sagemaker-runtime", "invoke-endpoint"]:
                if endpoint is None:
                    endpoint = stack.enter_context(localmode.local_endpoint(image, model_dir))
                body = (buyer_dir / str(_option(argv, "--body")).removeprefix("fileb://")
                        ).read_bytes()
                real = endpoint.invoke(body, _option(argv, "--content-type") or "",
                                       _option(argv, "--accept"),
                                       _option(argv, "--custom-attributes"))
                assert real.status == 200, real.body[:300]
                (buyer_dir / argv[-1]).write_bytes(real.body)  # where the CLI wrote moto's
            if argv[:3] == ["aws", "sagemaker", "wait"] and "transform-job" in argv[3]:
                stack.close()
                _transform_as_the_job_says(buyer.job(), moto.url, s3, image, model_dir,
                                           tmp_path)
            printed[command] = out
    assert endpoint is not None
    assert any(c.startswith("aws sagemaker delete-endpoint ") for c in printed)  # clean-up
    shown = {c: o for c, o in printed.items() if c.startswith("cat output")}
    assert len(shown) == 1
    assert _answer(next(iter(shown.values())), media) == expected
    fetched = [o for c, o in printed.items() if c.startswith("aws s3 cp \"s3://")]
    assert len(fetched) == 1
    assert _answer(fetched[0], media) == expected
    if media == "text/csv":  # a classifier's page also shows how to ask for probabilities
        probs = next(o for c, o in printed.items() if c.startswith("cat probabilities"))
        rows = [[float(v) for v in line.split(",")] for line in probs.split()]
        assert len(rows) == len(SAMPLE_ROWS)
        assert all(abs(sum(r) - 1) < 1e-6 for r in rows)


def _transform_as_the_job_says(job: str, moto_url: str, s3: Any, image: str, model_dir: Path,
                               tmp_path: Path) -> None:
    """Run the transform job moto recorded, with its own parameters, in SDK local mode, and
    write its outputs where SageMaker would have."""
    sm = boto3.client("sagemaker", endpoint_url=moto_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    d = sm.describe_transform_job(TransformJobName=job)
    source = d["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, _, prefix = source[5:].partition("/")
    data = tmp_path / "job-input"
    data.mkdir()
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        s3.download_file(bucket, obj["Key"], str(data / Path(obj["Key"]).name))
    out = tmp_path / "job-output"
    split = d["TransformInput"].get("SplitType", "None")
    assemble = d["TransformOutput"].get("AssembleWith", "None")
    localmode.sdk_transform(
        image, model_dir, data, out, content_type=d["TransformInput"]["ContentType"],
        split_type=split, strategy=d["BatchStrategy"],
        assemble_with=None if assemble == "None" else assemble,
        accept=d["TransformOutput"].get("Accept"))
    target_bucket, _, target = d["TransformOutput"]["S3OutputPath"][5:].partition("/")
    for result in out.iterdir():
        s3.upload_file(str(result), target_bucket, f"{target.rstrip('/')}/{result.name}")
