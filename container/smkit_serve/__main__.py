"""Container entry point: ``docker run IMAGE serve``."""

from __future__ import annotations

import gc
import importlib
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
    """Load the model here, as the master does before fork, and prove it predicts in a child.

    The model is loaded once, in this process, with native thread pools at one thread, so
    the workers share it copy-on-write and inherit no pool (see ``prove``).
    """
    from threadpoolctl import threadpool_limits

    from .model import load_model

    with threadpool_limits(1):
        loaded = load_model(settings.model_dir, settings.program)
    prove(loaded, settings.model_dir, settings.timeout)
    return loaded


def prove(loaded: LoadedModel, model_dir: str, timeout: float) -> None:
    """Run the start-up prediction in a short-lived forked child; set ``loaded.ready``.

    A prediction may start its library's native thread pool (LightGBM's OpenMP pool of all
    cores, whatever threadpoolctl says, since it passes its own thread count). A pool does
    not survive fork: workers forked from a process that started one block in it forever
    (GNU OpenMP). The child predicts as a worker would, reports whether it could through a
    pipe, and exits; this process never starts a pool. A child that does not answer within
    ``timeout`` seconds is killed and the model is not ready, with the likely cause.
    Modules the prediction imported (pandas, for a model fitted on a DataFrame) are then
    imported here too, so the workers share them.
    """
    import os
    import select
    import signal

    import orjson

    from .handler import smoke_check
    from .watchdog import model_library, startup_timeout_message

    if loaded.model is None:
        return  # not loaded: the reason is already set, and there is nothing to predict
    log = logging.getLogger("smkit.server")
    before = set(sys.modules)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: predict, report, and leave without running any exit code
        os.close(read_end)
        code = 0
        try:
            smoke_check(loaded, model_dir)
            report = {"ready": loaded.ready, "reason": loaded.reason,
                      "modules": [m for m in sys.modules if m not in before]}
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(orjson.dumps(report))
        except BaseException as e:
            log.error("the start-up prediction raised %s", type(e).__name__, exc_info=e)
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    data = b""
    timed_out = False
    deadline = time.monotonic() + timeout
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while not timed_out:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
            elif chunk := pipe.read(1 << 16):
                data += chunk
            else:
                break  # the child closed its end: its report is complete
    _, status = os.waitpid(pid, 0)
    if timed_out:
        loaded.ready = False
        loaded.reason = startup_timeout_message(loaded.model, int(timeout))
        log.error("model not ready: %s", loaded.reason)
        return
    try:
        report = orjson.loads(data)
    except orjson.JSONDecodeError:
        how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit code {os.WEXITSTATUS(status)}")
        loaded.ready = False
        loaded.reason = (f"the start-up prediction of the {model_library(loaded.model)} model "
                         f"crashed ({how}); the container log has the details")
        log.error("model not ready: %s", loaded.reason)
        return
    loaded.ready, loaded.reason = bool(report["ready"]), str(report["reason"])
    for name in report["modules"]:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a module made at run time, not importable
                log.debug("module %s not imported before fork", name)


def serve() -> int:
    """Load settings and the model, then serve until SIGTERM."""
    started = time.perf_counter()
    from . import __version__, logs
    from .server import cap_native_pools
    from .settings import Settings, SettingsError

    cap_native_pools()  # before anything imports numpy

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

        settings = Settings.from_env()
        return describe_main(args[0], settings.model_dir, settings.timeout)
    if args[:1] == ["train"]:
        print("this image serves models and does not train; train on your own machine "
              "and put model.joblib in model.tar.gz", file=sys.stderr)
        return 2
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
