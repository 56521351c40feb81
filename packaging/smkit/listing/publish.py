"""Send a change set through boto3's ``marketplace-catalog`` client and follow it to the end.

The request comes from ``changesets.build_request``. The ClientRequestToken is a hash of the
request and intent, so re-running an interrupted publish returns the same change set instead
of starting a second one. Progress is followed with DescribeChangeSet through the shared
``smkit.aws.clients.poll`` helper; a failed change set raises ``PlatformError`` listing every
ErrorDetailList entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from smkit.aws.clients import call, connect, poll
from smkit.core.errors import PlatformError
from smkit.listing import limits

Intent = Literal["VALIDATE", "APPLY"]
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
#: The Catalog API is served from us-east-1 only.
CATALOG_REGION = "us-east-1"


def catalog_client() -> Any:
    """A ``marketplace-catalog`` client (us-east-1, where the API lives) with standard retries.

    ``AWS_ENDPOINT_URL_MARKETPLACE_CATALOG`` selects the local emulator.
    """
    return connect(CATALOG_REGION).client("marketplace-catalog")


def client_request_token(request: dict[str, Any], intent: Intent) -> str:
    """Same request and intent -> same token, so a retried publish is idempotent."""
    canonical = json.dumps({"intent": intent, "request": request}, sort_keys=True)
    return "smkit-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


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


def existing_version(client: Any, product_id: str,
                     version_title: str) -> tuple[str, str | None] | None:
    """(delivery option Id, model package ARN) of the product's version with this title.

    DescribeEntity keeps versions under ``Versions[]``, each with its ``DeliveryOptions[]``
    (an ML version has one) and ``Sources[]`` (the model package).
    """
    with call("marketplace-catalog", "DescribeEntity"):
        entity = client.describe_entity(Catalog=limits.CATALOG, EntityId=product_id)
    details = entity.get("DetailsDocument") or json.loads(entity.get("Details") or "{}")
    for version in details.get("Versions") or []:
        if version.get("VersionTitle") != version_title or not version.get("DeliveryOptions"):
            continue
        arns = [s.get("ModelPackageArn") for s in version.get("Sources") or []]
        return str(version["DeliveryOptions"][0]["Id"]), (arns[0] if arns else None)
    return None


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


def _ended_before(description: dict[str, Any], moment: datetime) -> bool:
    """True for a change set that had already ended before ``moment`` (an earlier attempt)."""
    if description.get("Status") not in ("FAILED", "CANCELLED"):
        return False
    try:
        ended = datetime.strptime(str(description.get("EndTime")), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return ended.replace(tzinfo=UTC) < moment - timedelta(seconds=2)


def publish(client: Any, request: dict[str, Any], intent: Intent, *,
            echo: Callable[[str], None] = print, interval: float = 1.0,
            timeout: float = 3600) -> Outcome:
    """Start the change set, follow it, and return the outcome; raise if it failed.

    The same request answers with the same change set (its ClientRequestToken), so an
    interrupted publish converges. If that change set had already failed or been cancelled
    in an earlier run, a new one is started with a token derived from the old ID, so a
    re-run after fixing the cause (say, the model package) is tried again, and is itself
    idempotent.
    """
    token = client_request_token(request, intent)
    for _ in range(20):
        asked = datetime.now(UTC)
        with call("marketplace-catalog", "StartChangeSet"):
            started = client.start_change_set(**request, Intent=intent,
                                              ClientRequestToken=token)
        cs_id = started["ChangeSetId"]
        with call("marketplace-catalog", "DescribeChangeSet"):
            first = client.describe_change_set(Catalog=limits.CATALOG, ChangeSetId=cs_id)
        if not _ended_before(first, asked):
            break
        echo(f"change set {cs_id} (same request) ended {first['Status']} in an earlier run; "
             "starting it again")
        token = "smkit-" + hashlib.sha256(f"{token}/{cs_id}".encode()).hexdigest()[:40]
    echo(f"change set {cs_id} started ({intent}, {len(request['ChangeSet'])} changes)")

    def fetch() -> dict[str, Any]:
        with call("marketplace-catalog", "DescribeChangeSet"):
            return dict(client.describe_change_set(Catalog=limits.CATALOG, ChangeSetId=cs_id))

    final = poll(fetch, lambda d: d.get("Status") in TERMINAL,
                 describe=lambda d: str(d.get("Status")),
                 on_change=lambda state, elapsed: echo(f"  {state} ({elapsed:.0f} s)"),
                 interval=interval, max_interval=max(interval, 30), timeout=timeout,
                 what=f"change set {cs_id}")
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
