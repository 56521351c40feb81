"""The ``smkit`` command line: the group below and every command it holds, listed explicitly.

Each area's commands live in their own module (``smkit.cli.<area>``) as module-level click
commands; this module adds them to the ``smkit`` group, so the whole command tree reads here.
"""

from __future__ import annotations

import sys

import click

from smkit import __version__
from smkit.cli import buyer, demo, env, images, listing, local, product
from smkit.core.errors import SmkitError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smkit")
def cli() -> None:
    """smkit: from a trained scikit-learn model to an AWS Marketplace product."""


COMMANDS: tuple[click.Command, ...] = (
    # smkit local endpoint|invoke|transform, smkit transform: running the model on this machine
    local.local, local.transform,
    # the product: spec, image, package, AWS
    product.spec_group, product.build, product.package, product.openapi, product.push,
    product.publish, product.preflight, product.emulators,
    env.env_group, images.images_group,
    # the listing, the buyer's side, and the whole journey
    listing.listing_group, buyer.buyer_group, demo.demo_cmd,
)
for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected errors print one clear line and exit non-zero."""
    try:
        cli.main(args=argv, prog_name="smkit", standalone_mode=False)
    except SmkitError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        return e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
