#!/usr/bin/env python3
"""A fake OAI-PMH 2.0 endpoint for the tests: replays the XML fixtures of one
scenario directory (see tests/fixtures/oai/README).

    fake_oai.py DIR PORTFILE LOG

Binds 127.0.0.1 on a free port, writes the port to PORTFILE, and appends one
line per request to LOG: "<unix time> <status> <query string>". The first
request (no resumptionToken) gets DIR/page1.xml, a request with
resumptionToken=T gets DIR/T.xml (404 when absent). DIR/503-once: the very
first request answers 503 with Retry-After: 1; DIR/500-once: a plain 500.
A scenario directory may be switched between requests (the tests rewrite a
symbolic link), so it is looked up for every request.
"""
import http.server
import os
import re
import sys
import time
import urllib.parse

root, portfile, logfile = sys.argv[1:4]
served_once = set()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, headers=()):
        with open(logfile, "a") as f:
            f.write("%.3f %d %s\n" % (time.time(), status, urllib.parse.urlsplit(self.path).query))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        d = os.path.realpath(root)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        for special, status, hdr in (("503-once", 503, [("Retry-After", "1")]),
                                     ("500-once", 500, [])):
            key = (d, special)
            if os.path.exists(os.path.join(d, special)) and key not in served_once:
                served_once.add(key)
                return self.reply(status, b"busy, come back later\n", hdr + [("Content-Type", "text/plain")])
        tok = q.get("resumptionToken", [None])[0]
        name = "page1" if tok is None else re.sub(r"[^A-Za-z0-9_-]", "_", tok)
        path = os.path.join(d, name + ".xml")
        if not os.path.exists(path):
            return self.reply(404, b"no such fixture\n", [("Content-Type", "text/plain")])
        with open(path, "rb") as f:
            body = f.read()
        self.reply(200, body, [("Content-Type", "text/xml; charset=utf-8")])


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
