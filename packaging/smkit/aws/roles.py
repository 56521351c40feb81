"""One check of an IAM role ARN, used wherever smkit hands a role to AWS.

``preflight``, ``publish`` (the validation role) and ``listing check --against-package``
(the role Marketplace assumes) all go through ``check_role``, so they agree. Its form is
``smkit.core.arns.role_arn``, the rule the spec's own validation uses too.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import EndpointConnectionError

from smkit.aws.clients import Aws, call
from smkit.core import arns
from smkit.core.errors import SmkitError, UserError

#: Verdict names, shared with preflight's checks.
PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class RoleCheck:
    """The verdict on one role: PASS, FAIL (the detail says the fix) or SKIP."""

    status: str
    detail: str


def check_role(aws: Aws | None, arn: str, *, field: str, account: str | None = None
               ) -> RoleCheck:
    """The role is an ARN, in ``account`` when given, and (with AWS) exists.

    ``SKIP`` when the credentials may not read IAM (``iam:GetRole`` denied): nothing
    is claimed that was not checked.
    """
    try:
        role = arns.role_arn(arn)
    except ValueError as e:
        return RoleCheck(FAIL, f"{field} {e}")
    if account is not None and role.account != account:
        return RoleCheck(FAIL, f"{field} {arn} is in account {role.account}, not the "
                               f"seller's account {account}; use a role of account {account}")
    if aws is None:
        return RoleCheck(PASS, f"{arn} is a well-formed role ARN (existence not checked: "
                               "no AWS)")
    try:
        with call("iam", "GetRole"):
            aws.client("iam").get_role(RoleName=role.name)
    except SmkitError as e:
        if "NoSuchEntity" in str(e):
            return RoleCheck(FAIL, f"{field} {arn} does not exist; create the role (or fix "
                                   "the ARN) first")
        if "AccessDenied" in str(e):
            return RoleCheck(SKIP, f"{arn} is well formed; not allowed to read it "
                                   "(iam:GetRole)")
        if isinstance(e.__cause__, EndpointConnectionError):
            return RoleCheck(SKIP, f"{arn} is well formed; IAM could not be reached to "
                                   "check that it exists")
        raise
    return RoleCheck(PASS, f"{arn} is well formed and exists")


def require_role(aws: Aws | None, arn: str, *, field: str, account: str | None = None) -> None:
    """``check_role``, raising UserError with the fix on FAIL."""
    result = check_role(aws, arn, field=field, account=account)
    if result.status == FAIL:
        raise UserError(result.detail)
