"""The batch transform job's environment merge and its TransformJobDefinition."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator
from smkit.project.transform_job import TransformJob, container_environment

DEFINITION = botocore.session.get_session().get_service_model("sagemaker").shape_for(
    "TransformJobDefinition")


def test_the_job_overrides_the_package_and_sagemakers_batch_variables_come_last() -> None:
    job = TransformJob(batch_strategy="SingleRecord",
                       environment={"A": "job", "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD"})
    env = container_environment({"A": "package", "B": "package"}, job.environment,
                                job.batch_variables())
    assert env == {"A": "job", "B": "package", "SAGEMAKER_BATCH": "true",
                   "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD"}
    config = job.to_config([], Path("out"), environment={"A": "package", "B": "package"})
    assert config.container_environment == env


def test_the_definition_is_the_requests_own_parts_and_botocore_accepts_it() -> None:
    job = TransformJob(max_payload_mb=5, environment={"A": "1"}, instance_type="ml.c5.xlarge")
    definition = job.definition("s3://b/in/", "s3://b/out/")
    request = job.request("n", "m", "s3://b/in/", "s3://b/out/", instance_type="ml.c5.xlarge")
    assert definition["TransformInput"].pop("CompressionType") == "None"
    assert definition == {k: v for k, v in request.items()
                          if k not in ("TransformJobName", "ModelName")}
    definition["TransformInput"]["CompressionType"] = "None"
    assert ParamValidator().validate(definition, DEFINITION).generate_report() == ""


def test_a_definition_cannot_carry_data_processing() -> None:
    with pytest.raises(ValueError, match="DataProcessing"):
        TransformJob(join_source="Input", content_type="application/json").definition(
            "s3://b/in/", "s3://b/out/")
