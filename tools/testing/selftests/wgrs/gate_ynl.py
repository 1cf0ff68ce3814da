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
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
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
