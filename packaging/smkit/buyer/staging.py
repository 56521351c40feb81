"""S3 for the buyer's jobs: URLs, listing the objects under a prefix, and the artifact download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smkit.aws.clients import Aws, call
from smkit.core.errors import UserError


def split_s3(url: str, *, key_required: bool = True) -> tuple[str, str]:
    """(bucket, key) of an ``s3://bucket/key`` URL; with ``key_required`` False, of an
    ``s3://bucket[/prefix]`` one (the prefix may be empty)."""
    bucket, slash, key = url[5:].partition("/") if url.startswith("s3://") else ("", "", "")
    if not bucket or (key_required and not slash):
        what = "s3://bucket/key" if key_required else "s3://bucket/prefix"
        raise UserError(f"{url!r} is not an {what} URL")
    return bucket, key


def s3_url(bucket: str, key: str) -> str:
    """``s3://bucket/key``."""
    return f"s3://{bucket}/{key}"


def split_prefix(url: str) -> tuple[str, str]:
    """(bucket, key prefix) of an ``s3://bucket[/prefix]`` URL (the prefix may be empty)."""
    return split_s3(url, key_required=False)


def folder(key: str) -> str:
    """The part of an S3 prefix up to its last ``/`` (what output names are relative to)."""
    return key[: key.rfind("/") + 1]


def output_base(prefix: str) -> str:
    """What an output prefix's keys start with: ``prefix`` ending in ``/`` (empty stays
    empty), as SageMaker writes ``<output>/<name>.out``."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def list_objects(s3: Any, url: str) -> list[tuple[str, int]]:
    """Every object under an S3 prefix as (key, size), in S3's order (folder markers
    skipped)."""
    bucket, prefix = split_prefix(url)
    found: list[tuple[str, int]] = []
    with call("s3", "ListObjectsV2"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [(o["Key"], int(o["Size"])) for o in page.get("Contents", [])
                      if not o["Key"].endswith("/")]
    return found


def list_keys(s3: Any, url: str) -> list[str]:
    """Every object key under an S3 prefix, in S3's order (folder markers skipped)."""
    return [key for key, _ in list_objects(s3, url)]


def fetch_artifact(aws: Aws, url: str, target_dir: Path) -> Path:
    """Download ``model.tar.gz`` into ``target_dir`` (its own folder: local mode unpacks
    there)."""
    bucket, key = split_s3(url)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "model.tar.gz"
    with call("s3", "GetObject"):
        aws.client("s3").download_file(bucket, key, str(target))
    return target
