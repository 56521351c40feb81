"""``smkit buyer``: the request builders, and the buyer's transform from a model package ARN
against the emulators (moto over HTTP, the real registry, SDK local mode, the real image).
The cloud job at scale (S3 prefixes, instances, options, cost) is in test_buyer_scale.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from smkit.buyer import jobs as buyer
from smkit.buyer.image import resolve_image
from smkit.buyer.package import region_of
from smkit.core.errors import PlatformError, UserError
from wheel_kit import DemoRun

ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/wine-abc"


def smkit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The CLI as a user runs it."""
    return subprocess.run([sys.executable, "-m", "smkit.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False)


def test_the_buyers_model_runs_with_network_isolation() -> None:
    assert buyer.model_request("m", ARN, "arn:aws:iam::123456789012:role/R") == {
        "ModelName": "m",
        "PrimaryContainer": {"ModelPackageName": ARN},
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/R",
        "EnableNetworkIsolation": True,
    }


def test_the_region_comes_from_the_arn_and_a_bad_arn_says_what_is_expected() -> None:
    assert region_of(ARN) == "eu-west-1"
    with pytest.raises(UserError, match="model-package/<name>"):
        region_of("wine-abc")


def test_a_package_without_an_image_digest_cannot_be_run() -> None:
    with pytest.raises(PlatformError, match="not referenced by digest"):
        resolve_image(None, "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:latest")  # type: ignore[arg-type]


@pytest.mark.container
def test_buyer_transform_local_from_the_arn_matches_the_sellers_transform(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    arn = demo_run.fact("model package")
    proc = smkit("buyer", "transform", "--model-package-arn", arn, "--input",
                 str(demo_run.out / "validation" / "input.csv"), "--output", str(tmp_path),
                 "--local", env=demo_env)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "input.csv.out"
    assert proc.stdout.strip() == str(out)
    assert "1 output file(s) from SageMaker SDK local mode" in proc.stderr
    assert out.read_bytes() == (demo_run.out / "local-transform" / "input.csv.out").read_bytes()
    # The SDK times nothing per request; the rate comes from the server's own access log.
    records = len((demo_run.out / "validation" / "input.csv").read_text().splitlines())
    assert f"records/s per instance ({records:,} records, " in proc.stderr
    assert "container start-up: " in proc.stderr


@pytest.mark.container
def test_buyer_transform_of_an_unknown_package_is_one_clear_line(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/does-not-exist"
    proc = smkit("buyer", "transform", "--model-package-arn", arn, "--input",
                 str(demo_run.out / "validation" / "input.csv"), "--output", str(tmp_path),
                 env=demo_env)
    assert proc.returncode == 1
    assert "DescribeModelPackage" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.container
def test_buyer_transform_refuses_a_content_type_the_package_does_not_support(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    proc = smkit("buyer", "transform", "--model-package-arn", demo_run.fact("model package"),
                 "--input", str(demo_run.out / "validation" / "input.csv"), "--output",
                 str(tmp_path), "--content-type", "application/x-npy", env=demo_env)
    assert proc.returncode == 2
    assert "--content-type application/x-npy is not supported by the model package" in \
        proc.stderr


@pytest.mark.container
def test_buyer_invoke_answers_from_a_local_endpoint_of_the_package(
        demo_run: DemoRun, demo_env: dict[str, str]) -> None:
    proc = smkit("buyer", "invoke", "--model-package-arn", demo_run.fact("model package"),
                 "--body", str(demo_run.out / "validation" / "request.csv"), "--accept",
                 "application/jsonlines", env=demo_env)
    assert proc.returncode == 0, proc.stderr
    assert "HTTP 200 application/jsonlines" in proc.stderr
    assert proc.stdout.split() == ['"cultivar_1"', '"cultivar_2"', '"cultivar_3"']
