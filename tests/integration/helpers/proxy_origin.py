#!/usr/bin/python3
"""The servers behind the proxy in tests and bench (proxy_fixture.sh starts
them inside its network namespace): HTTPS with a certificate of the test CA,
or plain HTTP.  Each answer says where the request arrived (the local address
it was accepted on, the SNI, the Host header), so that a test can tell which
address a proxy really connected to.  Every request is one JSON line in
--log: scheme, addr, sni, method, path and headers.

  GET /bytes/N     N zero bytes (application/octet-stream), for throughput
  GET /status/NNN  an empty answer with that status
  anything else    200, application/json: {"addr", "sni", "host", "method", "path"}
"""
import argparse
import http.server
import json
import ssl
import sys
import threading

CHUNK = b"\0" * (1 << 20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", required=True, help="file written once listening")
    a = ap.parse_args()

    ctx = None
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        ctx.set_alpn_protocols(["http/1.1"])

        def on_sni(sock, name, _ctx):
            sock.sni = name

        ctx.sni_callback = on_sni
    log = open(a.log, "a", buffering=1)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            # the handshake in this connection's thread, not in accept()
            if ctx:
                self.request = ctx.wrap_socket(self.request, server_side=True)
            super().setup()

        def log_message(self, *args):
            pass

        def answer(self, status, ctype, body):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_one(self):
            addr = self.request.getsockname()[0]
            sni = getattr(self.request, "sni", None)
            with lock:
                log.write(json.dumps({
                    "scheme": "https" if ctx else "http", "addr": addr, "sni": sni,
                    "method": self.command, "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }) + "\n")
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            if self.path.startswith("/bytes/"):
                size = int(self.path[7:])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                while size > 0:
                    k = min(size, len(CHUNK))
                    self.wfile.write(CHUNK[:k] if k < len(CHUNK) else CHUNK)
                    size -= k
            elif self.path.startswith("/status/"):
                self.answer(int(self.path[8:]), "text/plain", b"")
            else:
                self.answer(200, "application/json", json.dumps({
                    "addr": addr, "sni": sni, "host": self.headers.get("Host"),
                    "method": self.command, "path": self.path}).encode() + b"\n")

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_one

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # a proxy opens many in a row: no SYN dropped
        allow_reuse_address = True

    srv = Server((a.bind, a.port), Handler)
    with open(a.ready, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
