"""The Catalog emulator's rules: the shared rule set (``smkit.listing.rules``) in AWS's shapes.

Nothing is decided here: the rules live in ``smkit.listing.rules``, which ``smkit listing
check`` uses too. This module turns a rule's violation into what the Catalog API answers: a
synchronous ``ValidationException`` for the StartChangeSet limits, an ``ErrorDetailList`` entry
(``ErrorCode``, ``ErrorMessage``) for everything checked while the change set is PREPARING. It
also reads model packages from SageMaker, as Marketplace does.
"""

from __future__ import annotations

from typing import Any

from smkit.listing.rules import PackageLookup, PackageLookupError, Violation, request_violations


class ApiError(Exception):
    """A synchronous AWS error: HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def validation(message: str) -> ApiError:
    """A ValidationException (HTTP 422), as StartChangeSet answers a malformed request."""
    return ApiError(422, "ValidationException", message)


def check_request(body: dict[str, Any]) -> None:
    """Raise ValidationException for the StartChangeSet limits (changes, Details, token)."""
    texts = []
    for change in body.get("ChangeSet") or []:
        if not isinstance(change, dict):
            continue
        # The service model bounds the Details string (16,384); DetailsDocument has no maximum.
        texts.append(change["Details"] if isinstance(change.get("Details"), str) else "")
    found = request_violations(body, texts)
    if found:
        raise validation("; ".join(v.message for v in found))


def error_detail(violation: Violation) -> dict[str, str]:
    """An ErrorDetailList entry: the rule's AWS error code and its message."""
    return {"ErrorCode": violation.rule.code, "ErrorMessage": violation.message}


def sagemaker_lookup(endpoint: str, region: str) -> PackageLookup:
    """Read model packages from a SageMaker endpoint (moto server offline)."""
    # Deferred on purpose: boto3 is heavy, and the emulator process needs it only when it
    # is given a SageMaker endpoint.
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    # The endpoint is a local stand-in, so dummy credentials do when none are configured.
    session = boto3.session.Session()
    creds = {} if session.get_credentials() is not None else {
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    client = boto3.client("sagemaker", endpoint_url=endpoint, region_name=region, **creds)

    def lookup(arn: str) -> dict[str, Any] | None:
        try:
            return dict(client.describe_model_package(ModelPackageName=arn))
        except ClientError:
            return None
        except BotoCoreError as e:
            raise PackageLookupError(f"could not read {arn} from {endpoint}: {e}") from e

    return lookup
