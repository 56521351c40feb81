"""Helpers for the listing tests: a valid listing, servers started as subprocesses, packages."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
import yaml
from smkit_testkit import free_port

REPO = Path(__file__).resolve().parents[2]
PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/iris-tree"
ROLE_ARN = "arn:aws:iam::123456789012:role/MarketplaceAccess"

VALID: dict[str, Any] = {
    "format": "smkit-listing/1",
    "product": {
        "title": "Iris species classifier",
        "short_description": "Tells the iris species from four flower measurements.",
        "long_description": "A decision tree trained on the classic iris data.\n\n"
                            "Use it to sort flowers in the field.",
        "highlights": ["Answers in milliseconds", "Explains nothing, predicts well"],
        "categories": ["Machine Learning"],
        "keywords": ["iris", "classification"],
        "logo_url": "https://example.com/logo.png",
        "additional_resources": [{"text": "Docs", "url": "https://example.com/docs"}],
    },
    "support": {"description": "Email support@example.com.",
                "refund_policy": "No refunds after 30 days."},
    "eula": {"type": "standard"},
    "training_data": {"source": "UCI iris", "size": "150 rows",
                      "limitations": "Only three species."},
    "accuracy": {"metric": "accuracy", "value": 0.96, "dataset": "30 held-out rows",
                 "measured_at": "2026-11-30"},
    "performance": {"instance_type": "ml.m5.large", "latency_ms_p50": 3.2,
                    "latency_ms_p95": 5.1, "throughput_per_s": 400,
                    "measured_on": "an ml.m5.large endpoint in us-east-1",
                    "measured_at": "2026-11-30"},
    "delivery": {
        "model_package_arn": PACKAGE_ARN,
        "access_role_arn": ROLE_ARN,
        "version_title": "1.0",
        "release_notes": "First release.",
        "usage_instructions": "Deploy, then invoke with text/csv.",
        "sample_notebook_url": "https://example.com/notebook.ipynb",
        "repository_url": "https://github.com/example/iris-classifier",
        "supported_instance_types": {"realtime": ["ml.m5.large", "ml.c5.xlarge"],
                                     "batch": ["ml.m5.large"]},
        "recommended_instance_types": {"realtime": "ml.m5.large", "batch": "ml.m5.large"},
        "metering": "none",
        "input": {"description": "Four measurements in cm.", "content_types": ["text/csv"],
                  "sample_file": "samples/input.csv"},
        "output": {"description": "The species.", "content_types": ["text/csv"],
                   "sample_file": "samples/output.csv"},
    },
    "pricing": {"model": "hourly",
                "realtime": {"ml.m5.large": "0.50", "ml.c5.xlarge": "0.80"},
                "batch": {"ml.m5.large": "0.40"},
                "free_trial_days": 14},
    "regions": ["us-east-1"],
    "visibility": "Public",
}


#: An offer's UpdateLegalTerms and UpdateSupportTerms details, as AWS's documents spell them.
LEGAL_TERMS: dict[str, Any] = {"Terms": [{"Type": "LegalTerm", "Documents": [
    {"Type": "StandardEula", "Version": "2022-07-14"}]}]}
SUPPORT_TERMS: dict[str, Any] = {"Terms": [{"Type": "SupportTerm",
                                            "RefundPolicy": "No refunds after 30 days."}]}


def delivery_details(option: dict[str, Any]) -> dict[str, Any]:
    """AddDeliveryOptions details: version 1.0 delivering the model package ``option``."""
    return {"Version": {"VersionTitle": "1.0", "ReleaseNotes": "First release."},
            "DeliveryOptions": [{"Details": {
                "SageMakerModelPackageDeliveryOptionDetails": option}}]}


def fill_todos(data: Any) -> Any:
    """What a seller writes in place of each TODO of a starter listing (never text about
    formats)."""
    if isinstance(data, dict):
        return {k: fill_todos(v) for k, v in data.items()}
    if isinstance(data, list):
        return [fill_todos(v) for v in data]
    if isinstance(data, str) and data.startswith("TODO"):
        if "https" in data:
            return "https://example.com/asset"
        if "USD" in data:
            return "0.25"
        if "date" in data:
            return "2026-11-30"
        if "free trial" in data:
            return 14
        if "role" in data:
            return ROLE_ARN
        return "Seller text"
    return data


def valid_data() -> dict[str, Any]:
    """A deep copy of a listing that passes every check."""
    return copy.deepcopy(VALID)


def write_listing(directory: Path, data: dict[str, Any]) -> Path:
    """Write listing.yaml and its sample files into ``directory``."""
    (directory / "samples").mkdir(parents=True, exist_ok=True)
    (directory / "samples" / "input.csv").write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3")
    (directory / "samples" / "output.csv").write_text("0\n2")
    path = directory / "listing.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class Server:
    """A server started as a subprocess."""

    url: str
    proc: subprocess.Popen


#: Every Catalog emulator ``start_catalog`` started: conftest.py judges each change set they
#: hold with the second oracle after each test.
CATALOGS: list[Server] = []


def wait_change_set(client: Any, cs_id: str, deadline_s: float = 30) -> dict[str, Any]:
    """The change set once it has ended (SUCCEEDED, FAILED or CANCELLED)."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        d = client.describe_change_set(Catalog="AWSMarketplace", ChangeSetId=cs_id)
        if d["Status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return dict(d)
        time.sleep(0.1)
    raise AssertionError(f"change set {cs_id} did not finish")


def wait_http(url: str, proc: subprocess.Popen, deadline_s: float = 20) -> None:
    """Poll ``url`` until anything answers; fail if the process exits first."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {deadline_s}s")


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server we started, and reap it."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_catalog(sagemaker_url: str | None = None, delay: float = 0.2,
                  review_delay: float = 0.5) -> Server:
    """Start ``python -m smkit.emulators.catalog`` on a free port and wait for its ready line."""
    port = free_port()
    args = [sys.executable, "-m", "smkit.emulators.catalog", "--host", "127.0.0.1",
            "--port", str(port), "--delay", str(delay), "--review-delay", str(review_delay)]
    if sagemaker_url:
        args += ["--sagemaker-endpoint", sagemaker_url]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "ready on http://127.0.0.1" in line, line
    server = Server(f"http://127.0.0.1:{port}", proc)
    CATALOGS.append(server)
    return server


def create_package(moto_url: str, name: str, *, realtime: list[str], batch: list[str],
                   certify: bool = True, metering: str | None = None,
                   content_types: tuple[str, ...] = ("text/csv", "application/json")) -> str:
    """Create a model package in moto over HTTP; return its ARN."""
    sm = boto3.client("sagemaker", endpoint_url=moto_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    container: dict[str, Any] = {
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/smkit:1",
        "ModelDataUrl": "s3://smkit-models/iris/model.tar.gz",
    }
    if metering:
        container["Environment"] = {"SMKIT_METERING": metering}
    resp = sm.create_model_package(
        ModelPackageName=name,
        ModelPackageDescription="Iris decision tree",
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": list(content_types),
            "SupportedResponseMIMETypes": list(content_types),
            "SupportedRealtimeInferenceInstanceTypes": realtime,
            "SupportedTransformInstanceTypes": batch,
        },
        CertifyForMarketplace=certify,
    )
    return str(resp["ModelPackageArn"])


def catalog_change(entity_type: str, change_type: str, details: dict[str, Any],
                   name: str | None, ref: str) -> dict[str, Any]:
    """One change of a StartChangeSet request: a new entity when ``name`` is given (others
    refer to it by ``$name``), else one change to the entity ``ref`` points at."""
    change: dict[str, Any] = {"ChangeType": change_type, "Entity": {"Type": entity_type},
                              "DetailsDocument": copy.deepcopy(details)}
    if name:
        change["ChangeName"] = name
    else:
        change["Entity"]["Identifier"] = ref
    return change

