"""push, publish and preflight against a real moto server over HTTP and a real registry."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests
import yaml
from pkg_helpers import unique
from smkit.aws import clients as aws
from smkit.aws import publish, push
from smkit.core.errors import UserError
from smkit.core.procs import pid_alive
from smkit.emulators import manager
from smkit.image import artifact
from smkit.preflight import checks as preflight
from smkit.project import spec_yaml

pytestmark = pytest.mark.container
ROLE = "SageMakerValidation"


def smkit(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smkit.cli", *args], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def role(aws_env: dict[str, str]) -> str:
    iam = boto3.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    return ROLE


def test_emulators_up_is_idempotent_and_env_points_at_them(emulators: dict[str, str],
                                                           emulator_home: Path) -> None:
    before = manager.read_state(emulator_home)
    assert set(before) >= {"moto", "registry"}
    assert manager.up(emulator_home) == before  # already running: nothing restarted
    assert requests.get(f"http://{emulators['SMKIT_REGISTRY']}/v2/", timeout=5).status_code == 200
    proc = smkit("emulators", "env", cwd=emulator_home, env={"SMKIT_HOME": str(emulator_home)})
    assert proc.returncode == 0, proc.stderr
    assert f"export AWS_ENDPOINT_URL={emulators['AWS_ENDPOINT_URL']}" in proc.stdout
    assert f"export SMKIT_REGISTRY={emulators['SMKIT_REGISTRY']}" in proc.stdout


def test_emulators_down_stops_exactly_what_up_started(tmp_path: Path) -> None:
    services = manager.up(tmp_path, with_catalog=False)
    pids = [s.pid for s in services.values()]
    assert all(pid_alive(p) for p in pids)
    assert manager.down(tmp_path) == ["moto", "registry"]
    assert not any(pid_alive(p) for p in pids)
    assert manager.read_state(tmp_path) == {}
    proc = smkit("emulators", "env", cwd=tmp_path, env={"SMKIT_HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert "the emulators are not running" in proc.stderr


def test_push_creates_the_repository_once_and_returns_the_registry_digest(
    aws_env: dict[str, str], write_spec, pinned_image: str
) -> None:
    repo = unique("smkit-push")
    spec = spec_yaml.load(write_spec(image={"local": pinned_image, "repository": repo,
                                           "tag": "t1"}))
    session = aws.connect("us-east-1")
    first = push.push(spec, session)
    second = push.push(spec, session)
    assert first.created_repository
    assert not second.created_repository
    assert first.digest == second.digest
    assert first.repository_uri == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{repo}"
    assert first.reference == f"{first.repository_uri}@{first.digest}"
    repos = boto3.client("ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repos].count(repo) == 1
    head = requests.head(
        f"http://{aws_env['SMKIT_REGISTRY']}/v2/{repo}/manifests/t1", timeout=10,
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == first.digest


def test_publish_twice_from_the_cli_makes_one_certified_package(aws_env: dict[str, str],
                                                                write_spec, role: str) -> None:
    path = write_spec()
    name = yaml.safe_load(path.read_text())["name"]
    runs = [smkit("publish", str(path), cwd=path.parent, env=aws_env) for _ in range(2)]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
    arns = [line.split(": ", 1)[1] for p in runs for line in p.stdout.splitlines()
            if line.startswith("model package: ")]
    assert len(arns) == 2
    assert arns[0] == arns[1]
    assert "created model package" in runs[0].stderr
    assert "model package already exists for this spec and content" in runs[1].stderr
    assert "already in S3" in runs[1].stderr
    assert "status: package Completed, validation Completed" in runs[1].stdout
    sm = boto3.client("sagemaker")
    listed = sm.list_model_packages(NameContains=name)["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in listed] == [arns[0]]
    desc = sm.describe_model_package(ModelPackageName=arns[0])
    assert desc["CertifyForMarketplace"] is True
    image = desc["InferenceSpecification"]["Containers"][0]["Image"]
    assert image.startswith("123456789012.dkr.ecr.us-east-1.amazonaws.com/smkit-test@sha256:")
    assert desc["ValidationSpecification"]["ValidationRole"].endswith(f":role/{role}")
    data_url = desc["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    bucket, _, key = data_url.removeprefix("s3://").partition("/")
    assert boto3.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0


def test_a_versioned_package_is_reused_until_the_content_changes(aws_env: dict[str, str],
                                                                 write_spec, role: str) -> None:
    group = unique("iris-group")
    path = write_spec(group=group)
    spec = spec_yaml.load(path)
    session = aws.connect("us-east-1")
    built = artifact.build(spec)
    image_ref = push.push(spec, session).reference
    lines: list[str] = []
    first = publish.publish(spec, session, built, image_ref, lines.append, interval=0.1)
    again = publish.publish(spec, session, built, image_ref, lines.append, interval=0.1)
    assert first.created
    assert not again.created
    assert again.arn == first.arn
    # New validation data is new content: a second version in the same group.
    path = write_spec(group=group, name=spec.name, rows=40)
    changed = publish.publish(spec_yaml.load(path), session, built, image_ref, lines.append,
                              interval=0.1)
    assert changed.created
    assert changed.arn != first.arn
    listed = boto3.client("sagemaker").list_model_packages(ModelPackageGroupName=group)
    assert sorted(p["ModelPackageArn"] for p in listed["ModelPackageSummaryList"]) == sorted(
        [first.arn, changed.arn])


def test_credentials_for_another_account_are_refused_before_any_upload(
    aws_env: dict[str, str], write_spec
) -> None:
    path = write_spec(validation={"role": "arn:aws:iam::999999999999:role/Other",
                                  "input": "validation/input.csv"})
    with pytest.raises(UserError, match="credentials are for account 123456789012 but the "
                                        "spec's roles/account_id are in 999999999999"):
        publish.check_account(aws.connect("us-east-1"), spec_yaml.load(path))


def test_preflight_passes_for_a_good_spec(aws_env: dict[str, str], write_spec,
                                          role: str) -> None:
    spec = spec_yaml.load(write_spec())
    session = aws.connect("us-east-1")
    image_ref = push.push(spec, session).reference
    report = preflight.run(spec, session, image_ref=image_ref)
    assert [(c.name, c.status) for c in report.checks] == [
        ("spec", "pass"), ("role ARNs", "pass"), ("one account and region", "pass"),
        ("model package request", "pass"), ("image pushed by digest", "pass"),
        ("model file scan", "pass"), ("artifact and versions", "pass"),
        ("image under --network none", "pass"), ("validation transform", "pass"),
        ("ml.m5.large real-time", "pass"), ("ml.c5.xlarge real-time", "pass"),
        ("ml.m5.large batch", "pass"), ("instance types", "pass"),
    ], report.render()
    assert report.ok
    assert report.figures["startup_seconds"] < 240
    assert report.figures["transform_records"] == 30
    assert "preflight: ready to submit" in report.render()


def test_preflight_names_each_failing_check_and_the_cli_exits_2(aws_env: dict[str, str],
                                                                write_spec) -> None:
    name = unique("far")
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    path = write_spec(name=name, validation={"role": "arn:aws:iam::123456789012:role/Missing",
                                             "input": "validation/input.csv"})
    absent = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/smkit-test@sha256:{'0' * 64}"
    proc = smkit("preflight", str(path), "--image-uri", absent, cwd=path.parent, env=aws_env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert "FAIL  role ARNs" in out
    assert "role/Missing does not exist; create the role" in out
    assert f"FAIL  one account and region      s3.bucket {name} is in eu-west-1" in out
    assert "PASS  image under --network none" in out
    assert f"FAIL  image pushed by digest      {absent} is not in the registry" in out
    assert "preflight: 3 check(s) failed" in out
    assert ("preflight failed: role ARNs, one account and region, image pushed by digest"
            in proc.stderr)


def test_a_publish_interrupted_after_the_upload_converges_on_rerun(aws_env: dict[str, str],
                                                                   write_spec, role: str) -> None:
    spec = spec_yaml.load(write_spec())
    session = aws.connect("us-east-1")
    built = artifact.build(spec)
    image_ref = push.push(spec, session).reference
    # The interrupted run got as far as creating the bucket and uploading the artifact.
    publish.ensure_bucket(session, spec)
    validation_sha = hashlib.sha256(spec.validation.input.read_bytes()).hexdigest()
    uris = publish.s3_layout(spec, built.sha256, validation_sha)
    assert publish.upload(session, built.path, uris["model_data"], built.sha256)
    lines: list[str] = []
    first = publish.publish(spec, session, built, image_ref, lines.append, interval=0.1)
    second = publish.publish(spec, session, built, image_ref, lines.append, interval=0.1)
    assert f"already in S3: {uris['model_data']}" in lines
    assert f"uploaded: {uris['validation_input']}" in lines
    assert first.created
    assert (second.created, second.arn) == (False, first.arn)
    listed = boto3.client("sagemaker").list_model_packages(NameContains=spec.name)
    assert [p["ModelPackageArn"] for p in listed["ModelPackageSummaryList"]] == [first.arn]


def test_an_emulator_whose_port_was_taken_is_restarted_on_another(tmp_path: Path) -> None:
    ports: list[int] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]

        def command(port: int) -> list[str]:
            # The first attempt gets a port someone else holds, as in a race.
            ports.append(busy if not ports else port)
            return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                    str(ports[-1])]

        service = manager._start("moto", command, tmp_path)
    try:
        assert len(ports) == 2
        assert ports[0] == busy
        assert service.port != busy
        assert manager.HEALTH["moto"](service)
    finally:
        manager._stop(service)


def test_publish_refuses_a_validation_role_that_does_not_exist_before_any_upload(
        aws_env: dict[str, str], write_spec) -> None:
    path = write_spec(validation={"role": "arn:aws:iam::123456789012:role/NoSuchRole",
                                  "input": "validation/input.csv"})
    s3 = boto3.client("s3")

    def objects() -> int:
        buckets = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        return sum(len(s3.list_objects_v2(Bucket=b).get("Contents", [])) for b in buckets)

    before = objects()
    proc = smkit("publish", str(path), "--no-verify", cwd=path.parent, env=aws_env)
    assert proc.returncode == 2, proc.stderr
    first = next(ln for ln in proc.stderr.splitlines() if ln.startswith("error:"))
    assert "validation.role arn:aws:iam::123456789012:role/NoSuchRole does not exist" in first
    assert objects() == before


def test_the_role_check_is_one_for_preflight_and_publish(aws_env: dict[str, str],
                                                         role: str) -> None:
    from smkit.aws.roles import FAIL, PASS, check_role

    session = aws.connect("us-east-1")
    good = f"arn:aws:iam::123456789012:role/{role}"
    assert check_role(session, good, field="validation.role").status == PASS
    missing = check_role(session, "arn:aws:iam::123456789012:role/Missing",
                         field="validation.role")
    assert missing.status == FAIL
    assert "does not exist" in missing.detail
    other = check_role(session, "arn:aws:iam::999999999999:role/X", field="access role",
                       account="123456789012")
    assert other.status == FAIL
    assert "not the seller's account 123456789012" in other.detail


class _Evil:
    """Pickles as a call of os.system: what a tampered model file does."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("echo owned",))


def test_preflight_repeats_the_model_scans_security_finding(write_spec, tmp_path: Path) -> None:
    import pickle

    model_dir = tmp_path / "tampered"
    model_dir.mkdir()
    (model_dir / "model.joblib").write_bytes(pickle.dumps(_Evil()))
    spec = spec_yaml.load(write_spec(model_dir=model_dir))
    status, detail = preflight.check_model_scan(spec)
    assert status == "fail"
    assert detail.startswith("SECURITY: model.joblib")
    assert "system" in detail
    status, detail = preflight.check_model_scan(spec_yaml.load(write_spec()))
    assert status == "pass", detail
