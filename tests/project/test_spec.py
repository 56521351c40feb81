"""The spec is validated before any AWS call; each error names the field and the fix."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pkg_helpers import base_spec
from smkit.core.errors import UserError
from smkit.project import spec_yaml


def error_for(spec_dir: Path, **changes: Any) -> str:
    """The UserError message for base_spec with nested ``changes`` (dotted keys)."""
    data = copy.deepcopy(base_spec("iris-test", "smkit-inference:latest"))
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(last)
        else:
            node[last] = value
    with pytest.raises(UserError) as info:
        spec_yaml.parse(data, spec_dir)
    return str(info.value)


def test_the_base_spec_and_the_starter_template_are_valid(spec_dir: Path) -> None:
    spec = spec_yaml.parse(base_spec("iris-test", "img:1"), spec_dir)
    assert spec.account == "123456789012"
    assert spec.model_dir == (spec_dir / "model").resolve()
    assert spec.validation.input == (spec_dir / "validation/input.csv").resolve()
    starter = yaml.safe_load(spec_yaml.STARTER)
    starter["model_dir"], starter["validation"]["input"] = "model", "validation/input.csv"
    assert spec_yaml.parse(starter, spec_dir).name == "my-model"


def test_an_unknown_instance_type_is_named_with_a_suggestion(spec_dir: Path) -> None:
    msg = error_for(spec_dir, instance_types__realtime=["ml.m5.large", "ml.m5.lrge"])
    assert "instance_types.realtime[1]: 'ml.m5.lrge' is not a SageMaker real-time" in msg
    assert "did you mean ml.m5.large" in msg


def test_a_bogus_transform_type_is_refused(spec_dir: Path) -> None:
    msg = error_for(spec_dir, instance_types__transform=["ml.bogus"])
    assert "instance_types.transform[0]: 'ml.bogus' is not a SageMaker batch transform" in msg


def test_a_gpu_type_is_refused_because_the_image_is_cpu_only(spec_dir: Path) -> None:
    msg = error_for(spec_dir, instance_types__realtime=["ml.g5.xlarge"])
    assert "instance_types.realtime[0]: 'ml.g5.xlarge' is a GPU/accelerator type" in msg


@pytest.mark.parametrize("itype", ["ml.c7g.large", "ml.m6gd.xlarge", "ml.c6gn.2xlarge"])
def test_a_graviton_type_is_refused_because_the_image_is_x86(spec_dir: Path, itype: str
                                                              ) -> None:
    msg = error_for(spec_dir, instance_types__realtime=["ml.m5.large", itype])
    assert f"instance_types.realtime[1]: '{itype}' is an AWS Graviton (Arm) type" in msg
    assert "built for x86_64" in msg


def test_x86_types_that_share_letters_with_graviton_ones_are_accepted(spec_dir: Path) -> None:
    types = ["ml.m5.large", "ml.c6i.large", "ml.m6i.large", "ml.c5d.large", "ml.r5d.large"]
    data = copy.deepcopy(base_spec("iris-test", "smkit-inference:latest"))
    data["instance_types"]["realtime"] = types
    assert list(spec_yaml.parse(data, spec_dir).instance_types.realtime) == types


def test_a_role_name_instead_of_an_arn_says_how_the_arn_looks(spec_dir: Path) -> None:
    msg = error_for(spec_dir, validation__role="SageMakerValidation")
    assert ("validation.role: 'SageMakerValidation' is a role name; SageMaker needs the role "
            "ARN, e.g. arn:aws:iam::123456789012:role/SageMakerValidation") in msg


def test_a_malformed_arn_is_refused(spec_dir: Path) -> None:
    msg = error_for(spec_dir, validation__role="arn:aws:iam::1234:user/bob")
    assert "validation.role: 'arn:aws:iam::1234:user/bob' is not an IAM role ARN" in msg


def test_account_mismatch_between_role_and_account_id(spec_dir: Path) -> None:
    msg = error_for(spec_dir, account_id="210987654321")
    assert "resources are in different accounts" in msg
    assert "validation.role=123456789012" in msg
    assert "account_id=210987654321" in msg


def test_an_image_in_another_region_is_refused(spec_dir: Path) -> None:
    uri = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris@sha256:{'a' * 64}"
    msg = error_for(spec_dir, image__uri=uri)
    assert "image.uri is in eu-west-1 but region is us-east-1" in msg


def test_an_image_in_another_account_is_refused(spec_dir: Path) -> None:
    uri = f"999999999999.dkr.ecr.us-east-1.amazonaws.com/iris@sha256:{'a' * 64}"
    msg = error_for(spec_dir, image__uri=uri)
    assert "image.uri=999999999999" in msg


def test_an_image_uri_without_digest_is_refused(spec_dir: Path) -> None:
    msg = error_for(spec_dir, image__uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/iris:1")
    assert "image.uri:" in msg
    assert "reference the image by digest" in msg


def test_a_content_type_the_container_does_not_speak(spec_dir: Path) -> None:
    msg = error_for(spec_dir, content_types=["text/csv", "text/plain"])
    assert ("content_types[1]: 'text/plain' is not a type the smkit image speaks; use one of "
            "text/csv, application/json, application/jsonlines, application/x-npy") in msg


def test_the_validation_type_must_be_one_buyers_may_send(spec_dir: Path) -> None:
    msg = error_for(spec_dir, content_types=["application/json"])
    assert "validation.content_type text/csv is not in content_types" in msg


def test_an_opt_in_region_is_refused(spec_dir: Path) -> None:
    msg = error_for(spec_dir, region="af-south-1")
    assert "region: af-south-1 is an opt-in region" in msg


def test_batch_limits_are_checked(spec_dir: Path) -> None:
    msg = error_for(spec_dir, validation__max_payload_mb=50,
                    validation__max_concurrent_transforms=4)
    assert "max_concurrent_transforms x max_payload_mb is 200" in msg


def test_unknown_and_missing_fields_are_named(spec_dir: Path) -> None:
    msg = error_for(spec_dir, s3__bucket=None, instance_type=["ml.m5.large"])
    assert "s3.bucket: is required" in msg
    assert "instance_type: unknown field; check its spelling" in msg


def test_paths_are_checked_relative_to_the_spec(spec_dir: Path) -> None:
    msg = error_for(spec_dir, model_dir="nope")
    assert "model_dir:" in msg
    assert "is not a directory" in msg


def test_the_cli_reports_a_bad_spec_in_one_line_with_exit_2(spec_dir: Path) -> None:
    data = base_spec("iris-test", "img:1")
    data["validation"]["role"] = "MyRole"
    (spec_dir / "smkit.yaml").write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-m", "smkit.cli", "publish", "smkit.yaml"],
                          cwd=spec_dir, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "validation.role: 'MyRole' is a role name" in lines[0]


def test_the_cli_reports_broken_yaml_with_its_line(spec_dir: Path) -> None:
    (spec_dir / "smkit.yaml").write_text("name: x\nregion: [us-east-1\n")
    proc = subprocess.run([sys.executable, "-m", "smkit.cli", "spec", "check"],
                          cwd=spec_dir, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "not valid YAML at line" in proc.stderr
