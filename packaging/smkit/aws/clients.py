"""boto3 clients for the seller's tooling, and the one poll helper every wait goes through.

Clients use botocore's ``standard`` retry mode (throttling and transient errors are retried
with back-off). Endpoints are never overridden in code: boto3 itself honours
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` (what ``smkit emulators env`` sets),
so the same calls run against moto offline and against AWS with real credentials.
"""

from __future__ import annotations

import os
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import botocore.exceptions
from botocore.config import Config

from smkit.core.errors import PlatformError, UserError

T = TypeVar("T")

#: Retries: botocore's standard mode (exponential back-off with jitter, throttling aware).
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=10,
                      read_timeout=60)


@dataclass
class Aws:
    """A boto3 session pinned to one region, handing out clients with smkit's retry config."""

    region: str
    session: boto3.session.Session

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` in this region."""
        return self.session.client(service, region_name=self.region, config=RETRY_CONFIG)

    def account_id(self) -> str:
        """The account the credentials belong to (STS GetCallerIdentity)."""
        with call("sts", "GetCallerIdentity"):
            return str(self.client("sts").get_caller_identity()["Account"])


#: What to do when an endpoint override points at emulators that are not running.
EMULATORS_HINT = (
    "start them with `smkit emulators up && eval \"$(smkit emulators env)\"`, or leave "
    "that environment for real AWS: `unset AWS_ENDPOINT_URL "
    "AWS_ENDPOINT_URL_MARKETPLACE_CATALOG SMKIT_REGISTRY` (and the dummy credentials)"
)


def _overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """``{variable: url}`` of the endpoint overrides in force (boto3 honours these)."""
    return {k: v for k, v in environ.items()
            if (k == "AWS_ENDPOINT_URL" or k.startswith("AWS_ENDPOINT_URL_")) and v}


def check_endpoints(environ: Mapping[str, str] | None = None) -> None:
    """Fail at once, with the fix, when an endpoint override points at nothing.

    A local endpoint (the emulators) that refuses connections means they were stopped or
    the environment is stale; without this, boto3 would retry for a long time and then say
    only "Could not connect to the endpoint URL".
    """
    for var, url in sorted(_overrides(os.environ if environ is None else environ).items()):
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        if host is None:
            raise UserError(f"{var}={url!r} is not a URL; fix or unset it")
        if host not in ("localhost", "::1") and not host.startswith("127."):
            continue  # a remote endpoint: boto3 reports its own errors
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            raise UserError(
                f"nothing answers at {url} ({var}): the emulators are not running, or this "
                f"shell's environment is from an earlier run; {EMULATORS_HINT}"
            ) from None


def connect(region: str, profile: str | None = None) -> Aws:
    """A session for ``region`` (and ``profile`` if given); fails clearly without credentials
    or when the endpoint it is pointed at (the emulators) does not answer."""
    check_endpoints()
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        credentials = session.get_credentials()
    except botocore.exceptions.ProfileNotFound as e:
        named = profile if profile is not None else os.environ.get("AWS_PROFILE")
        raise UserError(f"AWS profile {named!r} does not exist ({e}); name one from "
                        "~/.aws/config with --profile or AWS_PROFILE, or unset AWS_PROFILE") from e
    except botocore.exceptions.BotoCoreError as e:
        raise UserError(f"the AWS configuration cannot be read: {e}") from e
    if credentials is None:
        raise UserError(
            "no AWS credentials found. Configure them (aws configure, AWS_PROFILE), or run "
            "offline: `smkit emulators up` then `eval \"$(smkit emulators env)\"`"
        )
    return Aws(region=region, session=session)


def error_code(e: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else ''."""
    if isinstance(e, botocore.exceptions.ClientError):
        return str(e.response.get("Error", {}).get("Code", ""))
    return ""


@contextmanager
def call(service: str, operation: str) -> Iterator[None]:
    """Turn botocore failures inside the block into PlatformError saying what AWS answered."""
    what = f"{service}:{operation}"
    try:
        yield
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        answer = f"{err.get('Code', '?')}: {err.get('Message', e)}"
        raise PlatformError(f"{what} failed: {answer}") from e
    except botocore.exceptions.NoCredentialsError as e:
        raise UserError(f"{what}: no AWS credentials found") from e
    except botocore.exceptions.EndpointConnectionError as e:
        hint = f"; {EMULATORS_HINT}" if _overrides(os.environ) else ""
        raise PlatformError(f"{what} failed: {e}{hint}") from e
    except botocore.exceptions.BotoCoreError as e:
        raise PlatformError(f"{what} failed: {e}") from e


def poll(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    describe: Callable[[T], str] = str,
    on_change: Callable[[str, float], None] | None = None,
    timeout: float = 3600,
    interval: float = 5,
    max_interval: float = 60,
    what: str = "the operation",
) -> T:
    """Call ``fetch`` until ``done(result)``; report each new ``describe(result)``.

    The interval grows by half each round up to ``max_interval``. Raises PlatformError when
    ``timeout`` seconds pass, quoting the last state seen.
    """
    start = time.monotonic()
    last_state: str | None = None
    delay = interval
    while True:
        result = fetch()
        state = describe(result)
        if state != last_state and on_change is not None:
            on_change(state, time.monotonic() - start)
        last_state = state
        if done(result):
            return result
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            raise PlatformError(
                f"{what} did not finish within {timeout:.0f} s (last state: {state}); "
                "re-run the same command later to resume waiting"
            )
        time.sleep(min(delay, max(0.0, timeout - elapsed)))
        delay = min(delay * 1.5, max_interval)
