#!/usr/bin/env python3
"""Drive arxiv-serve's web page in headless Chromium over the DevTools protocol.

    browser_test.py --url http://127.0.0.1:PORT/ --out DIR [--expect-error STATUS | --expect-abstain] [--expect-similar]

Types an abstract into the page, presses Ctrl+Enter, waits for the result and
checks what is rendered against a direct call to POST /api/predict/ (label,
confidence, five bars, the winner's bar green), at desktop and at phone width
(no horizontal scrolling), and saves a screenshot of each (paths printed as
"screenshot: PATH"). With --expect-error it checks that the server's error is
shown in the page instead. The fields chips and the explanation (the
abstract with the API's explanation terms highlighted) are checked against the
API too; with --expect-abstain it types text that is no abstract and checks
that the page says plainly that the model abstained, and why
(serve-page-abstain.png).
With --expect-similar (a server started with an index)
it checks the "Similar papers" list under the prediction against POST
/api/similar/ (titles linked to https://arxiv.org/abs/ID, field, score);
without it, that the list stays hidden. Exit 0 ok, 1 a check failed, 77 Chromium missing.
Needs python3-websocket (Debian) for the DevTools websocket.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ABSTRACT = ("We propose a scalable approach to semi-supervised learning on graph-structured data "
            "that is based on an efficient variant of convolutional neural networks which operate "
            "directly on graphs. Our model scales linearly in the number of graph edges.")
GREEN = "rgb(46, 160, 67)"	# --win in index.html


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)
    print("ok: " + what)


class Tab:
    """A page target over one websocket; synchronous calls, events queued."""

    def __init__(self, ws_url):
        import websocket  # python3-websocket
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise Fail("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, name, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == name:
                    del self.events[i]
                    return e
            self.ws.settimeout(max(0.1, end - time.time()))
            try:
                self.events.append(json.loads(self.ws.recv()))
            except Exception:
                break
        raise Fail("no %s within %ss" % (name, timeout))

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise Fail("JS error in %r: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_js(self, expr, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if self.js(expr):
                return
            time.sleep(0.05)
        raise Fail("timed out waiting for: " + expr)


def start_chromium(profile):
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        print("SKIP: chromium not found (apt-get install chromium)")
        sys.exit(77)
    args = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
            "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            "--user-data-dir=" + profile, "about:blank"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    end = time.time() + 30
    while time.time() < end:
        if os.path.exists(port_file):
            with open(port_file) as f:
                lines = f.read().split("\n")
            if len(lines) >= 2 and lines[0].strip():
                return proc, int(lines[0])
        if proc.poll() is not None:
            raise Fail("chromium exited with status %s" % proc.returncode)
        time.sleep(0.1)
    raise Fail("chromium did not open its DevTools port")


def page_ws(port):
    end = time.time() + 10
    while time.time() < end:
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
            for t in json.load(r):
                if t.get("type") == "page":
                    return t["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise Fail("no page target in chromium")


EXPLAIN = 8	# what the page asks for
NONSENSE = "asdf qwer zxcv"


def api_predict(url, abstract, top_k):
    req = urllib.request.Request(url + "api/predict/", method="POST",
                                 data=json.dumps({"abstract": abstract, "top_k": top_k,
                                                  "explain": EXPLAIN}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def api_similar(url, abstract, k):
    req = urllib.request.Request(url + "api/similar/", method="POST",
                                 data=json.dumps({"abstract": abstract, "k": k}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["similar"]


SIMILAR = """(() => {
  const box = document.getElementById('similar-box');
  return {
    hidden: box.hidden,
    items: [...document.querySelectorAll('#similar li')].map(li => ({
      href: li.querySelector('a').href,
      title: li.querySelector('a').textContent,
      score: li.querySelector('.score').textContent,
      meta: li.querySelector('.meta').textContent,
    })),
  };
})()"""


def check_similar(tab, url, name, expect):
    if not expect:
        time.sleep(0.5)
        check(tab.js(SIMILAR)["hidden"], "%s: no index: no similar papers shown" % name)
        return
    want = api_similar(url, ABSTRACT, 5)
    tab.wait_js("document.getElementById('similar-box').hidden === false")
    got = tab.js(SIMILAR)["items"]
    check(len(got) == len(want) == 5, "%s: 5 similar papers listed (%d, API %d)" % (name, len(got), len(want)))
    for g, w in zip(got, want):
        check(g["href"] == "https://arxiv.org/abs/" + w["id"], "%s: %s links to its abstract page" % (name, w["id"]))
        check(g["title"] == w["title"], "%s: title %r shown" % (name, w["title"]))
        check(g["score"] == "%.2f" % w["score"], "%s: score %s shown as %s" % (name, w["score"], g["score"]))
        check(w["field"] in g["meta"] and w["id"] in g["meta"], "%s: id and field shown (%r)" % (name, g["meta"]))


def api_labels(url):
    with urllib.request.urlopen(url + "api/labels/", timeout=10) as r:
        return json.load(r)["labels"]


def open_page(tab, url, width, height, mobile):
    tab.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
             deviceScaleFactor=2 if mobile else 1, mobile=mobile)
    tab.call("Page.navigate", url=url)
    tab.wait_event("Page.loadEventFired")
    tab.wait_js("document.readyState === 'complete'")


def type_and_submit(tab, text):
    tab.js("(() => { const t = document.getElementById('abstract'); t.value = ''; t.focus(); "
           "return document.activeElement === t; })()")
    if text:
        tab.call("Input.insertText", text=text)
    for kind in ("rawKeyDown", "keyUp"):
        tab.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                 windowsVirtualKeyCode=13, nativeVirtualKeyCode=13, modifiers=2)  # 2 = Ctrl


def screenshot(tab, path):
    size = tab.call("Page.getLayoutMetrics")["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    data = tab.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)["data"]
    with open(path, "wb") as f:
        f.write(base64.b64decode(data))
    print("screenshot: " + os.path.abspath(path))


STATE = """(() => {
  const rows = [...document.querySelectorAll('#bars .row')];
  return {
    hidden: document.getElementById('result').hidden,
    error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
    label: document.getElementById('label').textContent,
    confidence: document.getElementById('confidence').textContent,
    textarea: document.getElementById('abstract').value,
    rows: rows.map(r => ({
      name: r.querySelector('.name').textContent,
      pct: r.querySelector('.pct').textContent,
      win: r.classList.contains('win'),
      fill: getComputedStyle(r.querySelector('.fill')).backgroundColor,
      width: r.querySelector('.fill').style.width,
    })),
    overflow: document.documentElement.scrollWidth > window.innerWidth,
    chips: [...document.querySelectorAll('#fields .chip')].map(c => c.textContent),
    fieldsHidden: document.getElementById('fieldsbox').hidden,
    abstain: document.getElementById('abstain').hidden ? null : document.getElementById('abstain').textContent,
    why: !document.getElementById('why').hidden,
    marks: [...document.querySelectorAll('#whytext mark')].map(m => m.textContent),
    whyText: document.getElementById('whytext').textContent,
    labelSize: parseFloat(getComputedStyle(document.getElementById('label')).fontSize),
  };
})()"""


def run_success(tab, url, outdir, similar=False):
    labels = api_labels(url)
    k = min(5, len(labels))
    want = api_predict(url, ABSTRACT, k)
    for name, (w, h, mobile) in (("desktop", (1280, 860, False)), ("phone", (390, 844, True))):
        open_page(tab, url, w, h, mobile)
        tab.wait_js("document.getElementById('result').hidden === true")
        type_and_submit(tab, ABSTRACT)
        tab.wait_js("document.getElementById('result').hidden === false || "
                    "document.getElementById('error').hidden === false")
        tab.wait_js("document.querySelectorAll('#bars .row').length > 0")
        time.sleep(0.5)	# let the bar transition finish before the screenshot
        st = tab.js(STATE)
        check(st["error"] is None, "%s: no error shown (got %r)" % (name, st["error"]))
        check(st["textarea"] == ABSTRACT, "%s: Ctrl+Enter did not change the textarea" % name)
        check(st["label"] == want["predicted_category"],
              "%s: label %r is the API's %r" % (name, st["label"], want["predicted_category"]))
        conf = "%.1f%%" % (100 * want["confidence"])
        check(st["confidence"] == conf, "%s: confidence %r shown as %r" % (name, st["confidence"], conf))
        check(len(st["rows"]) == k, "%s: %d bars rendered (want %d)" % (name, len(st["rows"]), k))
        check([r["name"] for r in st["rows"]] == [t["label"] for t in want["top_k"]],
              "%s: bar labels in the API's order" % name)
        check(st["rows"][0]["win"] and not any(r["win"] for r in st["rows"][1:]),
              "%s: only the first bar is the winner" % name)
        check(st["rows"][0]["fill"] == GREEN, "%s: winner bar is green (%s)" % (name, st["rows"][0]["fill"]))
        check(all(r["fill"] != GREEN for r in st["rows"][1:]), "%s: other bars are not green" % name)
        check(not st["overflow"], "%s: no horizontal scrolling" % name)
        check(st["labelSize"] >= 24, "%s: predicted field is prominent (%spx)" % (name, st["labelSize"]))
        check(st["chips"] == want["fields"], "%s: field chips %r are the API's %r"
              % (name, st["chips"], want["fields"]))
        check(st["abstain"] is None, "%s: no abstain message for an abstract" % name)
        terms = [t["term"] for t in want.get("explanation", [])]
        check(len(terms) > 0 and st["why"], "%s: explanation shown (%d terms)" % (name, len(terms)))
        check(st["whyText"] == ABSTRACT, "%s: the explanation shows the abstract as typed" % name)
        check(len(st["marks"]) > 0 and all(m in terms for m in st["marks"]),
              "%s: highlighted words %r are the API's terms" % (name, st["marks"][:6]))
        check(st["marks"][0] in ABSTRACT, "%s: highlights are the abstract's own words" % name)
        check_similar(tab, url, name, similar)
        check(not tab.js(STATE)["overflow"], "%s: no horizontal scrolling with the list" % name)
        screenshot(tab, os.path.join(outdir, "serve-page-%s%s.png" % (name, "-similar" if similar else "")))
    # an empty abstract is refused in the page, without a request
    type_and_submit(tab, "")
    tab.wait_js("document.getElementById('error').hidden === false")
    st = tab.js(STATE)
    check("Paste an abstract" in st["error"], "empty abstract: error shown in the page (%r)" % st["error"])


def run_abstain(tab, url, outdir):
    want = api_predict(url, NONSENSE, min(5, len(api_labels(url))))
    check(want.get("abstained") is True, "API abstains on %r (%s)" % (NONSENSE, want.get("reason")))
    open_page(tab, url, 1280, 860, False)
    type_and_submit(tab, NONSENSE)
    tab.wait_js("document.getElementById('result').hidden === false")
    time.sleep(0.5)
    st = tab.js(STATE)
    check(st["label"] == "Other", "abstain: the page answers Other (%r)" % st["label"])
    check(st["abstain"] is not None and want["reason"] in st["abstain"] and
          "does not look like an abstract" in st["abstain"],
          "abstain: the page says so plainly, with the reason (%r)" % st["abstain"])
    check(st["confidence"] == "\u2014", "abstain: no confidence shown (%r)" % st["confidence"])
    check(st["fieldsHidden"] and st["chips"] == [], "abstain: no field chips")
    check(not any(r["win"] for r in st["rows"]), "abstain: no bar is the winner")
    check(not st["why"], "abstain: no explanation")
    check(not st["overflow"], "abstain: no horizontal scrolling")
    screenshot(tab, os.path.join(outdir, "serve-page-abstain.png"))


def run_error(tab, url, outdir, status):
    open_page(tab, url, 1280, 860, False)
    type_and_submit(tab, ABSTRACT)
    tab.wait_js("document.getElementById('error').hidden === false")
    st = tab.js(STATE)
    check(st["hidden"], "error: no result shown")
    check(("answered %s" % status) in st["error"], "error: status %s shown (%r)" % (status, st["error"]))
    check("model not loaded" in st["error"] or status != "503", "error: server's message shown")
    screenshot(tab, os.path.join(outdir, "serve-page-error.png"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--expect-error")
    ap.add_argument("--expect-abstain", action="store_true")
    ap.add_argument("--expect-similar", action="store_true")
    a = ap.parse_args()
    url = a.url if a.url.endswith("/") else a.url + "/"
    os.makedirs(a.out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="arxiv-chromium.")
    proc = None
    try:
        proc, port = start_chromium(profile)
        tab = Tab(page_ws(port))
        tab.call("Page.enable")
        tab.call("Runtime.enable")
        if a.expect_error:
            run_error(tab, url, a.out, a.expect_error)
        elif a.expect_abstain:
            run_abstain(tab, url, a.out)
        else:
            run_success(tab, url, a.out, a.expect_similar)
        tab.ws.close()
        return 0
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
