"""The CreateModelPackage(+Group) requests are pure functions of the spec: checked as dicts."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pkg_helpers import base_spec
from smkit.aws import publish
from smkit.core.errors import UserError
from smkit.project import spec as spec_mod
from smkit.project import spec_yaml

IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/smkit-test@sha256:{'a' * 64}"
URIS = {
    "model_data": "s3://b/p/model.tar.gz",
    "validation_input": "s3://b/p/validation/input.csv",
    "validation_output": "s3://b/p/validation-output/",
}


def make(spec_dir: Path, **top: object) -> spec_mod.Spec:
    data = base_spec("iris-test", "img:1")
    data.update(top)
    return spec_yaml.parse(data, spec_dir)


def test_the_unversioned_request_is_exactly_what_marketplace_needs(spec_dir: Path) -> None:
    spec = make(spec_dir)
    assert publish.model_package_request(spec, IMAGE, URIS) == {
        "ModelPackageName": "iris-test",
        "ModelPackageDescription": "Iris species classifier",
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://b/p/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["text/csv", "application/json"],
            "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large", "ml.c5.xlarge"],
            "SupportedTransformInstanceTypes": ["ml.m5.large"],
        },
        "ValidationSpecification": {
            "ValidationRole": "arn:aws:iam::123456789012:role/SageMakerValidation",
            "ValidationProfiles": [{
                "ProfileName": "validation",
                "TransformJobDefinition": {
                    "TransformInput": {
                        "DataSource": {"S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "s3://b/p/validation/input.csv"}},
                        "ContentType": "text/csv",
                        "CompressionType": "None",
                        "SplitType": "Line",
                    },
                    "TransformOutput": {"S3OutputPath": "s3://b/p/validation-output/",
                                        "AssembleWith": "Line"},
                    "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
                },
            }],
        },
        "CertifyForMarketplace": True,
    }


def test_a_versioned_request_names_the_group_and_optional_transform_settings(
    spec_dir: Path,
) -> None:
    data = base_spec("iris-test", "img:1")
    data["group"] = "iris-group"
    data["environment"] = {"SMKIT_DEFAULT_OUTPUT": "probabilities"}
    data["validation"].update(batch_strategy="MultiRecord", max_payload_mb=2,
                              max_concurrent_transforms=4, accept="application/json")
    spec = spec_yaml.parse(data, spec_dir)
    request = publish.model_package_request(spec, IMAGE, URIS)
    assert "ModelPackageName" not in request
    assert request["ModelPackageGroupName"] == "iris-group"
    assert request["InferenceSpecification"]["Containers"][0]["Environment"] == {
        "SMKIT_DEFAULT_OUTPUT": "probabilities"}
    job = request["ValidationSpecification"]["ValidationProfiles"][0]["TransformJobDefinition"]
    assert job["BatchStrategy"] == "MultiRecord"
    assert job["MaxPayloadInMB"] == 2
    assert job["MaxConcurrentTransforms"] == 4
    assert job["TransformOutput"]["Accept"] == "application/json"
    assert job["Environment"] == {"SMKIT_DEFAULT_OUTPUT": "probabilities"}
    assert publish.group_request(spec) == {
        "ModelPackageGroupName": "iris-group",
        "ModelPackageGroupDescription": "Iris species classifier",
    }


def test_the_s3_layout_is_content_addressed(spec_dir: Path) -> None:
    spec = make(spec_dir)
    assert publish.s3_layout(spec, "1" * 64, "2" * 64) == {
        "model_data": "s3://iris-test/smkit/iris-test/model/1111111111111111/model.tar.gz",
        "validation_input": "s3://iris-test/smkit/iris-test/validation/2222222222222222/input.csv",
        "validation_output": "s3://iris-test/smkit/iris-test/validation-output/",
    }


def test_the_stamp_is_stable_and_changes_with_the_content(spec_dir: Path) -> None:
    spec = make(spec_dir)
    request = publish.model_package_request(spec, IMAGE, URIS)
    stamped, key = publish.stamp(request)
    again, key2 = publish.stamp(copy.deepcopy(request))
    assert key == key2
    assert stamped == again
    # The key stays in smkit's own metadata: the description is the seller's, for buyers.
    assert stamped["ModelPackageDescription"] == "Iris species classifier"
    assert stamped["CustomerMetadataProperties"] == {"smkit:idempotency-key": key[:32]}
    assert stamped["Tags"] == [{"Key": "smkit:idempotency-key", "Value": key[:32]}]
    assert len(stamped["ClientToken"]) == 36
    assert stamped["ModelPackageName"] == f"iris-test-{key[:10]}"
    other = dict(URIS, model_data="s3://b/p/other/model.tar.gz")
    assert publish.stamp(publish.model_package_request(spec, IMAGE, other))[1] != key
    assert "ClientToken" not in request  # the pure request is not mutated


def test_an_image_not_referenced_by_digest_is_refused(spec_dir: Path) -> None:
    spec = make(spec_dir)
    with pytest.raises(UserError, match="not an ECR image by digest"):
        publish.model_package_request(spec, "smkit-inference:latest", URIS)
    with pytest.raises(UserError, match="is in eu-west-1, the spec's region is us-east-1"):
        publish.model_package_request(spec, IMAGE.replace("us-east-1", "eu-west-1"), URIS)
    with pytest.raises(UserError, match="is in account 999999999999"):
        publish.model_package_request(spec, IMAGE.replace("123456789012", "999999999999"), URIS)


def test_package_states_are_read_and_failures_explained() -> None:
    running = {"ModelPackageStatus": "InProgress", "ModelPackageStatusDetails": {
        "ValidationStatuses": [{"Name": "validation", "Status": "InProgress"}]}}
    scanning = {"ModelPackageStatus": "Completed", "ModelPackageStatusDetails": {
        "ValidationStatuses": [{"Name": "validation", "Status": "Completed"}],
        "ImageScanStatuses": [{"Name": "img", "Status": "InProgress"}]}}
    failed = {"ModelPackageStatus": "Failed", "ModelPackageStatusDetails": {
        "ValidationStatuses": [{"Name": "validation", "Status": "Failed",
                                "FailureReason": "ClientError: 415 from /invocations"}]}}
    assert not publish.is_finished(running)
    assert not publish.is_finished(scanning)
    assert publish.is_finished(failed)
    assert publish.describe_state(running) == "package InProgress, validation InProgress"
    assert publish.failures(failed) == [
        "the model package failed",
        "validation validation: ClientError: 415 from /invocations",
    ]


def test_a_long_unversioned_name_still_fits_sagemakers_63_characters(spec_dir: Path) -> None:
    spec = make(spec_dir, name="m" * 51 + "-" + "x" * 11)
    stamped, key = publish.stamp(publish.model_package_request(spec, IMAGE, URIS))
    assert stamped["ModelPackageName"] == "m" * 51 + "-" + key[:10]
    assert len(stamped["ModelPackageName"]) <= 63
