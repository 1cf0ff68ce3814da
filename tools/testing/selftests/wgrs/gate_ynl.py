#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The kernel's YNL library (tools/net/ynl/pyynl/lib, what its cli.py runs)
for gate.sh, kept running so that a request costs a netlink round trip
rather than a Python start and a spec parse, which under QEMU/TCG take
ten seconds each.

    gate_ynl.py YNL_DIR SPEC

Reads one request per line on stdin, {"mode": "do"|"dump", "op": NAME,
"attrs": {...}}, and answers each with one line on stdout: {"reply": R},
R being what `cli.py --output-json` prints for the same request, or
{"error": TEXT}, TEXT being what cli.py prints for a netlink error.

    gate_ynl.py YNL_DIR SPEC --stuck

A listener that stops reading: joins the events group with the smallest
receive buffer and NETLINK_BROADCAST_ERROR (so that the kernel learns when
a notification does not fit), prints {"ready": true}, reads nothing until
a line arrives on stdin, then receives once and prints {"recv": ERRNO-NAME}
or {"recv": "ok"}.
"""
import errno
import json
import socket
import sys

SOL_NETLINK = 270
NETLINK_BROADCAST_ERROR = 4


def stuck(ynl):
    """The --stuck listener."""
    ynl.ntf_subscribe('events')
    ynl.sock.setsockopt(SOL_NETLINK, NETLINK_BROADCAST_ERROR, 1)
    ynl.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    try:
        ynl.sock.recv(65536, socket.MSG_DONTWAIT)
        out = "ok"
    except OSError as e:
        out = errno.errorcode.get(e.errno, str(e.errno))
    print(json.dumps({"recv": out}), flush=True)
    return 0


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[3:] not in ([], ["--stuck"]):
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, sys.argv[1])
    # pylint: disable=import-outside-toplevel,import-error
    from lib import YnlFamily, NlError

    class Encoder(json.JSONEncoder):
        """Bytes and sets as cli.py's --output-json prints them."""
        def default(self, o):
            if isinstance(o, bytes):
                return o.hex()
            if isinstance(o, set):
                return sorted(o)
            return super().default(o)

    ynl = YnlFamily(sys.argv[2], '')
    if sys.argv[3:] == ["--stuck"]:
        return stuck(ynl)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        try:
            req = json.loads(line)
            if req["mode"] == "dump":
                out = {"reply": ynl.dump(req["op"], req["attrs"])}
            else:
                out = {"reply": ynl.do(req["op"], req["attrs"])}
        except NlError as e:
            out = {"error": str(e)}
        except Exception as e:  # pylint: disable=broad-except
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out, cls=Encoder), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
