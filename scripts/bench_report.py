#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn make bench's records into the tables of Documentation/performance.rst.

    bench_report.py OUTDIR MB

OUTDIR holds raw.txt ("figure driver round value unit" per line, from the
guest's "# BENCH" records) and, when the instruction counter ran, insn.txt
(the wgrs_insn plugin's readings), kallsyms-DRIVER.txt and
profile-DRIVER.label (the TCP transfer), and kallsyms-DRIVER-udp.txt,
profile-DRIVER-udp.label and profile-DRIVER-udp.count (the UDP transfer and
the datagrams it delivered). MB is the size of the profiled TCP transfer. Prints the
report (plain text, indented for an RST literal block by the caller).
"""
import bisect
import collections
import sys

C = "wireguard"


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def spread(v, m):
    if not v or not m:
        return "-"
    return "%+d..%+d%%" % (round((min(v) / m - 1) * 100), round((max(v) / m - 1) * 100))


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 100 or x == int(x):
        return "%d" % round(x)
    return "%.1f" % x


def load(outdir):
    data = collections.defaultdict(list)  # (fig, drv) -> values
    units, order, drivers = {}, [], []
    with open(f"{outdir}/raw.txt") as f:
        for line in f:
            p = line.split()
            if len(p) != 5:
                continue
            fig, drv, _rnd, val, unit = p
            data[fig, drv].append(float(val))
            units[fig] = unit
            if fig not in order:
                order.append(fig)
            if drv not in drivers:
                drivers.append(drv)
    wgrs = next((d for d in drivers if d != C), "wgrs")
    return data, units, order, wgrs


def table(rows, head):
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    out = []
    for r in [head] + rows:
        out.append("  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return out


def profile(outdir, drv, name, per, what, unit):
    """Top kernel symbols of the profiled transfer NAME (files
    profile-NAME.label, kallsyms-NAME.txt): instructions per PER units of
    WHAT, printed as UNIT."""
    try:
        label = open(f"{outdir}/profile-{name}.label").read().strip()
        syms = []
        for line in open(f"{outdir}/kallsyms-{name}.txt"):
            p = line.split()
            if len(p) >= 3 and p[1] in "tTwW":
                name = p[2] + (" " + p[3] if len(p) > 3 else "")
                syms.append((int(p[0], 16), name))
    except OSError:
        return None
    syms.sort()
    addrs = [a for a, _ in syms]
    counts = collections.Counter()
    try:
        for line in open(f"{outdir}/insn.txt"):
            p = line.split()
            if len(p) == 4 and p[0] == "PROF" and p[1] == label:
                a = int(p[2], 16)
                i = bisect.bisect_right(addrs, a) - 1
                counts[syms[i][1] if i >= 0 else "?"] += int(p[3])
    except OSError:
        return None
    total = sum(counts.values())
    if not total:
        return None
    scale, suffix = (1e6, " M") if total / per >= 1e6 else (1e3, " k")
    lines = [f"{drv}, {what}: {total / per / scale:.1f}{suffix} kernel instructions per {unit}; top symbols:"]
    rows = [[sym, "%.2f%s" % (n / per / scale, suffix), "%.1f%%" % (100 * n / total)]
            for sym, n in counts.most_common(20)]
    lines += ["  " + l for l in table(rows, ["symbol", f"insn/{unit}", "share"])]
    return lines


def main():
    outdir, mb = sys.argv[1], float(sys.argv[2])
    data, units, order, wgrs = load(outdir)
    out = []
    head = ["figure", "unit", "C median", "wgrs median", "wgrs/C", "C spread", "wgrs spread"]
    rows = []
    for fig in order:
        c, w = data.get((fig, C)), data.get((fig, wgrs))
        if not c:
            continue
        if units[fig] == "lost":
            # A count of rounds (1 = lost in that round): the sum, not a median.
            n_of = lambda v: "%d of %d" % (sum(v), len(v)) if v else "-"
            rows.append([fig, "rounds", n_of(c), n_of(w), "-", "-", "-"])
            continue
        mc, mw = median(c), (median(w) if w else None)
        ratio = "%.2f" % (mw / mc) if mw is not None and mc else "-"
        # Busy CPUs (of two) and the rare TCP events per MB need their
        # second decimal.
        two = units[fig] in ("CPUs", "ofo/MB", "retx/MB")
        f = (lambda x: "-" if x is None else "%.2f" % x) if two else fmt
        rows.append([fig, units[fig], f(mc), f(mw), ratio, spread(c, mc),
                     spread(w, mw) if w else "-"])
    out += table(rows, head)

    gate = [f for f in order if f.endswith("_gate")]
    if gate:
        out += ["", "The gate's cost: wgrs.ko with the gate on and the peers authorized, against gate off",
                "(the same rounds' figures above):", ""]
        rows = []
        for fig in gate:
            base = fig[: -len("_gate")]
            on, off = data.get((fig, wgrs), []), data.get((base, wgrs), [])
            if not on or not off:
                continue
            mon, moff = median(on), median(off)
            rows.append([base, units[fig], fmt(moff), fmt(mon), "%.2f" % (mon / moff),
                         spread(off, moff), spread(on, mon)])
        out += table(rows, ["figure", "unit", "gate off", "gate on", "on/off", "off spread", "on spread"])

    micro = [f for f in order if not data.get((f, C)) and not f.endswith("_gate")]
    if micro:
        out += ["", "In-module microbenchmarks (wgrs.ko loaded with bench=1, one CPU):", ""]
        rows = [[f, units[f], fmt(median(data[f, wgrs]))] for f in micro]
        out += table(rows, ["figure", "unit", "value"])
        seal, opn = data.get(("crypto_seal", wgrs)), data.get(("crypto_open", wgrs))
        if seal and opn:
            # Each byte through the tunnel is sealed once and opened once; with
            # both vCPUs doing nothing but that, the tunnel could carry:
            limit = 2 / (1 / median(seal) + 1 / median(opn))  # MB/s
            out += ["", f"Crypto limit of a tunnel inside this 2-vCPU VM (each byte sealed and opened once,",
                    f"both vCPUs doing only that): {limit:.0f} MB/s = {limit * 8:.0f} Mbit/s. Fraction reached:"]
            rows = []
            for fig in ("tcp1_ab", "tcp4_ab"):
                c, w = data.get((fig, C)), data.get((fig, wgrs))
                if c and w:
                    rows.append([fig, "%.1f%%" % (100 * median(c) / (limit * 8)),
                                 "%.1f%%" % (100 * median(w) / (limit * 8))])
            out += table(rows, ["figure", "C", "wgrs"])

    for drv in (C, wgrs):
        p = profile(outdir, drv, drv, mb, f"{mb:.0f} MB of TCP", "MB")
        if p:
            out += [""] + p
    for drv in (C, wgrs):
        try:
            n = int(open(f"{outdir}/profile-{drv}-udp.count").read().strip())
        except (OSError, ValueError):
            continue
        p = profile(outdir, drv, f"{drv}-udp", n / 1000, f"{n} UDP datagrams of 64 bytes", "1000 datagrams")
        if p:
            out += [""] + p
    print("\n".join(out))


if __name__ == "__main__":
    main()
