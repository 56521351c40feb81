"""Write the two notebooks (without outputs) from the cells below: ``python build_notebooks.py``.

01_seller_publish.ipynb: the seller's journey, step by step, on the embedded emulators.
02_buyer_batch_transform.ipynb: what a buyer runs from a model package ARN (Marketplace's
"notebook that runs end to end without the buyer's data").
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNEL = {"display_name": "Python 3 (smkit .venv)", "language": "python", "name": "python3"}


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell."""
    return new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    """A code cell."""
    return new_code_cell(text.strip("\n"))


SELLER = [
    md("""
# Publish a scikit-learn model on AWS Marketplace with smkit

This notebook is the seller's journey, one step per cell: train a model, check it the way
SageMaker will run it, package it, push the image, run Marketplace's checks locally, create the
certified model package, and publish the listing.

It runs **offline by default**, on the emulators smkit embeds: a moto server (S3, ECR, IAM,
STS, SageMaker), a local registry standing in for ECR, and a Marketplace Catalog API emulator.
Nothing here needs an AWS account.

**For real AWS**, change only the cells marked **[AWS]**: set `OFFLINE = False` below, give
your bucket and role ARNs in the spec cell, and skip the emulator cell. Every other cell runs
the same smkit commands against AWS.
"""),
    md("## Set-up **[AWS]**"),
    code('''
import os
import subprocess
import sys
from pathlib import Path

OFFLINE = True  # [AWS] False: use your AWS credentials and real services
REPO = Path.cwd().resolve().parent
WORKDIR = Path(os.environ.get("SMKIT_SELLER_DIR", REPO / ".smkit" / "notebooks" / "seller"))
WORKDIR = WORKDIR.resolve()
WORKDIR.mkdir(parents=True, exist_ok=True)


def smkit(*args: object) -> str:
    """Run an smkit command as in a terminal (in WORKDIR); stop here if it fails."""
    proc = subprocess.run([sys.executable, "-m", "smkit.cli", *map(str, args)], cwd=WORKDIR,
                          capture_output=True, text=True, check=False)
    print(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"smkit {args[0]} failed (exit {proc.returncode})")
    return proc.stdout


print("working in", WORKDIR)
'''),
    md("""
## 1. Train the model

Replace this cell with your own model: anything scikit-learn can `joblib.dump`, an estimator
or a whole `Pipeline`. The example is scikit-learn's wine data (no download) with the `hue`
column turned into a string band, so the Pipeline one-hot encodes a categorical column, as
real data needs. The files smkit needs are `model/model.joblib` and some held-out records
for validation.
"""),
    code('''
import joblib
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from smkit.demo import example_data

frame, labels = example_data()
numeric = [c for c in frame.columns if c != "hue_band"]
x_train, x_test, y_train, y_test = train_test_split(
    frame, labels, test_size=0.25, random_state=0, stratify=labels)
model = Pipeline([
    ("features", ColumnTransformer([
        ("band", OneHotEncoder(handle_unknown="ignore"), ["hue_band"]),
        ("numeric", StandardScaler(), numeric),
    ])),
    ("classifier", LogisticRegression(max_iter=1000)),
]).fit(x_train, y_train)
print(f"accuracy on {len(x_test)} held-out rows: {model.score(x_test, y_test):.3f}")

(WORKDIR / "model").mkdir(exist_ok=True)
joblib.dump(model, WORKDIR / "model" / "model.joblib")
(WORKDIR / "validation").mkdir(exist_ok=True)
x_test.to_csv(WORKDIR / "validation" / "input.csv", header=False, index=False)
x_test.assign(label=y_test).to_csv(WORKDIR / "validation" / "labeled.csv", header=False,
                                   index=False)
x_test.head(3).to_csv(WORKDIR / "validation" / "request.csv", header=False, index=False)
frame.head()
'''),
    md("""
## 2. The model's own image

`smkit env detect` reads `model.joblib` **without loading it** and writes the `python:`
section of the spec: the libraries the pickle needs, at the versions installed in this
(the training) environment, and any module of your own it imports. `smkit build` turns it
into the product image: smkit's server base plus those packages, resolved on this machine and
installed offline, named by its content (so the same environment is built once).
"""),
    code('''
PYTHON_SECTION = smkit("env", "detect", "--model", "model/model.joblib")

ACCOUNT = "123456789012"  # [AWS] your account (moto's default account offline)
SPEC = f"""
name: wine-cultivar
region: us-east-1
account_id: "{ACCOUNT}"
description: Wine cultivar classifier (scikit-learn Pipeline)
model_dir: model
image:
  repository: wine-cultivar
  tag: "0.1.0"
s3:
  bucket: smkit-seller-{ACCOUNT}          # [AWS] your bucket, same region
  prefix: smkit
content_types: [text/csv, application/json]
response_types: [text/csv, application/json]
instance_types:
  realtime: [ml.m5.large]
  transform: [ml.m5.large]
validation:
  role: arn:aws:iam::{ACCOUNT}:role/SmkitDemoValidation   # [AWS] your role ARN
  input: validation/input.csv
  content_type: text/csv
  split_type: Line
  instance_type: ml.m5.large
output_dir: build
{PYTHON_SECTION}"""
(WORKDIR / "smkit.yaml").write_text(SPEC)
IMAGE = smkit("build", "smkit.yaml").strip().splitlines()[-1]
print(IMAGE, "is ready")
'''),
    md("""
## 3. Run it as SageMaker will: a local endpoint and a local batch transform

The SageMaker SDK's local mode deploys the image with the model, answers a request, and is
torn down again. Then a batch transform over the held-out records writes `input.csv.out`,
one prediction per line, exactly as a transform job would.
"""),
    code('''
from smkit.image.docker import free_port

PORT = free_port()  # the SDK binds the port on the host; a free one avoids clashes
smkit("local", "endpoint", "model", "--spec", "smkit.yaml", "--port", PORT,
      "--sample", "validation/request.csv")
smkit("local", "transform", "model", "validation/input.csv", "local-transform",
      "--spec", "smkit.yaml", "--port", PORT, "--strategy", "MultiRecord")
print((WORKDIR / "local-transform" / "input.csv.out").read_text()[:200])
'''),
    md("""
## 4. The emulators **[AWS: skip this cell]**

`smkit emulators up` starts them on free local ports (a no-op when they already run);
their variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_MARKETPLACE_CATALOG`, `SMKIT_REGISTRY`,
dummy credentials) point boto3 and `smkit push` at them, as `eval "$(smkit emulators env)"`
does in a shell. A real seller account already has its IAM roles; on the emulator the cell
creates them.
"""),
    code('''
if OFFLINE:
    from smkit.demo import ensure_roles
    from smkit.emulators import manager

    services = manager.up()
    os.environ.update(manager.environ(services))
    for service in services.values():
        print(f"{service.name:9} {service.url}")
    print("roles created:", ensure_roles(manager.environ(services)) or "already there")
'''),
    md("""
## 5. The package spec **[AWS]**

One YAML file describes the model package (the cell in section 2 wrote it). For real AWS,
put your account's bucket, region and **role ARNs** (not role names) there. `smkit spec
check` validates it before any AWS call.
"""),
    code('''
print((WORKDIR / "smkit.yaml").read_text())
smkit("spec", "check", "smkit.yaml")
'''),
    md("""
## 6. Package, push, preflight

* `smkit package`: a deterministic `model.tar.gz` with a manifest (hashes, library versions,
  features, classes), proven to load and predict inside the image with no network.
* `smkit push`: the image into the ECR repository (created if missing), referenced by digest.
* `smkit preflight`: Marketplace's checks, locally, one PASS/FAIL line each.
"""),
    code('''
smkit("package", "smkit.yaml")
IMAGE_URI = smkit("push", "smkit.yaml").strip().splitlines()[-1]
smkit("preflight", "smkit.yaml", "--image-uri", IMAGE_URI)
'''),
    md("""
## 7. The certified model package

`smkit publish` uploads the artifact and validation data, creates the model package with
`CertifyForMarketplace=True` and waits for validation (on AWS this can take hours; the
emulator finishes at once). Re-running it does not create a duplicate.
"""),
    code('''
import re

text = smkit("publish", "smkit.yaml", "--no-verify", "--timeout", "600")
MODEL_PACKAGE_ARN = re.search(r"model package: (arn:\\S+)", text).group(1)
(WORKDIR / "model_package_arn.txt").write_text(MODEL_PACKAGE_ARN)
MODEL_PACKAGE_ARN
'''),
    md("""
## 8. The listing

`smkit listing init` reads the package and the model's manifest, runs the image to measure
latency, throughput and accuracy, writes the sample input and output, and leaves a `TODO`
for every text only you can write. Edit `listing.yaml` by hand; here the cell fills the
TODOs with the example's text so the notebook runs end to end. `check` refuses any TODO left.
"""),
    code('''
from smkit.demo import ACCESS_ROLE, fill_listing, listing_text

smkit("listing", "init", "--model-package", MODEL_PACKAGE_ARN,
      "--validation", "validation/labeled.csv", "--access-role-arn", ACCESS_ROLE,
      "--image", IMAGE, "--out", "listing/listing.yaml", "--force")
fill_listing(WORKDIR / "listing" / "listing.yaml", listing_text())
smkit("listing", "check", "listing/listing.yaml", "--against-package")
'''),
    md("""
## 9. Publish the listing: a dry run, then for real

The change set goes to the Marketplace Catalog API with `Intent=VALIDATE` first (nothing
changes), then `Intent=APPLY`. The preview is the page a buyer would see.
"""),
    code('''
smkit("listing", "publish", "listing/listing.yaml", "--intent", "VALIDATE", "--interval", "0.5")
smkit("listing", "publish", "listing/listing.yaml", "--intent", "APPLY", "--interval", "0.5")
smkit("listing", "preview", "listing/listing.yaml", "--out", "listing/preview.html")
print("open", WORKDIR / "listing" / "preview.html")
'''),
    md("""
## Next

* `02_buyer_batch_transform.ipynb` runs this model package as a buyer would; the emulators
  stay up for it. Stop them with `smkit emulators down` when you are done.
* For real AWS: `OFFLINE = False`, your bucket and role ARNs in the spec, credentials in the
  environment, and no `AWS_ENDPOINT_URL*` or `SMKIT_REGISTRY` variables.
"""),
]

BUYER_SAMPLE_ROWS = 6

BUYER = [
    md("""
# Batch transform and a real-time endpoint from a model package

AWS Marketplace asks every model seller for a notebook that runs end to end **without the
buyer's data**. This is it: from the model package ARN it creates a model with network
isolation (buyers always run that way), runs a batch transform on the embedded sample
records and reads the results, then invokes a real-time endpoint.

Offline (the default) the model package is resolved on smkit's emulators and runs through
the SageMaker SDK's local mode: the same image (by digest) and the same `model.tar.gz` that
SageMaker would run. Publish one first with `01_seller_publish.ipynb` (or
`smkit demo --keep-emulators`). **[AWS]** cells say what changes for real AWS.
"""),
    md("## Set-up **[AWS]**"),
    code('''
import os
import uuid
from pathlib import Path

import boto3
from smkit.buyer import jobs as buyer
from smkit.buyer.package import package_from_description, region_of

OFFLINE = True  # [AWS] False: a real subscription, a real transform job and endpoint
REPO = Path.cwd().resolve().parent
SELLER_DIR = Path(os.environ.get("SMKIT_SELLER_DIR", REPO / ".smkit" / "notebooks" / "seller"))
ROLE_ARN = "arn:aws:iam::123456789012:role/SmkitDemoValidation"  # [AWS] your SageMaker role
S3_URI = "s3://smkit-buyer-123456789012/batch"  # [AWS] a bucket of yours, same region

MODEL_PACKAGE_ARN = os.environ.get("SMKIT_MODEL_PACKAGE_ARN", "")  # [AWS] the product's ARN
if not MODEL_PACKAGE_ARN and (SELLER_DIR / "model_package_arn.txt").is_file():
    MODEL_PACKAGE_ARN = (SELLER_DIR / "model_package_arn.txt").read_text().strip()
if not MODEL_PACKAGE_ARN:
    raise RuntimeError("no model package ARN: run 01_seller_publish.ipynb first, or set "
                       "SMKIT_MODEL_PACKAGE_ARN")
REGION = region_of(MODEL_PACKAGE_ARN)
WORKDIR = Path(os.environ.get("SMKIT_BUYER_DIR", REPO / ".smkit" / "notebooks" / "buyer"))
WORKDIR = WORKDIR.resolve()
WORKDIR.mkdir(parents=True, exist_ok=True)
MODEL_PACKAGE_ARN
'''),
    md("""
## Offline: point boto3 at the emulators **[AWS: skip this cell]**
"""),
    code('''
if OFFLINE:
    from smkit.emulators import manager

    services = manager.read_state()
    if not manager.healthy(services):
        raise RuntimeError("the emulators are not running: run 01_seller_publish.ipynb or "
                           "`smkit emulators up` first")
    os.environ.update(manager.environ(services))
    print("emulators:", ", ".join(s.url for s in services.values()))
'''),
    md("""
## The model package

What the buyer subscribed to: the image (by digest), the artifact, and the content types and
instance types the seller supports.
"""),
    code('''
sagemaker = boto3.client("sagemaker", region_name=REGION)
package = package_from_description(
    sagemaker.describe_model_package(ModelPackageName=MODEL_PACKAGE_ARN))
print("status:        ", package.status)
print("image:         ", package.image)
print("content types: ", package.content_types, "->", package.response_types)
print("batch on:      ", package.transform_types, " real-time on:", package.realtime_types)
'''),
    md("""
## Create a model with network isolation

`CreateModel` with the model package and `EnableNetworkIsolation=True`: the container gets
no network and no AWS credentials, as on Marketplace.
"""),
    code('''
MODEL_NAME = f"buyer-{uuid.uuid4().hex[:8]}"
request = buyer.model_request(MODEL_NAME, MODEL_PACKAGE_ARN, ROLE_ARN)
assert request["EnableNetworkIsolation"] is True
sagemaker.create_model(**request)
model = sagemaker.describe_model(ModelName=MODEL_NAME)
# AWS echoes EnableNetworkIsolation in DescribeModel; the moto emulator always says False.
print(MODEL_NAME, "created with network isolation; DescribeModel says",
      model.get("EnableNetworkIsolation"))
'''),
    md("""
## The sample data

Embedded here, so the notebook needs nothing from the buyer: held-out records of the
training data, one per line (CSV, no header): 12 measurements and the hue band.
"""),
    code('''
SAMPLE = """__SAMPLE__"""
(WORKDIR / "input").mkdir(exist_ok=True)
(WORKDIR / "input" / "sample.csv").write_text(SAMPLE)
print(SAMPLE)
'''),
    md("""
## Batch transform

Offline, smkit resolves the package on the emulator (`DescribeModelPackage` gives the image
and `ModelDataUrl`), downloads the artifact from S3, finds the image by its digest, and runs
the transform under SageMaker local mode. **[AWS]** With `OFFLINE = False` the same call runs
`CreateTransformJob` on the model created above's package and waits for it.
"""),
    code('''
if OFFLINE:
    outcome = buyer.local_transform(MODEL_PACKAGE_ARN, WORKDIR / "input", WORKDIR / "output",
                                    content_type="text/csv", echo=print)
else:
    outcome = buyer.cloud_transform(MODEL_PACKAGE_ARN, WORKDIR / "input", WORKDIR / "output",
                                    role_arn=ROLE_ARN, s3_uri=S3_URI, echo=print)
predictions = outcome.outputs[0].read_text().splitlines()
records = SAMPLE.splitlines()
assert len(predictions) == len(records), (len(predictions), len(records))
for record, prediction in zip(records, predictions, strict=True):
    print(f"{prediction:12} <- {record}")
'''),
    md("""
## At scale: a sharded job over an S3 prefix, on several instances

Real data lives in S3, often as many objects. A transform job over a prefix on several
instances gives each instance a share of the objects, assigned by key (`ShardedByS3Key`: batch
transform never sends one object to two instances), and writes one `<key>.out` per object
under the output prefix. smkit checks every option against the model package (instance type,
content and accept types, MaxPayloadInMB x MaxConcurrentTransforms <= 100) before it creates
anything, then shows the job's status, elapsed time and, with the listing's hourly price, the
software cost so far. Offline, moto only records the job, so smkit runs SageMaker's side here
(one container per instance). **[AWS]** The same call runs the job on SageMaker. In a terminal:

```bash
smkit buyer transform --cloud --model-package-arn ARN --role-arn ROLE_ARN \\
  --input s3://your-bucket/data/ --output s3://your-bucket/predictions/ \\
  --instance-count 2 --max-concurrent 2 --max-payload 1
```

Rehearse it on this machine first with `--local` instead of `--cloud` (a local folder as
`--input`): the same job description, one container per instance, the files sharded the same
way.
"""),
    code('''
from smkit.project.transform_job import TransformJob

s3 = boto3.client("s3", region_name=REGION)
BUCKET, _, PREFIX = S3_URI[len("s3://"):].partition("/")
if OFFLINE and BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
    s3.create_bucket(Bucket=BUCKET)  # [AWS] your bucket already exists
RUN = f"{PREFIX}/{uuid.uuid4().hex[:8]}"
for i in range(3):  # three objects: one instance gets two of them, the other one
    part = "".join(line + "\\n" for line in records[i::3])
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/input/part-{i}.csv", Body=part.encode())

job = TransformJob(content_type="text/csv", instance_count=2, max_concurrent_transforms=2,
                   max_payload_mb=1)
listing = SELLER_DIR / "listing" / "listing.yaml"  # its pricing gives the cost estimate
scaled = buyer.cloud_transform(
    MODEL_PACKAGE_ARN, f"s3://{BUCKET}/{RUN}/input/", f"s3://{BUCKET}/{RUN}/output/",
    role_arn=ROLE_ARN, job=job, listing=listing if listing.is_file() else None, echo=print)
assert scaled.details["files_out"] == "3", scaled.details
for i in range(3):
    body = s3.get_object(Bucket=BUCKET, Key=f"{RUN}/output/part-{i}.csv.out")["Body"].read()
    assert body.decode().splitlines() == predictions[i::3]
    print(f"part-{i}.csv.out:", " ".join(body.decode().split()))
'''),
    md("""
## A real-time endpoint

Offline: a local endpoint from the same package (SDK local mode), one request, then torn
down. **[AWS]** The `else` branch deploys the model created above on a real endpoint,
invokes it and deletes it.
"""),
    code('''
body = "\\n".join(records[:3]).encode()
if OFFLINE:
    with buyer.local_endpoint(MODEL_PACKAGE_ARN, echo=print) as endpoint:
        answer = endpoint.invoke(body, "text/csv", "application/json")
    status, result = answer.status, answer.body.decode()
else:
    instance = package.realtime_types[0]
    sagemaker.create_endpoint_config(
        EndpointConfigName=MODEL_NAME,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": MODEL_NAME,
                             "InitialInstanceCount": 1, "InstanceType": instance}])
    sagemaker.create_endpoint(EndpointName=MODEL_NAME, EndpointConfigName=MODEL_NAME)
    try:
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=MODEL_NAME)
        runtime = boto3.client("sagemaker-runtime", region_name=REGION)
        response = runtime.invoke_endpoint(EndpointName=MODEL_NAME, ContentType="text/csv",
                                           Accept="application/json", Body=body)
        status = response["ResponseMetadata"]["HTTPStatusCode"]
        result = response["Body"].read().decode()
    finally:
        sagemaker.delete_endpoint(EndpointName=MODEL_NAME)
        sagemaker.delete_endpoint_config(EndpointConfigName=MODEL_NAME)
assert status == 200, status
print(result)
'''),
    md("## Clean up"),
    code('''
sagemaker.delete_model(ModelName=MODEL_NAME)
print("deleted", MODEL_NAME)
'''),
]


def notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    """A v4 notebook for the project's Python kernel, with no outputs."""
    nb = new_notebook(cells=cells)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating changes nothing
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main() -> int:
    """Write both notebooks next to this file."""
    sys.path.insert(0, str(HERE.parent / "packaging"))
    from smkit.demo import held_out_csv

    sample = held_out_csv(BUYER_SAMPLE_ROWS)
    buyer_cells = [nbformat.NotebookNode(dict(c)) for c in BUYER]
    for cell in buyer_cells:
        cell["source"] = cell["source"].replace("__SAMPLE__", sample)
    for name, cells in (("01_seller_publish.ipynb", SELLER),
                        ("02_buyer_batch_transform.ipynb", buyer_cells)):
        nb = notebook(cells)
        nbformat.validate(nb)
        (HERE / name).write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
