"""Container entry point: ``docker run IMAGE serve``."""

from __future__ import annotations

import gc
import logging
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import LoadedModel
    from .settings import Settings

USAGE = ("usage: serve  (SageMaker starts this image as 'docker run IMAGE serve'); "
         "versions | describe  (what the image holds; what it makes of the model)")


def prepare(settings: Settings) -> LoadedModel:
    """Load the model and run its start-up prediction, as the master does before fork."""
    from threadpoolctl import threadpool_limits

    from .handler import smoke_check
    from .model import load_model

    with threadpool_limits(1):
        loaded = load_model(settings.model_dir, settings.program)
        smoke_check(loaded, settings.model_dir)
    return loaded


def serve() -> int:
    """Load settings and the model, then serve until SIGTERM."""
    started = time.perf_counter()
    from . import __version__, logs
    from .settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as e:
        logs.setup("INFO")
        logging.getLogger("smkit.server").error("bad setting: %s", e)
        return 2
    logs.setup(settings.log_level)
    log = logging.getLogger("smkit.server")

    from .app import create_app
    from .server import run

    loaded = prepare(settings)
    app = create_app(settings, loaded)
    log.info(
        "starting",
        extra={
            "fields": {
                "version": __version__,
                "port": settings.port,
                "workers": settings.workers,
                "worker_class": settings.worker_class,
                "batch": settings.batch,
                "max_payload_mb": settings.max_payload_bytes // (1024 * 1024),
                "ready": loaded.ready,
                "load_seconds": round(time.perf_counter() - started, 3),
            }
        },
    )
    # Move everything loaded so far (the model included) out of the collector's reach, so
    # garbage collection in the workers does not write to, and so un-share, those pages.
    gc.collect()
    gc.freeze()
    run(app, settings)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch the container's command line."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        return serve()
    if args[:1] in (["versions"], ["describe"]):
        from .describe import main as describe_main
        from .settings import Settings

        return describe_main(args[0], Settings.from_env().model_dir)
    if args[:1] == ["train"]:
        print("this image serves models and does not train; train on your own machine "
              "and put model.joblib in model.tar.gz", file=sys.stderr)
        return 2
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
