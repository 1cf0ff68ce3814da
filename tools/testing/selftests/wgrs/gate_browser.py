#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A real browser through the auth page, for agent.sh.

    gate_browser.py URL CODE-COMMAND SCREENSHOT.png

Starts Debian's headless Chromium (chromium-headless-shell, else chromium
--headless) in this network namespace with its DevTools port on 127.0.0.1,
loads URL (the agent's page, through the tunnel), then runs CODE-COMMAND (a
shell command printing the code, as the user reads their authenticator app
once the page is in front of them: a code computed before a slow browser
start could be out of its 30-s window by then), types the code into the
page's code field as keyboard input, presses Enter (the form's own submission, no
script of the page involved: it has none), waits for the answer page, prints
its title and text and saves a screenshot of it. Exit status 0 when the
answer page is the agent's success page ("Done"), 1 otherwise, 2 when the
browser could not be driven.

The DevTools protocol runs over a WebSocket; the few lines of client below
(RFC 6455: one connection, masked client frames, no extensions) keep the
test free of Python packages the VM root does not have.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

PORT = 9222
START_TIMEOUT = 180  # Chromium under TCG on a debug kernel starts slowly.
STEP_TIMEOUT = 120


class WebSocket:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=STEP_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (u.path or "/", u.hostname, u.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise OSError("WebSocket handshake: connection closed")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise OSError("WebSocket handshake refused: %r" % head[:100])

    def send(self, text):
        data = text.encode()
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("WebSocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 8:
                raise OSError("WebSocket closed by the browser")
            if op == 9:  # ping: answer, keep reading
                continue
            msg += payload
            if b0 & 0x80:
                return msg.decode()


class DevTools:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=STEP_TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    del self.events[i]
                    return e
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError("no %s within %d s" % (method, timeout))

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")


def browser():
    for name, extra in (("chromium-headless-shell", []), ("chromium", ["--headless"])):
        path = shutil.which(name)
        if path:
            return [path] + extra
    sys.exit("gate_browser.py: no chromium-headless-shell or chromium in PATH")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    url, code_cmd, shot = sys.argv[1:]
    profile = tempfile.mkdtemp(prefix="wgrs-chromium-")
    cmd = browser() + [
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--no-proxy-server", "--window-size=412,760", "--user-data-dir=" + profile,
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=%d" % PORT,
        "about:blank",
    ]
    log = open(os.path.join(profile, "chromium.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        return drive(url, code_cmd, shot, proc)
    except (OSError, RuntimeError, TimeoutError, ValueError, subprocess.CalledProcessError) as e:
        print("gate_browser.py: %s" % e)
        try:
            with open(os.path.join(profile, "chromium.log")) as f:
                print("chromium's log (last lines):\n" + "".join(f.readlines()[-15:]))
        except OSError:
            pass
        return 2
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def drive(url, code_cmd, shot, proc):
    base = "http://127.0.0.1:%d" % PORT
    deadline = time.time() + START_TIMEOUT
    t0 = time.time()
    while True:
        if proc.poll() is not None:
            raise OSError("chromium exited with status %d" % proc.returncode)
        try:
            targets = json.load(urllib.request.urlopen(base + "/json/list", timeout=10))
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                break
        except OSError:
            pass
        if time.time() > deadline:
            raise TimeoutError("chromium's DevTools port did not answer within %d s" % START_TIMEOUT)
        time.sleep(1)
    print("browser up after %.0f s: %s" % (time.time() - t0, " ".join(os.path.basename(a) for a in proc.args[:2])))
    dt = DevTools(WebSocket(pages[0]["webSocketDebuggerUrl"]))
    dt.call("Page.enable")
    dt.call("Page.navigate", url=url)
    dt.wait_event("Page.loadEventFired")
    print("loaded %s: title %r" % (url, dt.js("document.title")))
    if not dt.js("!!document.querySelector('form input[name=code]')"):
        print("the page has no code field:\n" + str(dt.js("document.body.innerText")))
        return 1
    code = subprocess.run(code_cmd, shell=True, check=True, capture_output=True, text=True).stdout.strip()
    # The field has autofocus; focus it anyway, then type and press Enter.
    dt.js("document.querySelector('input[name=code]').focus()")
    for ch in code:
        dt.call("Input.dispatchKeyEvent", type="keyDown", key=ch, text=ch)
        dt.call("Input.dispatchKeyEvent", type="keyUp", key=ch)
    typed = dt.js("document.querySelector('input[name=code]').value")
    print("typed into the field: %r" % typed)
    enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}
    dt.call("Input.dispatchKeyEvent", type="keyDown", text="\r", **enter)
    dt.call("Input.dispatchKeyEvent", type="keyUp", **enter)
    dt.wait_event("Page.loadEventFired")
    title = dt.js("document.title")
    text = dt.js("document.body.innerText")
    print("answer page: title %r\n%s" % (title, text))
    png = dt.call("Page.captureScreenshot", format="png").get("data", "")
    with open(shot, "wb") as f:
        f.write(base64.b64decode(png))
    print("screenshot: %s (%d bytes)" % (shot, os.path.getsize(shot)))
    return 0 if title == "Done" and typed == code else 1


if __name__ == "__main__":
    sys.exit(main())
