"""The Catalog emulator's HTTP side: boto3's ``marketplace-catalog`` wire protocol (restJson1).

Run ``python -m smkit.emulators.catalog --host 127.0.0.1 --port N`` and point boto3 at it with
``AWS_ENDPOINT_URL_MARKETPLACE_CATALOG=http://127.0.0.1:N``.

The routes are those of botocore's service model: ``POST /StartChangeSet``,
``GET /DescribeChangeSet?catalog=&changeSetId=``, ``POST /ListChangeSets``,
``GET /DescribeEntity?catalog=&entityId=``, ``POST /ListEntities`` and
``PATCH /CancelChangeSet?catalog=&changeSetId=``. Errors carry ``x-amzn-ErrorType`` and a
``Message`` so boto3 raises ``ClientError`` with the AWS error code.

The three parts of the emulator: this module (requests and answers), ``catalog_state`` (the
entities and the change-set life cycle) and ``catalog_rules`` (the shared rule set of
``smkit.listing.rules`` in AWS's error shapes). With a SageMaker endpoint
(``--sagemaker-endpoint``, or ``AWS_ENDPOINT_URL_SAGEMAKER``) model packages are read like
Marketplace does, to check they exist, are certified and which instance types they support.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from smkit.emulators.catalog_rules import ApiError, sagemaker_lookup, validation
from smkit.emulators.catalog_state import ACCOUNT, Catalog, ChangeSet
from smkit.listing import limits
from smkit.listing.rules import Context


class Api:
    """The Catalog API operations over a ``Catalog``: request fields in, response shapes out."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.lock = catalog.lock
        self.region = catalog.region

    def start_change_set(self, body: dict[str, Any]) -> dict[str, Any]:
        """StartChangeSet."""
        return self.catalog.start_change_set(body)

    def _change_set(self, catalog: Any, cs_id: Any) -> ChangeSet:
        self.catalog.check_catalog(catalog)
        cs = self.catalog.change_sets.get(str(cs_id))
        if cs is None:
            raise ApiError(404, "ResourceNotFoundException", f"change set {cs_id} not found")
        return cs

    def describe_change_set(self, catalog: Any, cs_id: Any) -> dict[str, Any]:
        """DescribeChangeSet."""
        with self.lock:
            cs = self._change_set(catalog, cs_id)
            changes = []
            for i, change in enumerate(cs.changes):
                ident = change["Entity"]["Identifier"]
                if i in cs.resolved and cs.resolved[i] in self.catalog.entities:
                    ident = f"{cs.resolved[i]}@1"
                entity = {"Type": change["Entity"]["Type"]}
                if ident:
                    entity["Identifier"] = ident
                summary: dict[str, Any] = {
                    "ChangeType": change["ChangeType"], "Entity": entity,
                    "Details": json.dumps(change["Details"]),
                    "DetailsDocument": change["Details"],
                    "ErrorDetailList": cs.errors[i] if i < len(cs.errors) else [],
                }
                if change["ChangeName"]:
                    summary["ChangeName"] = change["ChangeName"]
                changes.append(summary)
            out: dict[str, Any] = {**self.catalog.ids(cs), "Intent": cs.intent,
                                   "StartTime": cs.start, "Status": cs.status,
                                   "ChangeSet": changes}
            for key, value in (("ChangeSetName", cs.name), ("EndTime", cs.end),
                               ("FailureCode", cs.failure_code),
                               ("FailureDescription", cs.failure_description)):
                if value:
                    out[key] = value
            return out

    def cancel_change_set(self, catalog: Any, cs_id: Any) -> dict[str, Any]:
        """CancelChangeSet: only while the change set is still being prepared."""
        with self.lock:
            cs = self._change_set(catalog, cs_id)
            if cs.status == "APPLYING":
                raise ApiError(423, "ResourceInUseException",
                               f"change set {cs.cs_id} is APPLYING and can no longer be cancelled")
            if cs.status != "PREPARING":
                raise validation(f"change set {cs.cs_id} is already {cs.status}")
            self.catalog.finish(cs, "CANCELLED")
            return self.catalog.ids(cs)

    @staticmethod
    def _page(items: list[Any], body: dict[str, Any], most: int) -> tuple[list[Any], str | None]:
        try:
            start = int(body.get("NextToken") or 0)
            size = int(body.get("MaxResults") or most)
        except ValueError:
            raise validation("NextToken or MaxResults is not valid") from None
        if not 1 <= size <= most:
            raise validation(f"MaxResults must be 1 to {most}")
        end = start + size
        return items[start:end], (str(end) if end < len(items) else None)

    @staticmethod
    def _filters(body: dict[str, Any]) -> dict[str, list[str]]:
        return {f.get("Name"): list(f.get("ValueList") or []) for f in body.get("FilterList") or []}

    def list_change_sets(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListChangeSets, filtered by EntityId, ChangeSetName or Status."""
        self.catalog.check_catalog(body.get("Catalog"))
        filters = self._filters(body)
        with self.lock:
            rows = []
            for cs in self.catalog.change_sets.values():
                if "EntityId" in filters and not set(filters["EntityId"]) & set(cs.entity_ids):
                    continue
                if "Status" in filters and cs.status not in filters["Status"]:
                    continue
                if "ChangeSetName" in filters and cs.name not in filters["ChangeSetName"]:
                    continue
                row: dict[str, Any] = {**self.catalog.ids(cs), "StartTime": cs.start,
                                       "Status": cs.status, "EntityIdList": cs.entity_ids}
                for key, value in (("ChangeSetName", cs.name), ("EndTime", cs.end),
                                   ("FailureCode", cs.failure_code)):
                    if value:
                        row[key] = value
                rows.append(row)
        page, token = self._page(rows, body, 20)
        return {"ChangeSetSummaryList": page, **({"NextToken": token} if token else {})}

    def describe_entity(self, catalog: Any, entity_id: Any) -> dict[str, Any]:
        """DescribeEntity."""
        self.catalog.check_catalog(catalog)
        with self.lock:
            entity = self.catalog.entities.get(str(entity_id).split("@", 1)[0])
            if entity is None:
                raise ApiError(404, "ResourceNotFoundException", f"entity {entity_id} not found")
            public = entity.details
            return {"EntityType": entity.type, "EntityIdentifier": f"{entity.entity_id}@1",
                    "EntityArn": entity.arn(self.region, ACCOUNT),
                    "LastModifiedDate": entity.modified, "Details": json.dumps(public),
                    "DetailsDocument": public}

    def list_entities(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListEntities of one type, filtered by EntityId."""
        self.catalog.check_catalog(body.get("Catalog"))
        wanted = str(body.get("EntityType") or "")
        if not wanted:
            raise validation("EntityType is required")
        filters = self._filters(body)
        with self.lock:
            rows = []
            for e in self.catalog.entities.values():
                kind = e.type.split("@", 1)[0]
                if kind != wanted.split("@", 1)[0]:
                    continue
                if "EntityId" in filters and e.entity_id not in filters["EntityId"]:
                    continue
                row: dict[str, Any] = {"EntityType": kind, "EntityId": e.entity_id,
                                       "EntityArn": e.arn(self.region, ACCOUNT),
                                       "LastModifiedDate": e.modified}
                if e.type == limits.PRODUCT_TYPE:
                    description = e.details.get("Description") or {}
                    title = description.get("ProductTitle", "")
                    row["Name"] = title
                    row["Visibility"] = description.get("Visibility", "Draft")
                    row["MachineLearningProductSummary"] = {
                        "ProductTitle": title, "Visibility": row["Visibility"]}
                else:
                    row["OfferSummary"] = {"ProductId": e.details.get("ProductId", ""),
                                           "State": e.details.get("State", "Draft")}
                rows.append(row)
        page, token = self._page(rows, body, 50)
        return {"EntitySummaryList": page, **({"NextToken": token} if token else {})}



# ----------------------------------------------------------------------------- HTTP


def make_handler(catalog: Api) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``catalog``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "smkit-catalog-emulator"

        def log_message(self, format: str, *args: Any) -> None:
            if os.environ.get("SMKIT_CATALOG_LOG"):
                super().log_message(format, *args)

        def _send(self, status: int, payload: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise validation("the request body is not JSON") from None
            if not isinstance(body, dict):
                raise validation("the request body must be a JSON object")
            return body

        def _dispatch(self, method: str) -> None:
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            routes: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
                ("POST", "/StartChangeSet"): lambda: catalog.start_change_set(self._body()),
                ("GET", "/DescribeChangeSet"):
                    lambda: catalog.describe_change_set(q.get("catalog"), q.get("changeSetId")),
                ("POST", "/ListChangeSets"): lambda: catalog.list_change_sets(self._body()),
                ("GET", "/DescribeEntity"):
                    lambda: catalog.describe_entity(q.get("catalog"), q.get("entityId")),
                ("POST", "/ListEntities"): lambda: catalog.list_entities(self._body()),
                ("PATCH", "/CancelChangeSet"):
                    lambda: catalog.cancel_change_set(q.get("catalog"), q.get("changeSetId")),
                ("GET", "/"): lambda: {"service": "marketplace-catalog", "emulator": "smkit"},
            }
            route = routes.get((method, url.path))
            try:
                if route is None:
                    raise ApiError(404, "UnknownOperationException",
                                   f"{method} {url.path} is not an operation this emulator knows")
                self._send(200, route())
            except ApiError as e:
                self._send(e.status, {"Message": e.message}, {"x-amzn-ErrorType": e.code})

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator until SIGTERM or Ctrl-C."""
    ap = argparse.ArgumentParser(prog="python -m smkit.emulators.catalog", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4580)
    ap.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    ap.add_argument("--delay", type=float, default=0.3,
                    help="seconds each asynchronous step takes (PREPARING, APPLYING)")
    ap.add_argument("--review-delay", type=float, default=1.0,
                    help="seconds the review of a request to go Public takes")
    ap.add_argument("--sagemaker-endpoint",
                    default=os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER")
                    or os.environ.get("AWS_ENDPOINT_URL"),
                    help="where to read model packages (default: $AWS_ENDPOINT_URL_SAGEMAKER)")
    args = ap.parse_args(argv)
    lookup = sagemaker_lookup(args.sagemaker_endpoint, args.region) \
        if args.sagemaker_endpoint else None
    ctx = Context(seller_account=ACCOUNT, region=args.region, lookup=lookup)
    catalog = Api(Catalog(region=args.region, delay=args.delay,
                          review_delay=args.review_delay, ctx=ctx))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(catalog))
    server.daemon_threads = True

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print(f"smkit catalog emulator ready on http://{host!s}:{port}"
          f" (model packages from {args.sagemaker_endpoint or 'nowhere: not checked'})",
          flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
