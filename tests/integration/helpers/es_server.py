#!/usr/bin/env python3
"""Elasticsearch's _bulk contract, for the tests and the bench (there is no
Elasticsearch among Debian's packages).

POST /INDEX/_bulk takes NDJSON (gzip when Content-Encoding says so) of
create actions with an _id and answers per item, in order: 201 created, 409
version_conflict_engine_exception when the _id is already there, or what an
injection asks.  GET / answers as a cluster does.  Every stored document is
appended to --store as {"_index", "_id", "doc"}.  Test hooks:
  POST /_test/inject {"request_status": 500, "count": N}
      the next N bulk requests are refused whole with that status
  POST /_test/inject {"item_status": 429, "every": K, "count": N}
      in the next N bulk requests, every K-th item gets that status
  POST /_test/inject {"reject_seq": S}
      the document whose sandtrail.seq is S gets 400 mapper_parsing_exception
  GET /_test/stats   counters (JSON); first_ts: when the first bulk request
                     came, answered: [monotonic s, documents created] per request
Usage: es_server.py --port-file FILE [--store FILE] [--api-key KEY] [--basic USER:PASSWORD]
                    [--tls CERT KEY] [--save-body FILE]
  --api-key, --basic: what Authorization must hold (either, when both are given);
                 anything else is answered 401 security_exception (counted)
  --tls: https only, with that certificate and key (PEM)
  --save-body: the first bulk request's body, as received (the bench posts it again)
"""
import base64
import argparse
import gzip
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
ids = set()
stats = {"first_ts": None, "answered": [], "requests": 0, "gzip_requests": 0, "plain_requests": 0, "items": 0, "created": 0,
         "conflicts": 0, "injected_items": 0, "injected_requests": 0, "rejected": 0, "bad_requests": 0,
         "auth_api_key": 0, "auth_basic": 0, "unauthorised": 0}
inject = {"request": [], "item": [], "reject": set()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorised(self):
        if not args.api_key and not args.basic:
            return True
        got = self.headers.get("Authorization")
        kind = None
        if args.api_key and got == "ApiKey " + args.api_key:
            kind = "auth_api_key"
        elif args.basic and got == "Basic " + base64.b64encode(args.basic.encode()).decode():
            kind = "auth_basic"
        with lock:
            stats[kind or "unauthorised"] += 1
        if kind:
            return True
        self.answer(401, {"error": {"type": "security_exception",
                                    "reason": "unable to authenticate user" if got else "missing authentication"},
                          "status": 401})
        return False

    def do_GET(self):
        if self.path == "/_test/stats":
            with lock:
                return self.answer(200, dict(stats, stored=len(ids)))
        if not self.authorised():
            return
        if self.path == "/":
            return self.answer(200, {"name": "sandtrail-test", "cluster_name": "test",
                                     "version": {"number": "8.11.0"}, "tagline": "You Know, for Search"})
        self.answer(404, {"error": "no such path", "status": 404})

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if args.save_body and self.path.endswith("/_bulk") and not os.path.exists(args.save_body):
            with open(args.save_body, "wb") as f:
                f.write(body)
        if self.headers.get("Content-Encoding") == "gzip":
            return gzip.decompress(body), True
        return body, False

    def do_POST(self):
        body, gz = self.read_body()
        if self.path == "/_test/inject":
            rule = json.loads(body)
            with lock:
                if "reject_seq" in rule:
                    inject["reject"].add(rule["reject_seq"])
                elif "request_status" in rule:
                    inject["request"] += [rule["request_status"]] * rule.get("count", 1)
                else:
                    inject["item"] += [(rule["item_status"], rule.get("every", 1))] * rule.get("count", 1)
            return self.answer(200, {"acknowledged": True})
        if not self.authorised():
            return
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[1] != "_bulk":
            return self.answer(404, {"error": "no such path", "status": 404})
        index = parts[0]
        with lock:
            stats["first_ts"] = stats["first_ts"] or time.monotonic()
            stats["requests"] += 1
            stats["gzip_requests" if gz else "plain_requests"] += 1
            if self.headers.get("Content-Type") != "application/x-ndjson":
                stats["bad_requests"] += 1
                return self.answer(400, {"error": {"type": "illegal_argument_exception",
                                                   "reason": "Content-Type must be application/x-ndjson"}})
            if inject["request"]:
                stats["injected_requests"] += 1
                status = inject["request"].pop(0)
                return self.answer(status, {"error": {"type": "injected", "reason": "injected"}, "status": status})
            rule = inject["item"].pop(0) if inject["item"] else None
            lines = body.decode().split("\n")
            if lines[-1] != "" or len(lines) % 2 != 1:
                stats["bad_requests"] += 1
                return self.answer(400, {"error": {"type": "parse_exception", "reason": "not NDJSON pairs"}})
            items, errors = [], False
            for k in range(0, len(lines) - 1, 2):
                action, doc = json.loads(lines[k]), json.loads(lines[k + 1])
                op = action["create"]
                _id = op["_id"]
                stats["items"] += 1
                n = k // 2 + 1
                item = {"_index": index, "_id": _id}
                if rule and n % rule[1] == 0:
                    stats["injected_items"] += 1
                    item.update(status=rule[0], error={"type": "injected", "reason": "injected"})
                elif doc.get("sandtrail", {}).get("seq") in inject["reject"]:
                    stats["rejected"] += 1
                    item.update(status=400, error={"type": "mapper_parsing_exception",
                                                   "reason": "failed to parse field [sandtrail.seq]\nline two"})
                elif (index, _id) in ids:
                    stats["conflicts"] += 1
                    item.update(status=409, error={"type": "version_conflict_engine_exception",
                                                   "reason": "[%s]: version conflict, document already exists" % _id})
                else:
                    ids.add((index, _id))
                    stats["created"] += 1
                    item.update(status=201, result="created", _version=1)
                    if store:
                        store.write(json.dumps({"_index": index, "_id": _id, "doc": doc}) + "\n")
                errors = errors or item["status"] >= 300
                items.append({"create": item})
            if store:
                store.flush()
        self.answer(200, {"took": 1, "errors": errors, "items": items})
        with lock:
            stats["answered"].append([time.monotonic(), stats["created"]])


parser = argparse.ArgumentParser()
parser.add_argument("--port-file", required=True)
parser.add_argument("--store")
parser.add_argument("--api-key")
parser.add_argument("--basic")
parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
parser.add_argument("--save-body")
args = parser.parse_args()
store = open(args.store, "a") if args.store else None
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if args.tls:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*args.tls)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
with open(args.port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
