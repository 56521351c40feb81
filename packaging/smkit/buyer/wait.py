"""Waiting for a cloud transform job: progress lines with the cost so far, and, when it fails,
its reason and the CloudWatch log streams that hold the records' errors."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from smkit.aws.clients import Aws, call
from smkit.buyer.billing import software_cost
from smkit.core.errors import PlatformError, UserError
from smkit.transform.shard import Echo

#: Where SageMaker writes a transform job's logs (streams ``<job>/<instance-id>-<time>``,
#: and ``.../data-log`` for the records' errors).
LOG_GROUP = "/aws/sagemaker/TransformJobs"
TERMINAL = ("Completed", "Failed", "Stopped")


def duration(seconds: float) -> str:
    """``42s``, ``12m34s`` or ``2h05m``."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(status: str, seconds: float, instance_count: int, instance_type: str,
                  hourly_price: float | None) -> str:
    """One line of a running job: status, elapsed time and, with a price, the cost so far."""
    line = f"{status} after {duration(seconds)} on {instance_count} x {instance_type}"
    if hourly_price is not None:
        hours = instance_count * seconds / 3600
        cost = software_cost(instance_count, seconds, hourly_price)
        line += (f"; software cost so far about ${cost:,.2f} ({hours:.2f} instance-hours x "
                 f"${hourly_price:g}/h, plus the SageMaker instance price)")
    return line


def failure_message(job: Mapping[str, Any], streams: list[str]) -> str:
    """What a failed (or stopped) job says, and where its logs are (pure)."""
    name = job.get("TransformJobName", "?")
    where = (", ".join(streams) if streams
             else f"{name}/<instance-id>-<time> and its /data-log stream")
    return (f"transform job {name} is {job.get('TransformJobStatus')}: "
            f"{job.get('FailureReason') or 'no reason given'}\n"
            f"  the records' errors are in CloudWatch Logs: log group {LOG_GROUP}, "
            f"streams {where}")


def log_streams(aws: Aws, name: str) -> list[str]:
    """The job's CloudWatch log streams (empty when they cannot be listed)."""
    try:
        answer = aws.client("logs").describe_log_streams(logGroupName=LOG_GROUP,
                                                         logStreamNamePrefix=f"{name}/")
    except (BotoCoreError, ClientError):
        return []
    return [str(s["logStreamName"]) for s in answer.get("logStreams", [])]


def wait_for_job(aws: Aws, name: str, *, instance_count: int, instance_type: str,
                 hourly_price: float | None, timeout_s: float, echo: Echo,
                 interval_s: float = 15, report_every_s: float = 60,
                 started: float | None = None) -> dict[str, Any]:
    """Poll DescribeTransformJob until the job ends; a progress line at each change of
    status and every ``report_every_s`` (elapsed time from ``started``, a monotonic time,
    default now). Returns the last description."""
    sm = aws.client("sagemaker")
    started = time.monotonic() if started is None else started
    last_status, last_line = None, 0.0
    delay = min(2.0, interval_s)
    try:
        while True:
            with call("sagemaker", "DescribeTransformJob"):
                desc: dict[str, Any] = sm.describe_transform_job(TransformJobName=name)
            status = str(desc.get("TransformJobStatus"))
            now = time.monotonic()
            if status != last_status or now - last_line >= report_every_s:
                echo(progress_line(status, now - started, instance_count, instance_type,
                                   hourly_price))
                last_status, last_line = status, now
            if status in TERMINAL:
                return desc
            if now - started >= timeout_s:
                raise PlatformError(
                    f"transform job {name} is still {status} after {duration(now - started)};"
                    " it keeps running: `aws sagemaker describe-transform-job "
                    f"--transform-job-name {name}` (stop it with stop-transform-job)")
            time.sleep(delay)
            delay = min(delay * 1.5, interval_s)
    except KeyboardInterrupt:
        raise UserError(f"stopped waiting; transform job {name} keeps running on SageMaker: "
                        f"`aws sagemaker stop-transform-job --transform-job-name {name}` "
                        "stops it") from None
