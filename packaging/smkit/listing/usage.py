"""The usage instructions a listing shows: AWS CLI commands a buyer can paste and run.

Every command runs as shown once the buyer has set two shell variables the first line names
(their own role and bucket): no ``<placeholder>`` to edit, no file the buyer does not have (the
sample is written by a heredoc), and only the product's declared content types.
tests/listing/test_usage_commands.py runs each command with the AWS CLI.
"""

from __future__ import annotations

import re

import smkit_contract.content_types as ct
import smkit_contract.env as env_names

from smkit.core import arns
from smkit.listing.samples import head_records

#: The most sample records the usage commands write (the page shows the whole sample apart).
USAGE_SAMPLE_RECORDS = 5
#: The shell variables the buyer sets before the commands.
ROLE_VAR, BUCKET_VAR = "ROLE_ARN", "BUCKET"
#: The line that ends the heredoc holding the sample.
HEREDOC_END = "END_OF_SAMPLE"


def resource_name(model_package_arn: str) -> str:
    """A SageMaker resource name for the buyer's model, endpoint and jobs: the package's
    name, cut to leave room for a 15-character timestamp in a 63-character job name."""
    try:
        raw = arns.package_arn(model_package_arn).name
    except ValueError:
        raw = "model"
    name = re.sub(r"[^A-Za-z0-9-]+", "-", raw).strip("-")[:40].strip("-")
    return name or "model"


def usage_instructions(*, model_package_arn: str, region: str, content_type: str,
                       sample: bytes, realtime_type: str, batch_type: str | None,
                       probabilities: bool) -> str:
    """The usage text: deploy, invoke with the sample, batch transform, clean up."""
    media = ct.canonical(content_type)
    suffix = ct.SUFFIX[media]
    name = resource_name(model_package_arn)
    sample_file = f"input{suffix}"
    invoke = [
        f"aws sagemaker-runtime invoke-endpoint --endpoint-name {name} \\",
        f"  --content-type {media} --accept {media} \\",
        f"  --body fileb://{sample_file} output{suffix}",
    ]
    lines = [
        f"Set {ROLE_VAR} to an IAM role in your account that SageMaker can assume, and "
        f"{BUCKET_VAR} to an S3 bucket of yours in {region}; subscribe to this product first. "
        "The commands use the AWS CLI.",
        "",
        "1. Create a model from this product's model package (no network access, as AWS "
        "Marketplace runs it):",
        f"aws sagemaker create-model --model-name {name} \\",
        f"  --primary-container ModelPackageName={model_package_arn} \\",
        f'  --execution-role-arn "${ROLE_VAR}" --enable-network-isolation',
        "",
        f"2. Deploy a real-time endpoint on {realtime_type}:",
        f"aws sagemaker create-endpoint-config --endpoint-config-name {name} \\",
        f"  --production-variants VariantName=AllTraffic,ModelName={name},"
        f"InitialInstanceCount=1,InstanceType={realtime_type}",
        f"aws sagemaker create-endpoint --endpoint-name {name} --endpoint-config-name {name}",
        f"aws sagemaker wait endpoint-in-service --endpoint-name {name}",
        "",
        f"3. Write the sample input ({media}) and send it:",
        f"cat > {sample_file} <<'{HEREDOC_END}'",
        *head_records(sample, media, USAGE_SAMPLE_RECORDS),
        HEREDOC_END,
        *invoke,
        f"cat output{suffix}",
    ]
    if probabilities:
        lines += [
            "",
            "For each class's probability instead of the label, add a custom attribute:",
            *invoke[:-1],
            f"  --custom-attributes output=probabilities --body fileb://{sample_file} "
            f"probabilities{suffix}",
            f"cat probabilities{suffix}",
        ]
    if batch_type is not None:
        split = "Line" if media in (ct.CSV, ct.JSONLINES) else "None"
        strategy = env_names.MULTI_RECORD if split == "Line" else env_names.SINGLE_RECORD
        # CLI shorthand in double quotes: the shell fills in $BUCKET and leaves the braces.
        transform_input = (f"DataSource={{S3DataSource={{S3DataType=S3Prefix,"
                           f"S3Uri=s3://${BUCKET_VAR}/{name}/input/}}}},"
                           f"ContentType={media},SplitType={split}")
        transform_output = (f"S3OutputPath=s3://${BUCKET_VAR}/{name}/output/,"
                            f"Accept={media},AssembleWith={split}")
        lines += [
            "",
            f"4. Batch transform every file under an S3 prefix on {batch_type} (the answers "
            "to each file land in a file of the same name with .out added):",
            f'aws s3 cp {sample_file} "s3://${BUCKET_VAR}/{name}/input/{sample_file}"',
            f'JOB={name}-$(date +%Y%m%d%H%M%S)',
            'aws sagemaker create-transform-job --transform-job-name "$JOB" \\',
            f"  --model-name {name} --batch-strategy {strategy} \\",
            f'  --transform-input "{transform_input}" \\',
            f'  --transform-output "{transform_output}" \\',
            f"  --transform-resources InstanceType={batch_type},InstanceCount=1",
            'aws sagemaker wait transform-job-completed-or-stopped --transform-job-name "$JOB"',
            f'aws s3 cp "s3://${BUCKET_VAR}/{name}/output/{sample_file}.out" -',
        ]
    lines += [
        "",
        f"{5 if batch_type is not None else 4}. Delete the endpoint when you are done "
        "(its instance is billed until then):",
        f"aws sagemaker delete-endpoint --endpoint-name {name}",
        f"aws sagemaker delete-endpoint-config --endpoint-config-name {name}",
        f"aws sagemaker delete-model --model-name {name}",
    ]
    return "\n".join(lines)
