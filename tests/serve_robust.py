#!/usr/bin/env python3
"""Robustness test for arxiv-serve: hostile and broken clients on loopback.

    serve_robust.py --url http://127.0.0.1:PORT/ --timeout T [--maxbody N]

The server must run with -T T (idle timeout, seconds) and -b N. Sends
malformed JSON and random bytes, broken HTTP, oversized bodies (by
Content-Length and chunked), slowloris-style clients that drip headers or a
body, and many concurrent requests; checks each answer's status, that the
slow clients are cut off after the timeout while others are still served,
and that afterwards the server answers exactly as before. Every loop is
bounded; only 127.0.0.1 is contacted. Exit 0 ok, 1 a check failed.
"""
import argparse
import json
import random
import socket
import sys
import threading
import time
import urllib.parse

FAILS = []


def check(cond, what):
    if cond:
        print("ok: " + what)
    else:
        print("FAIL: " + what)
        FAILS.append(what)


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


def read_response(sock, timeout=10):
    """Read one HTTP/1.1 response (Content-Length framed) or None if closed."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Resp(status, headers, rest[:n])


def connect(addr):
    s = socket.create_connection(addr, timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(addr, method, path, body=None, headers=None, raw=None):
    s = connect(addr)
    try:
        if raw is None:
            h = {"Host": "127.0.0.1", "Connection": "close"}
            if body is not None:
                h["Content-Length"] = str(len(body))
                h.setdefault("Content-Type", "application/json")
            h.update(headers or {})
            raw = ("%s %s HTTP/1.1\r\n" % (method, path)).encode() + b"".join(
                ("%s: %s\r\n" % kv).encode() for kv in h.items()) + b"\r\n" + (body or b"")
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass	# the server may refuse before reading everything
        try:
            return read_response(s)
        except (ConnectionResetError, socket.timeout):
            return None
    finally:
        s.close()


def post(addr, obj_or_bytes, headers=None):
    body = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes).encode()
    return request(addr, "POST", "/api/predict/", body, headers)


def err_body(r):
    try:
        j = json.loads(r.body)
        return isinstance(j, dict) and isinstance(j.get("error"), str) and isinstance(j.get("detail"), str)
    except ValueError:
        return False


ABSTRACT = "We study the spectral gap of random regular graphs and prove a conjecture of Alon."


def malformed(addr, rng):
    bad = [b"", b"{", b"}", b"[]", b"null", b"42", b'"abstract"', b'{"abstract":}',
           b'{"abstract":"x",}', b'{"abstract":"x"', b"{'abstract':'x'}", b'{"abstract":"\\ud800"}',
           b'{"abstract":"a\\u0000b"}', b'{"abstract":"\xff\xfe"}', b'{"abstract":"x"}garbage',
           b"[" * 100000, b'{"a":' * 50000, b'{"abstract":"x","top_k":1e999}',
           b'{"abstract":"x","top_k":-9223372036854775809}', b"\x00" * 1000, b'{"abstracts":[' + b'"x",' * 1000 + b'"x"]}',
           b'{"abstracts":[{"abstract":5}]}', b'{"abstracts":[{"title":"t"}]}', b'{"abstract":["x"]}',
           b'{"abstract":{"abstract":"x"}}', b'{"title":"t"}', b'{"abstract":"x","title":[]}']
    for i in range(200):
        n = rng.randrange(1, 3000)
        bad.append(bytes(rng.randrange(256) for _ in range(n)))
    statuses = {}
    ok_shape = True
    for b in bad:
        r = post(addr, b)
        code = r.status if r else None
        statuses[code] = statuses.get(code, 0) + 1
        if r is None or r.status not in (400, 413) or not err_body(r):
            ok_shape = False
            print("  unexpected answer to %r...: %s %s" % (b[:60], code, r.body[:200] if r else ""))
    check(ok_shape, "malformed bodies (%d): all 400/413 with a JSON error %s" % (len(bad), statuses))
    # the expected status for a few of them exactly
    check(post(addr, b'{"abstract":"x","top_k":true}').status == 400, "top_k true -> 400")
    check(post(addr, b"[" * 100000).status == 400, "100000 nested arrays -> 400 (no stack overflow)")
    r = post(addr, b'{"abstract":"x","top_k":null,"title":null,"other":[' + b"1," * 1000 + b"1]}")
    check(r is not None and r.status == 200, "null top_k and title, unknown keys: accepted")


def broken_http(addr, rng):
    raws = [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost x\r\n\r\n", b"\r\n\r\n\r\n",
            b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
            b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
            b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
            b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
            b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nab",
            b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100000 + b"\r\n\r\n",
            b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
            b"GET /%00%ff%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /healthz HTTP/1.0\r\n\r\n"]
    for i in range(100):
        raws.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))) + b"\r\n\r\n")
    answered = 0
    for raw in raws:
        r = request(addr, None, None, raw=raw)
        if r is not None:
            answered += 1
            if r.status == 200 and b"root:" in r.body:
                check(False, "path traversal served a file")
    r = request(addr, None, None, raw=b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(r is None or r.status == 404, "../ path -> 404 or refused")
    r = request(addr, None, None, raw=b"GET /healthz HTTP/1.0\r\n\r\n")
    check(r is not None and r.status == 200, "HTTP/1.0 request still answered")
    check(True, "broken HTTP: %d requests sent, %d answered, server alive" % (len(raws), answered))


def oversized(addr, maxbody):
    big = json.dumps({"abstract": "x" * (maxbody + 10)}).encode()
    r = post(addr, big)
    check(r is not None and r.status == 413 and err_body(r), "body over -b by Content-Length -> 413")
    # declared small, streamed large: chunked without Content-Length
    s = connect(addr)
    s.sendall(b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    sent = 0
    try:
        while sent < 3 * maxbody:
            piece = b"x" * 65536
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        s.sendall(b"0\r\n\r\n")
        r = read_response(s)
    except (BrokenPipeError, ConnectionResetError):
        r = None
    s.close()
    check(r is not None and r.status == 413, "chunked body over -b -> 413 (%s)" % (r.status if r else None))
    # an endless chunked upload is cut off, not buffered
    s = connect(addr)
    s.sendall(b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    cut = False
    try:
        for _ in range(2000):	# at most 128 MiB
            s.sendall(b"10000\r\n" + b"y" * 65536 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        cut = True
    s.close()
    check(cut, "an endless chunked upload is cut off")
    r = request(addr, "POST", "/api/predict/", b"{}", {"Content-Length": str(10 ** 12)})
    check(r is not None and r.status == 413, "Content-Length 10^12 -> 413 before reading")


def slow_clients(addr, timeout, ref):
    """Slowloris: 40 clients drip headers, 10 drip a body; others must still be served."""
    socks = []
    for i in range(50):
        s = connect(addr)
        if i < 40:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        else:
            s.sendall(b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        socks.append(s)
    t0 = time.time()
    served = []
    # drip one byte per connection every timeout/2.5 s for 2 rounds (kept alive), then stop
    for rnd in range(2):
        time.sleep(timeout / 2.5)
        for s in socks:
            try:
                s.sendall(b"X")
            except OSError:
                pass
        t = time.time()
        r = post(addr, {"abstract": ABSTRACT})
        served.append((r is not None and r.status == 200 and r.body == ref, time.time() - t))
    check(all(ok for ok, _ in served), "served correctly during the slowloris (%s)" %
          ", ".join("%.0f ms" % (1000 * dt) for _, dt in served))
    check(max(dt for _, dt in served) < 1.0, "answers under 1 s during the slowloris")
    # now silent: each must be closed by the server within timeout + slack
    closed = 0
    for s in socks:
        left = max(0.1, t0 + 2 * timeout / 2.5 + timeout + 3 - time.time())
        s.settimeout(left)
        try:
            data = s.recv(65536)
            while data:	# a 408 or similar may come first
                data = s.recv(65536)
            closed += 1
        except ConnectionResetError:
            closed += 1
        except socket.timeout:
            pass
        s.close()
    check(closed == len(socks), "%d of %d slow connections closed by the server after the %gs timeout" %
          (closed, len(socks), timeout))


def concurrent(addr, ref, ref_batch):
    errors = []
    counts = [0]
    lock = threading.Lock()

    def worker(wid):
        rng = random.Random(wid)
        # keep-alive connection per worker, 40 requests each
        s = connect(addr)
        try:
            for i in range(40):
                kind = rng.randrange(4)
                if kind == 0:
                    body, path, want = json.dumps({"abstract": ABSTRACT}).encode(), "/api/predict/", ref
                elif kind == 1:
                    body = json.dumps({"abstracts": [ABSTRACT] * 8}).encode()
                    path, want = "/api/predict/", ref_batch
                elif kind == 2:
                    body, path, want = b"{bad", "/api/predict/", None
                else:
                    body, path, want = None, "/healthz", b'{"status":"ok"}\n'
                if body is None:
                    raw = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode()
                else:
                    raw = (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n" % (path.encode(), len(body))) + body
                s.sendall(raw)
                r = read_response(s)
                if r is None:
                    raise RuntimeError("connection closed")
                good = (r.status == 400) if want is None else (r.status == 200 and r.body == want)
                with lock:
                    counts[0] += 1
                    if not good:
                        errors.append((wid, i, r.status, r.body[:100]))
        except Exception as e:  # noqa: BLE001 - reported as a failure
            with lock:
                errors.append((wid, "exception", repr(e)))
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(32)]
    t = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    check(not errors, "32 concurrent keep-alive clients x 40 requests: %d answered correctly in %.1f s%s" %
          (counts[0], time.time() - t, "" if not errors else "; errors: %r" % errors[:5]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--timeout", type=float, required=True)
    ap.add_argument("--maxbody", type=int, default=1 << 20)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("serve_robust.py: refusing to test a non-loopback address: %s" % u.hostname)
    addr = (u.hostname, u.port or 80)
    rng = random.Random(1234)

    ref = post(addr, {"abstract": ABSTRACT})
    check(ref is not None and ref.status == 200, "reference prediction answered")
    if ref is None or ref.status != 200:
        return 1
    rb = post(addr, {"abstracts": [ABSTRACT] * 8})
    check(rb is not None and rb.status == 200, "reference batch answered")
    ref_batch = rb.body
    check(ref_batch == b'{"predictions":[' + b",".join([ref.body.rstrip(b"\n")] * 8) + b"]}\n",
          "a batch answer is the single answers joined")

    malformed(addr, rng)
    broken_http(addr, rng)
    oversized(addr, a.maxbody)
    slow_clients(addr, a.timeout, ref.body)
    concurrent(addr, ref.body, ref_batch)

    after = post(addr, {"abstract": ABSTRACT})
    check(after is not None and after.status == 200 and after.body == ref.body,
          "afterwards the same abstract gets the same answer")
    h = request(addr, "GET", "/healthz")
    check(h is not None and h.status == 200, "afterwards /healthz answers 200")
    m = request(addr, "GET", "/metrics")
    check(m is not None and m.status == 200 and b"arxiv_http_requests_total" in m.body,
          "afterwards /metrics answers")
    print("%d checks failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
