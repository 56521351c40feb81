"""The model package's image on this machine: found by its digest, or pulled by it.

From the registry that stands in for ECR (``SMKIT_REGISTRY``, ``smkit emulators env``), or
from ECR itself after the token login ``smkit push`` uses.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from smkit.aws.clients import Aws
from smkit.aws.push import REGISTRY_OVERRIDE, docker_login
from smkit.core.errors import PlatformError
from smkit.image import docker
from smkit.project.spec import ECR_URI_RE
from smkit.transform.shard import Echo

IMAGE_RE = re.compile(
    r"^(?P<host>[^/]+)/(?P<repo>[^@:]+)(:[\w.-]+)?@(?P<digest>sha256:[0-9a-f]{64})$"
)


def quiet(_: str) -> None:
    """Echo that prints nothing: the default of the buyer's steps."""


def local_image_by_digest(digest: str) -> str | None:
    """A local ``repo@digest`` reference to the image with that manifest digest, if any."""
    out = docker.docker("image", "ls", "--digests", "--format",
                        "{{.Repository}}\t{{.Digest}}", check=False).stdout.decode()
    for line in out.splitlines():
        repo, _, found = line.partition("\t")
        if found == digest and repo != "<none>":
            return f"{repo}@{digest}"
    return None


def resolve_image(aws: Aws, image: str, registry: str | None = None,
                  echo: Echo = quiet) -> str:
    """A reference the local engine can run for the package's ``image`` (``host/repo@digest``).

    In order: an image already here with that digest; a pull by digest from ``registry``
    (the ECR stand-in, ``SMKIT_REGISTRY``); a pull from ECR after a token login. The digest
    is what the package certified, so whichever is found is the same image.
    """
    m = IMAGE_RE.match(image)
    if m is None:
        raise PlatformError(f"the model package's image {image!r} is not referenced by digest "
                            "(host/repo@sha256:...); smkit cannot tell which image to run")
    digest, repo, host = m.group("digest"), m.group("repo"), m.group("host")
    found = local_image_by_digest(digest)
    if found is not None:
        echo(f"image {digest[:19]}... is already here ({found.split('@')[0]})")
        return found
    registry = registry if registry is not None else os.environ.get(REGISTRY_OVERRIDE) or None
    with tempfile.TemporaryDirectory(prefix="smkit-buyer-docker-") as cfg:
        config_dir = Path(cfg)
        if registry:
            ref = f"{registry}/{repo}@{digest}"
        else:
            ref = image
            if ECR_URI_RE.match(image):
                docker_login(aws, host, config_dir)
        echo(f"pulling {ref}")
        proc = docker.docker("pull", "-q", ref, config_dir=config_dir, timeout=1800,
                             check=False)
    if proc.returncode != 0:
        raise PlatformError(f"cannot get the model package's image {ref}: "
                            f"{proc.stderr.decode(errors='replace').strip()[-500:]}")
    return ref
