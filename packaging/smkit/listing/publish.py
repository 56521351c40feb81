"""Send a change set through boto3's ``marketplace-catalog`` client and follow it to the end.

The request comes from ``changesets.build_request``. The ClientRequestToken is a hash of the
request and intent, so re-running an interrupted publish returns the same change set instead
of starting a second one. Progress is followed with DescribeChangeSet through one poll helper;
a failed change set raises ``PlatformError`` listing every ErrorDetailList entry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import PlatformError
from . import limits

Intent = Literal["VALIDATE", "APPLY"]
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def catalog_client(region: str | None = None) -> Any:
    """A ``marketplace-catalog`` client with standard retries.

    ``AWS_ENDPOINT_URL_MARKETPLACE_CATALOG`` selects the local emulator.
    """
    return boto3.client(
        "marketplace-catalog", region_name=region or "us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )


def client_request_token(request: dict[str, Any], intent: Intent) -> str:
    """Same request and intent -> same token, so a retried publish is idempotent."""
    canonical = json.dumps({"intent": intent, "request": request}, sort_keys=True)
    return "smkit-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def poll(fetch: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool], *,
         interval: float, timeout: float,
         on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Call ``fetch`` every ``interval`` seconds until ``done`` says so or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if on_update is not None:
            on_update(result)
        if done(result):
            return result
        if time.monotonic() >= deadline:
            raise PlatformError(f"no final answer within {timeout:.0f} s (last: "
                                f"{result.get('Status', '?')}); it may still finish: follow it "
                                "with `aws marketplace-catalog describe-change-set`")
        time.sleep(interval)


@dataclass
class Outcome:
    """How a change set ended, and the entity IDs it created."""

    change_set_id: str
    status: str
    intent: Intent
    product_id: str | None = None
    offer_id: str | None = None
    errors: list[str] = field(default_factory=list)


def _entity_id(identifier: str) -> str:
    # The API answers "prod-abc@1"; DescribeEntity and later changes take "prod-abc".
    return identifier.split("@", 1)[0]


def describe_errors(description: dict[str, Any]) -> list[str]:
    """One line per ErrorDetailList entry: which change, which code, what AWS said."""
    lines = []
    for change in description.get("ChangeSet", []):
        for err in change.get("ErrorDetailList") or []:
            entity = change.get("Entity", {})
            target = entity.get("Identifier") or entity.get("Type", "")
            lines.append(f"{change.get('ChangeType')} ({target}): "
                         f"{err.get('ErrorCode')}: {err.get('ErrorMessage')}")
    return lines


def _client_error(call: str, e: ClientError) -> PlatformError:
    err = e.response.get("Error", {})
    return PlatformError(f"{call} was refused: {err.get('Code')}: {err.get('Message')}")


def publish(client: Any, request: dict[str, Any], intent: Intent, *,
            echo: Callable[[str], None] = print, interval: float = 1.0,
            timeout: float = 3600) -> Outcome:
    """Start the change set, follow it, and return the outcome; raise if it failed."""
    token = client_request_token(request, intent)
    try:
        started = client.start_change_set(**request, Intent=intent, ClientRequestToken=token)
    except ClientError as e:
        raise _client_error("StartChangeSet", e) from e
    except BotoCoreError as e:
        raise PlatformError(f"StartChangeSet failed: {e}") from e
    cs_id = started["ChangeSetId"]
    echo(f"change set {cs_id} started ({intent}, {len(request['ChangeSet'])} changes)")
    seen: list[str] = []

    def fetch() -> dict[str, Any]:
        try:
            return dict(client.describe_change_set(Catalog=limits.CATALOG, ChangeSetId=cs_id))
        except ClientError as e:
            raise _client_error("DescribeChangeSet", e) from e

    def report(d: dict[str, Any]) -> None:
        if not seen or seen[-1] != d.get("Status"):
            seen.append(str(d.get("Status")))
            echo(f"  {d.get('Status')}")

    final = poll(fetch, lambda d: d.get("Status") in TERMINAL, interval=interval,
                 timeout=timeout, on_update=report)
    outcome = Outcome(cs_id, str(final["Status"]), intent, errors=describe_errors(final))
    for change in final.get("ChangeSet", []):
        ident = change.get("Entity", {}).get("Identifier")
        if change.get("ChangeName") == "CreateProduct" and ident:
            outcome.product_id = _entity_id(ident)
        if change.get("ChangeName") == "CreateOffer" and ident:
            outcome.offer_id = _entity_id(ident)
    if outcome.status != "SUCCEEDED":
        code = f" ({final['FailureCode']})" if final.get("FailureCode") else ""
        why = f": {final['FailureDescription']}" if final.get("FailureDescription") else ""
        details = "\n  ".join(outcome.errors) or "(no error details)"
        raise PlatformError(f"change set {cs_id} {outcome.status}{code}{why}\n  {details}")
    return outcome
