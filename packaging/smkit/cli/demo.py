"""``smkit demo``: the seller's whole journey, offline, on embedded defaults."""

from __future__ import annotations

from pathlib import Path

import click

from smkit import demo


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=demo.DEFAULT_OUT, show_default=True,
              help="Folder for everything the demo makes (rewritten on each run).")
@click.option("--image", default=None,
              help="Run this image instead of the model's own product image (by default "
                   "the demo writes the python section with `smkit env detect` and builds "
                   "it with `smkit build`).")
@click.option("--keep-emulators", is_flag=True,
              help="Leave the emulators running afterwards (they are stopped by default).")
def demo_cmd(out: Path, image: str | None, keep_emulators: bool) -> None:
    """Train an example model and take it all the way to a Marketplace listing, offline:
    its product image, local endpoint and transform, emulators, package, push, preflight,
    publish, listing (VALIDATE, then APPLY), preview, and the buyer's transform from the
    ARN."""
    demo.run(out, image=image, keep_emulators=keep_emulators,
             echo=lambda message, nl=True: click.echo(message, nl=nl))
