#!/usr/bin/env python3
"""test_export_syslog.sh: parses what rsyslog received (one message a line,
written with %rawmsg%) as RFC 5424 (section 6, strictly: header fields,
SD-ELEMENTs with PARAM-VALUE escapes undone), and a MSG that is CEF into
its header and extension (escapes undone).  One JSON object per message on
stdout; exits 1 naming the line and byte of the first that does not parse."""
import json
import re
import sys

HEADER = re.compile(r"<(\d{1,3})>(\d{1,2}) (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) ")
NAME = re.compile(r"[!#-\\^-~]{1,32}")  # PRINTUSASCII but =, SP, ], "
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$")


class Bad(Exception):
    pass


def parse_sd(s, i):
    sd = {}
    if s[i] == "-":
        return sd, i + 1
    while i < len(s) and s[i] == "[":
        m = NAME.match(s, i + 1)
        if not m:
            raise Bad("SD-ID at byte %d" % (i + 1))
        sdid, i, params = m.group(0), m.end(), {}
        while s[i] == " ":
            n = re.compile(r"[!#-<>-\\^-~]{1,32}").match(s, i + 1)
            if not n or s[n.end():n.end() + 2] != '="':
                raise Bad("PARAM-NAME at byte %d" % (i + 1))
            name, i, value = n.group(0), n.end() + 2, []
            while s[i] != '"':
                if s[i] == "\\" and s[i + 1] in '"\\]':
                    value.append(s[i + 1])
                    i += 2
                elif s[i] == "]":
                    raise Bad("unescaped ] in PARAM-VALUE at byte %d" % i)
                else:
                    value.append(s[i])
                    i += 1
            params[name] = "".join(value)
            i += 1
        if s[i] != "]":
            raise Bad("SD-ELEMENT end at byte %d" % i)
        sd[sdid] = params
        i += 1
    return sd, i


def unescape_cef(s, specials):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            c = s[i + 1]
            out.append({"n": "\n", "r": "\r"}.get(c, c) if c in specials else None)
            if out[-1] is None:
                raise Bad("bad CEF escape \\%s" % c)
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_cef(msg):
    fields, cur, i = [], [], 4
    while len(fields) < 7:
        if i >= len(msg):
            raise Bad("CEF header has %d fields" % len(fields))
        if msg[i] == "\\":
            cur.append(msg[i:i + 2])
            i += 2
        elif msg[i] == "|":
            fields.append(unescape_cef("".join(cur), "|\\"))
            cur, i = [], i + 1
        else:
            cur.append(msg[i])
            i += 1
    ext, rest = {}, msg[i:]
    # keys start after a space (or the start) and end at an unescaped =
    for m in re.finditer(r"(?:^| )([A-Za-z0-9_]+)=((?:[^=\\]|\\.)*?)(?= [A-Za-z0-9_]+=|$)", rest):
        ext[m.group(1)] = unescape_cef(m.group(2), "\\=nr")
    version, vendor, product, dversion, sig, name, sev = fields
    return {"version": version, "vendor": vendor, "product": product, "device_version": dversion,
            "signature": sig, "name": name, "severity": int(sev), "ext": ext}


def parse(line):
    m = HEADER.match(line)
    if not m:
        raise Bad("HEADER")
    pri, version, ts, host, app, procid, msgid = m.groups()
    if int(pri) > 191 or version != "1" or not TS.match(ts):
        raise Bad("PRI, VERSION or TIMESTAMP")
    sd, i = parse_sd(line, m.end())
    msg = line[i + 1:] if i < len(line) else None
    if i < len(line) and line[i] != " ":
        raise Bad("no SP after STRUCTURED-DATA at byte %d" % i)
    out = {"pri": int(pri), "ts": ts, "host": host, "app": app, "procid": procid, "msgid": msgid, "sd": sd, "msg": msg}
    if msg and msg.startswith("CEF:"):
        out["cef"] = parse_cef(msg)
    return out


for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        print(json.dumps(parse(line.rstrip("\n"))))
    except (Bad, IndexError, ValueError) as e:
        sys.exit("%s:%d: %s" % (sys.argv[1], n, e))
