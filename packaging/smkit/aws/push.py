"""``smkit push``: the image into the seller's ECR repository, referenced by digest.

The repository is created when missing (re-runs leave it alone). Login uses the ECR
authorization token. The result is ``<repositoryUri>@sha256:...``, which the model package
references.

``SMKIT_REGISTRY`` (``host:port``, set by ``smkit emulators env``) sends the layers to that
registry instead of the repository URI's host, for offline use where the ECR API is moto
and its ``*.dkr.ecr.*`` hosts do not exist. Everything else runs as on AWS: the ECR
repository is created and the token fetched and used for ``docker login``; the digest is
the one the registry computed; the reference keeps the ECR repository URI.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from smkit.aws.clients import Aws, call, error_code
from smkit.core.errors import PlatformError, UserError
from smkit.image import docker
from smkit.project.spec import ECR_URI_RE, Spec

#: Env var naming a registry (host:port) that receives the push instead of ECR's host.
REGISTRY_OVERRIDE = "SMKIT_REGISTRY"
DIGEST_RE = re.compile(r"digest: (sha256:[0-9a-f]{64})")


@dataclass
class Pushed:
    """Where the image went."""

    repository_uri: str
    digest: str
    #: The host the layers were pushed to (ECR's, or the SMKIT_REGISTRY override).
    pushed_to: str
    created_repository: bool

    @property
    def reference(self) -> str:
        """``repositoryUri@sha256:...``: what the model package's Image field holds."""
        return f"{self.repository_uri}@{self.digest}"


def _describe_repository(aws: Aws, name: str) -> str | None:
    """The repository's URI, or None when it does not exist."""
    try:
        with call("ecr", "DescribeRepositories"):
            repos = aws.client("ecr").describe_repositories(repositoryNames=[name])
    except PlatformError as e:
        if error_code(e.__cause__ or e) == "RepositoryNotFoundException":
            return None
        raise
    return str(repos["repositories"][0]["repositoryUri"])


def ensure_repository(aws: Aws, name: str) -> tuple[str, bool]:
    """The repository's URI, creating it if missing; returns (uri, created)."""
    uri = _describe_repository(aws, name)
    if uri is not None:
        return uri, False
    try:
        with call("ecr", "CreateRepository"):
            repo = aws.client("ecr").create_repository(
                repositoryName=name,
                imageScanningConfiguration={"scanOnPush": True},
                imageTagMutability="MUTABLE",
            )["repository"]
        return str(repo["repositoryUri"]), True
    except PlatformError as e:
        # Another run created it between our two calls: use it.
        if error_code(e.__cause__ or e) != "RepositoryAlreadyExistsException":
            raise
    uri = _describe_repository(aws, name)
    if uri is None:
        raise PlatformError(f"ECR repository {name} exists and then does not; retry")
    return uri, False


def login_token(aws: Aws) -> tuple[str, str, str]:
    """(user, password, registry host) from ECR GetAuthorizationToken."""
    with call("ecr", "GetAuthorizationToken"):
        data = aws.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    host = str(data["proxyEndpoint"]).removeprefix("https://").removeprefix("http://")
    return user, password, host


def docker_login(aws: Aws, host: str, config_dir: Path) -> None:
    """``docker login`` to ``host`` with the ECR token, into the private ``config_dir`` (the
    token never lands in ~/.docker); used by the push and by the buyer's pull."""
    user, password, _ = login_token(aws)
    _docker(["login", "--username", user, "--password-stdin", host], config_dir,
            stdin=password.encode(), timeout=120)


def _docker(args: list[str], config_dir: Path, stdin: bytes | None = None,
            timeout: float = 1800, check: bool = True) -> str:
    """docker with a private config dir (the ECR token never lands in ~/.docker)."""
    proc = docker.docker(*args, input_bytes=stdin, timeout=timeout, check=check,
                         config_dir=config_dir)
    return (proc.stdout + proc.stderr).decode(errors="replace")


def push(spec: Spec, aws: Aws, registry: str | None = None) -> Pushed:
    """Push ``spec.image.local`` to the spec's ECR repository and return its digest."""
    if spec.image.uri:
        raise UserError("image.uri is set, so the image is already in ECR; remove image.uri "
                        "from the spec to push image.local instead")
    if not docker.image_exists(spec.image.local):
        raise UserError(f"image.local: {spec.image.local} is not built; run "
                        "`make build-container`")
    registry = registry if registry is not None else os.environ.get(REGISTRY_OVERRIDE) or None
    repo_uri, created = ensure_repository(aws, spec.image.repository)
    host = registry or repo_uri.split("/", 1)[0]
    target = f"{host}/{spec.image.repository}:{spec.image.tag}"
    with tempfile.TemporaryDirectory(prefix="smkit-docker-") as cfg:
        config_dir = Path(cfg)
        docker_login(aws, host, config_dir)
        _docker(["tag", spec.image.local, target], config_dir, timeout=60)
        try:
            out = _docker(["push", target], config_dir)
        finally:
            _docker(["rmi", target], config_dir, timeout=60, check=False)
    m = DIGEST_RE.search(out)
    if m is None:
        raise PlatformError(f"`docker push {target}` printed no digest: {out.strip()[-500:]}")
    return Pushed(repository_uri=repo_uri, digest=m.group(1), pushed_to=host,
                  created_repository=created)


#: Manifest types a registry may store an image as (Docker v2, OCI, and their lists).
MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
))


def image_present(aws: Aws, image_ref: str, registry: str | None = None) -> bool:
    """True when ``repo@sha256:...`` exists where ``push`` would have put it.

    Asks ECR (DescribeImages), or with the SMKIT_REGISTRY override that registry's
    ``HEAD /v2/<repo>/manifests/<digest>``.
    """
    m = ECR_URI_RE.match(image_ref)
    if m is None or not (m.group("ref") or "").startswith("@sha256:"):
        raise UserError(f"{image_ref!r} is not an ECR image reference by digest")
    repo, digest = m.group("repo"), m.group("ref")[1:]
    registry = registry if registry is not None else os.environ.get(REGISTRY_OVERRIDE) or None
    if registry:
        req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{digest}",
                                     method="HEAD", headers={"Accept": MANIFEST_TYPES})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - local registry
                return int(r.status) == 200
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return False
            raise PlatformError(f"registry {registry} answered {e.code} for {repo}") from e
        except OSError as e:
            raise PlatformError(f"registry {registry} is unreachable: {e}") from e
    try:
        with call("ecr", "DescribeImages"):
            aws.client("ecr").describe_images(repositoryName=repo,
                                              imageIds=[{"imageDigest": digest}])
    except PlatformError as e:
        if error_code(e.__cause__ or e) in ("ImageNotFoundException",
                                            "RepositoryNotFoundException"):
            return False
        raise
    return True
