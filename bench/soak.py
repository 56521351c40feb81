"""Memory soak: send a bounded number of requests to the image and report worker memory
before and after (`make soak`; default 100,000 requests, ``--requests N`` to change).

Mixes good CSV/JSON requests with bad ones, so error paths are soaked too. The load stays
on 127.0.0.1 and stops after the request count or a time limit, whichever comes first.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import re
import sys
import tempfile
import time
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
from smkit.image.docker import docker, serve

BODIES = [
    (b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3", "text/csv"),
    (b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}', "application/json"),
    (b"5.1,3.5,1.4", "text/csv"),  # wrong width: 400
    (b"[[1,2", "application/json"),  # malformed: 400
    (b"\x93NUMPY junk", "application/x-npy"),  # 400
]


def worker_memory(name: str) -> dict[str, float]:
    """RSS and PSS (MiB) summed over the server's processes inside the container."""
    script = (
        "import os,re\n"
        "rss=pss=0\n"
        "for p in os.listdir('/proc'):\n"
        "  if not p.isdigit(): continue\n"
        "  try: t=open(f'/proc/{p}/smaps_rollup').read(); c=open(f'/proc/{p}/cmdline').read()\n"
        "  except OSError: continue\n"
        "  if 'smkit_serve' not in c: continue\n"
        "  rss+=int(re.search(r'^Rss:\\s+(\\d+)',t,re.M).group(1))\n"
        "  pss+=int(re.search(r'^Pss:\\s+(\\d+)',t,re.M).group(1))\n"
        "print(rss,pss)\n"
    )
    out = docker("exec", name, "python3", "-c", script).stdout.decode().split()
    return {"rss_mib": int(out[0]) / 1024, "pss_mib": int(out[1]) / 1024}


def hammer(url: str, count: int, deadline: float) -> dict[int, int]:
    """Send ``count`` requests over keep-alive-less connections; return status counts."""
    host, port = re.match(r"http://([^:]+):(\d+)", url).groups()  # type: ignore[union-attr]
    counts: dict[int, int] = {}
    for i in range(count):
        if time.monotonic() > deadline:
            break
        body, ctype = BODIES[i % len(BODIES)]
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", "/invocations", body=body, headers={"Content-Type": ctype})
        status = conn.getresponse().status
        conn.close()
        counts[status] = counts.get(status, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--image", default="smkit-inference:latest")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        X, y = load_iris(return_X_y=True)
        joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), Path(tmp) / "model.joblib")
        env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "SMKIT_ACCESS_LOG": "false"}
        with serve(args.image, Path(tmp), env=env) as srv:
            assert srv.url is not None
            hammer(srv.url, 2000, time.monotonic() + 60)  # warm-up: allocator steady state
            before = worker_memory(srv.name)
            t0 = time.monotonic()
            deadline = t0 + args.max_seconds
            per_thread = args.requests // 4
            with cf.ThreadPoolExecutor(4) as pool:
                parts = list(pool.map(lambda _: hammer(srv.url or "", per_thread, deadline),
                                      range(4)))
            elapsed = time.monotonic() - t0
            after = worker_memory(srv.name)
            restarts = len(re.findall(r"Booting worker", srv.logs())) - 2
    counts: dict[int, int] = {}
    for part in parts:
        for status, n in part.items():
            counts[status] = counts.get(status, 0) + n
    sent = sum(counts.values())
    print(f"soak: {sent:,} requests in {elapsed:.0f} s ({sent / elapsed:,.0f}/s); "
          f"statuses {dict(sorted(counts.items()))}; worker restarts {restarts}")
    print(f"soak: RSS {before['rss_mib']:.1f} -> {after['rss_mib']:.1f} MiB, "
          f"PSS {before['pss_mib']:.1f} -> {after['pss_mib']:.1f} MiB "
          f"({after['rss_mib'] - before['rss_mib']:+.1f} MiB RSS)")
    bad = [s for s in counts if s >= 500]
    return 1 if bad or restarts else 0


if __name__ == "__main__":
    sys.exit(main())
