"""The buyer's sample notebook: deploy the model package, invoke it with the sample, clean up.

Marketplace wants a notebook that runs end to end without the buyer supplying any data, so
the sample input is embedded and nothing is left to fill in: the model package ARN, content
type and instance type are written in, and the execution role comes from the SageMaker
environment (or ``SAGEMAKER_ROLE_ARN`` elsewhere). Written as nbformat 4 JSON by hand; no
Jupyter dependency is needed to produce it.
"""

from __future__ import annotations

import json
from typing import Any

from smkit.core import arns


def _code(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source.strip("\n").splitlines(keepends=True)}


def _markdown(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {},
            "source": source.strip("\n").splitlines(keepends=True)}


def build_notebook(*, title: str, model_package_arn: str, sample_input: str,
                   content_type: str, instance_type: str) -> dict[str, Any]:
    """The notebook as an nbformat 4 document."""
    region = arns.package_arn(model_package_arn).region
    cells = [
        _markdown(f"""
# {title}: try it on a real-time endpoint

1. Subscribe to this product on AWS Marketplace first (otherwise SageMaker answers
   "Caller is not subscribed to the marketplace listing").
2. Run every cell. The notebook brings its own sample data, deploys one `{instance_type}`
   endpoint, invokes it, and deletes everything it created in the last cell.
"""),
        _code(f"""
import json
import os
import time

import boto3

REGION = {json.dumps(region)}
MODEL_PACKAGE_ARN = {json.dumps(model_package_arn)}
INSTANCE_TYPE = {json.dumps(instance_type)}
CONTENT_TYPE = {json.dumps(content_type)}
SAMPLE_INPUT = {json.dumps(sample_input)}

name = f"smkit-sample-{{int(time.time())}}"
sm = boto3.client("sagemaker", region_name=REGION)
runtime = boto3.client("sagemaker-runtime", region_name=REGION)
"""),
        _markdown("The role SageMaker uses to run the model: the notebook's own in SageMaker "
                  "Studio or a notebook instance, or `SAGEMAKER_ROLE_ARN` anywhere else."),
        _code("""
role = os.environ.get("SAGEMAKER_ROLE_ARN")
if role is None:
    import sagemaker

    role = sagemaker.get_execution_role()
print("execution role:", role)
"""),
        _code("""
sm.create_model(
    ModelName=name,
    PrimaryContainer={"ModelPackageName": MODEL_PACKAGE_ARN},
    ExecutionRoleArn=role,
    EnableNetworkIsolation=True,
)
sm.create_endpoint_config(
    EndpointConfigName=name,
    ProductionVariants=[{"VariantName": "main", "ModelName": name,
                         "InitialInstanceCount": 1, "InstanceType": INSTANCE_TYPE}],
)
sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
sm.get_waiter("endpoint_in_service").wait(EndpointName=name)
print("endpoint", name, "is in service")
"""),
        _code("""
response = runtime.invoke_endpoint(EndpointName=name, ContentType=CONTENT_TYPE,
                                   Accept=CONTENT_TYPE, Body=SAMPLE_INPUT.encode())
print("input:")
print(SAMPLE_INPUT)
print("prediction:")
print(response["Body"].read().decode())
"""),
        _markdown("Clean up, so the endpoint stops billing."),
        _code("""
sm.delete_endpoint(EndpointName=name)
sm.delete_endpoint_config(EndpointConfigName=name)
sm.delete_model(ModelName=name)
print("deleted", name)
"""),
    ]
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
