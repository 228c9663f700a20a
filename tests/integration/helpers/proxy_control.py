#!/usr/bin/python3
"""sandtraild's side of sandtrail-proxy's control socket, for tests: starts
the proxy with --control-fd (its other arguments after --), binds a
session listener on --listen in this network namespace and its DNS socket
(UDP, any port of the same address), sends session_add (the JSON given in
--session, both sockets by SCM_RIGHTS, as sandtraild does) and writes every
record the proxy sends back to --records, one JSON line each, until killed."""
import argparse
import json
import socket
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--listen", required=True)
ap.add_argument("--session", required=True, help="file with the session_add message")
ap.add_argument("--records", required=True)
ap.add_argument("proxy", nargs=argparse.REMAINDER)
a = ap.parse_args()
argv = a.proxy[1:] if a.proxy and a.proxy[0] == "--" else a.proxy

ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
proc = subprocess.Popen(argv + ["--control-fd", str(theirs.fileno())], pass_fds=(theirs.fileno(),))
theirs.close()
host, port = a.listen.rsplit(":", 1)
lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind((host, int(port)))
dsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dsock.bind((host, 0))
msg = json.load(open(a.session))
socket.send_fds(ours, [json.dumps(msg).encode()], [lsock.fileno(), dsock.fileno()])
with open(a.records, "a", buffering=1) as out:
    while True:
        data = ours.recv(65536)
        if not data:
            break
        out.write(data.decode() + "\n")
proc.wait()
sys.exit(proc.returncode)
