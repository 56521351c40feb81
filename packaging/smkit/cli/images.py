"""``smkit images``: list the images smkit built, and remove the ones no build will use again."""

from __future__ import annotations

import click

from smkit.cli.common import warn
from smkit.core.errors import UserError
from smkit.image import prune


def _gb(n: int) -> str:
    return f"{n / prune.GB:.2f} GB"


@click.group("images")
def images_group() -> None:
    """The images smkit built: list them, remove the stale ones."""


@images_group.command("list", short_help="List them: current, stale or in use.")
def images_list() -> None:
    """Every image smkit built, newest first: current (this checkout's builds use it),
    stale (nothing will use it again) or in use (a container runs from it)."""
    found = prune.inventory()
    if not found:
        click.echo("smkit has built no images on this engine")
        return
    width = max(len(i.name) for i in found)
    click.echo(f"{'IMAGE':<{width}}  {'KIND':<11}  {'STATUS':<7}  {'SIZE':>8}  CREATED")
    for i in found:
        more = f"  (also {', '.join(i.tags[1:])})" if len(i.tags) > 1 else ""
        click.echo(f"{i.name:<{width}}  {i.kind:<11}  {i.status:<7}  "
                   f"{i.size / prune.GB:>5.2f} GB  {i.created}{more}")
    stale = prune.removable(found)
    if stale:
        click.echo(f"{len(stale)} stale image(s) can go: `smkit images prune`")


@images_group.command("prune", short_help="Remove the stale ones (--all: every one).")
@click.option("--all", "everything", is_flag=True,
              help="Also the current images (they are built again when next needed); "
                   "the OS base stays.")
@click.option("--build-cache", is_flag=True,
              help=f"Also trim the engine's build cache to its newest "
                   f"{prune.BUILD_CACHE_KEEP}.")
@click.option("--dry-run", is_flag=True, help="Say what would go; remove nothing.")
def images_prune(everything: bool, build_cache: bool, dry_run: bool) -> None:
    """Remove the images no build from this checkout will use again.

    Only smkit's own names go (smkit-product:<hash>, smkit-base:<hash>); an image with
    a name of its own (smkit-inference:latest, a push's tag) keeps it, and an image a
    container uses stays.
    """
    picked = prune.removable(prune.inventory(), everything=everything)
    verb = "would remove" if dry_run else "removing"
    for image in picked:
        keeps = f" (keeps {', '.join(image.other_tags)})" if image.other_tags else ""
        click.echo(f"{verb} {image.name}  {image.kind}, {image.status}, "
                   f"{_gb(image.size)}{keeps}")
    if dry_run:
        click.echo(f"{len(picked)} image(s) would be removed"
                   + ("; the build cache would be trimmed" if build_cache else ""))
        return
    result = prune.remove(picked, build_cache=build_cache, log=warn)
    for image, why in result.failed:
        warn(f"kept {image.name}: {why}")
    freed = "" if result.freed_bytes is None else f"; {_gb(result.freed_bytes)} freed"
    click.echo(f"removed {len(result.removed)} image(s){freed}")
    if not build_cache:
        click.echo("their layers may live on in the build cache; `smkit images prune "
                   "--build-cache` trims it too")


@images_group.command("ensure-space", short_help="Prune when the engine's disk runs low.")
@click.argument("need_gb", type=float)
@click.option("--prune-below", "prune_below_gb", type=float, default=None, metavar="GB",
              help="Prune already when less than GB is free (default: NEED_GB).")
def images_ensure_space(need_gb: float, prune_below_gb: float | None) -> None:
    """Make sure the engine's disk has NEED_GB GB free: when it has less, remove stale
    images and trim the build cache; exit 1 when that is still not enough."""
    if need_gb <= 0:
        raise UserError("NEED_GB must be a positive number of gigabytes")
    prune.ensure_space(need_gb, prune_below_gb=prune_below_gb, log=warn)
