"""``smkit listing init|check|render|publish|preview``: from a model package to a listing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import ClientError

from smkit.aws.clients import connect
from smkit.aws.roles import FAIL, check_role
from smkit.cli.local import context_after, resolve_image
from smkit.core import arns, paths
from smkit.core.errors import UserError
from smkit.core.yamlfile import load_yaml
from smkit.listing import limits
from smkit.listing.changesets import build_request, read_samples
from smkit.listing.model import Listing
from smkit.listing.preview import render_preview
from smkit.listing.publish import catalog_client, existing_version, publish
from smkit.listing.rules import Context
from smkit.listing.starter import describe_package, init_listing, model_dir_for, scratch_dir
from smkit.listing.validate import load_listing

DEFAULT_IMAGE = "smkit-inference:latest"
FILE_ARG = click.argument("listing_file", type=click.Path(path_type=Path), default="listing.yaml")


def _aws_client(service: str, region: str) -> Any:
    return connect(region).client(service)


def _write(path: Path, text: str) -> None:
    """Write a file the user asked for; an unwritable path is their error, not a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None


def _state(listing_file: Path) -> dict[str, str]:
    """Product and offer IDs a previous APPLY created, if any."""
    path = paths.listing_state(listing_file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is unreadable ({e}); remove it if the product does not "
                        "exist yet") from None
    return {k: str(v) for k, v in data.items() if isinstance(v, str)}


def _load(listing_file: Path, ctx: Context | None = None) -> tuple[Listing, dict[str, Any]]:
    listing = load_listing(listing_file, ctx)
    state = _state(listing_file)
    ids = {"product_id": listing.product_id or state.get("product_id"),
           "offer_id": listing.offer_id or state.get("offer_id")}
    return listing, ids


def _region(arn: str) -> str:
    parts = arns.split(arn)
    return parts.region if parts is not None and parts.region else "us-east-1"


def _package_context(listing_file: Path) -> Context:
    """Rules that read the live model package (DescribeModelPackage) for ``--against-package``."""
    data = load_yaml(listing_file, what="listing file",
                     missing="write one with `smkit listing init`")
    arn = str((data.get("delivery") or {}).get("model_package_arn") or "") \
        if isinstance(data, dict) else ""
    parts = arns.split(arn)
    region = _region(arn)
    sagemaker = _aws_client("sagemaker", region)

    def lookup(package_arn: str) -> dict[str, Any] | None:
        try:
            return dict(sagemaker.describe_model_package(ModelPackageName=package_arn))
        except ClientError:
            return None

    return Context(seller_account=parts.account if parts is not None else None, region=region,
                   lookup=lookup)


def _version_to_update(client: Any, listing: Listing, product_id: str | None) -> str | None:
    """The delivery option Id to update when the product already has this version."""
    if not product_id:
        return None
    found = existing_version(client, product_id, listing.delivery.version_title)
    if found is None:
        return None
    option_id, arn = found
    if arn and arn != listing.delivery.model_package_arn:
        raise UserError(f"delivery.version_title {listing.delivery.version_title!r} already "
                        f"exists with model package {arn}; a version's model package cannot "
                        "change: give the new package a new version_title")
    return option_id


def pricing_summary(listing: Listing) -> str:
    """How the listing is priced and whether the container's metering agrees."""
    p, d = listing.pricing, listing.delivery
    n_rt, n_b = len(d.supported_instance_types.realtime), len(d.supported_instance_types.batch)
    if p.model == "per-inference":
        return (f"per inference: offer dimension {limits.PER_INFERENCE_KEY} at ${p.per_inference} "
                f"per record for real-time, {n_b} batch instance type(s) hourly; the model "
                "package's container sets SMKIT_METERING=per-inference (X-Amzn-Inference-Metering"
                ", dimension inference.count): they agree")
    trial = f", {p.free_trial_days}-day free trial" if p.free_trial_days else ""
    what = "free" if p.model == "free" else "hourly"
    return (f"{what}: {n_rt} real-time and {n_b} batch instance type(s) priced{trial}; the "
            "container does not meter per inference (SMKIT_METERING=none): they agree")


def _check_against_package(listing: Listing, listing_file: Path) -> None:
    """Refuse a listing that disagrees with its live model package (``--against-package``)."""
    d = listing.delivery
    facts = describe_package(_aws_client("sagemaker", _region(d.model_package_arn)),
                             d.model_package_arn)
    problems = []
    if not facts.certified:
        problems.append("the model package has CertifyForMarketplace=False")
    if sorted(facts.realtime) != sorted(d.supported_instance_types.realtime):
        problems.append(f"delivery.supported_instance_types.realtime "
                        f"{d.supported_instance_types.realtime} != the package's "
                        f"{facts.realtime}")
    if sorted(facts.batch) != sorted(d.supported_instance_types.batch):
        problems.append(f"delivery.supported_instance_types.batch "
                        f"{d.supported_instance_types.batch} != the package's "
                        f"{facts.batch}")
    package = arns.split(d.model_package_arn)
    role = check_role(connect(_region(d.model_package_arn)), d.access_role_arn,
                      field="delivery.access_role_arn",
                      account=package.account if package is not None else None)
    if role.status == FAIL:
        problems.append(role.detail)
    if facts.metering != d.metering:
        problems.append(f"delivery.metering is {d.metering} but the package's container "
                        f"has SMKIT_METERING={facts.environment.get('SMKIT_METERING')}")
    if problems:
        raise UserError(f"{listing_file} does not match {d.model_package_arn}:\n  "
                        + "\n  ".join(problems))


@click.group("listing")
def listing_group() -> None:
    """The AWS Marketplace listing: write, check, render, publish and preview it."""


@listing_group.command("init")
@click.option("--model-package", "arn", required=True, help="model package ARN")
@click.option("--model-dir", type=click.Path(path_type=Path, file_okay=False),
              help="the unpacked model (default: download the package's model.tar.gz)")
@click.option("--validation", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="labeled CSV (no header, label last) to measure accuracy on")
@click.option("--image", default=None,
              help="inference image to run the model with on this machine (default: the "
                   f"product image of ./smkit.yaml when it has a python section, else "
                   f"{DEFAULT_IMAGE})")
@click.option("--access-role-arn", help="IAM role ARN Marketplace assumes to read the package")
@click.option("--out", type=click.Path(path_type=Path), default=Path("listing.yaml"),
              show_default=True)
@click.option("--no-measure", is_flag=True, help="skip running the image (no measurements)")
@click.option("--force", is_flag=True, help="overwrite an existing listing file")
def init_cmd(arn: str, model_dir: Path | None, validation: Path | None, image: str | None,
             access_role_arn: str | None, out: Path, no_measure: bool, force: bool) -> None:
    """Write a starter listing.yaml from a model package, its manifest and measurements."""
    if out.exists() and not force:
        raise UserError(f"{out} exists; pass --force to overwrite it")
    with context_after() as held:
        image = (resolve_image(image, None, held.append) if not no_measure
                 else (image or DEFAULT_IMAGE))
        _init(arn, model_dir, validation, image, access_role_arn, out, no_measure)


def _init(arn: str, model_dir: Path | None, validation: Path | None, image: str,
          access_role_arn: str | None, out: Path, no_measure: bool) -> None:
    """``listing init`` once the image is chosen."""
    region = _region(arn)
    facts = describe_package(_aws_client("sagemaker", region), arn)
    scratch = scratch_dir()
    try:
        directory = model_dir_for(facts, model_dir, lambda: _aws_client("s3", region),
                                  scratch)
        path = init_listing(out=out, facts=facts, model_dir=directory, image=image,
                            validation=validation, access_role_arn=access_role_arn,
                            measure_it=not no_measure, echo=click.echo)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    click.echo(f"wrote {path} and {path.parent / 'samples'}/; fill in every TODO, then run "
               f"`smkit listing check {path}`")


@listing_group.command("check")
@FILE_ARG
@click.option("--against-package", is_flag=True,
              help="also compare with the live model package (DescribeModelPackage)")
def check_cmd(listing_file: Path, against_package: bool) -> None:
    """Validate listing.yaml against every documented Marketplace limit and rule.

    Every problem is reported at once, each under its listing.yaml field with the AWS rule,
    its limit and the actual value.
    """
    ctx = None
    if against_package:
        ctx = _package_context(listing_file)
    listing, _ = _load(listing_file, ctx)
    if against_package:
        _check_against_package(listing, listing_file)
    click.echo(f"ok: {listing_file} is valid")
    click.echo(f"  title: {listing.product.title}")
    click.echo(f"  pricing: {pricing_summary(listing)}")
    rec = listing.delivery.recommended_instance_types
    click.echo(f"  recommended: {rec.realtime} (real-time), {rec.batch} (batch)")
    if not against_package:
        click.echo("  model package: not read; taken as certified, with the listing's "
                   "instance types (--against-package reads it)")


@listing_group.command("render")
@FILE_ARG
@click.option("--out", type=click.Path(path_type=Path), default=Path("changeset.json"),
              show_default=True)
@click.option("--release", is_flag=True, help="include ReleaseProduct and ReleaseOffer")
def render_cmd(listing_file: Path, out: Path, release: bool) -> None:
    """Write the StartChangeSet request as JSON: what publish sends, read offline (a version
    the product already has is updated by publish with UpdateDeliveryOptions instead)."""
    listing, ids = _load(listing_file)
    request = build_request(listing, read_samples(listing, listing_file.parent),
                            release=release, **ids)
    _write(out, json.dumps(request, indent=2, ensure_ascii=False) + "\n")
    click.echo(f"wrote {out}: {len(request['ChangeSet'])} changes "
               f"({', '.join(c['ChangeType'] for c in request['ChangeSet'])})")
    if ids["product_id"]:
        click.echo(f"note: render does not ask the Catalog API; if product {ids['product_id']} "
                   f"already has version {listing.delivery.version_title!r}, publish updates "
                   "it with UpdateDeliveryOptions in place of AddDeliveryOptions")


@listing_group.command("publish")
@FILE_ARG
@click.option("--intent", type=click.Choice(["VALIDATE", "APPLY"]), required=True,
              help="VALIDATE is a dry run")
@click.option("--release", is_flag=True, help="also release the product and its offer")
@click.option("--interval", type=float, default=2.0, show_default=True,
              help="seconds between DescribeChangeSet calls")
def publish_cmd(listing_file: Path, intent: str, release: bool, interval: float) -> None:
    """Submit the change set through the Catalog API and follow it to the end."""
    listing, ids = _load(listing_file)
    client = catalog_client()
    option_id = _version_to_update(client, listing, ids["product_id"])
    request = build_request(listing, read_samples(listing, listing_file.parent),
                            release=release, delivery_option_id=option_id, **ids)
    if option_id:
        click.echo(f"version {listing.delivery.version_title!r} exists: updating its "
                   f"delivery option {option_id} (UpdateDeliveryOptions)")
    outcome = publish(client, request, "APPLY" if intent == "APPLY" else "VALIDATE",
                      echo=click.echo, interval=interval)
    if intent == "APPLY":
        state = {"product_id": outcome.product_id or ids["product_id"],
                 "offer_id": outcome.offer_id or ids["offer_id"],
                 "change_set_id": outcome.change_set_id}
        path = paths.listing_state(listing_file)
        _write(path, json.dumps(state, indent=2) + "\n")
        click.echo(f"published: product {state['product_id']}, offer {state['offer_id']}")
    else:
        click.echo("validated: the Catalog API accepts this change set (nothing was changed)")


@listing_group.command("preview")
@FILE_ARG
@click.option("--out", type=click.Path(path_type=Path), default=Path("preview.html"),
              show_default=True)
def preview_cmd(listing_file: Path, out: Path) -> None:
    """Write a static HTML page showing the product as a buyer would see it."""
    listing, _ = _load(listing_file)
    html = render_preview(listing, read_samples(listing, listing_file.parent))
    _write(out, html)
    click.echo(f"wrote {out}")
