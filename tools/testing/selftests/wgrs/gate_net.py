#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Traffic for gate.sh (and cdriver_compare.sh): small TCP/UDP services,
probes, floods and garbage.

    gate_net.py serve PORT...            TCP and UDP on each PORT, IPv4 and
                                         IPv6; answers "<port>-ok" to every
                                         connection and datagram
    gate_net.py probe tcp|udp HOST PORT  connects (TCP) or sends a datagram
                                         (UDP) and prints the answer; exit 0
                                         on an answer, else prints the error
                                         (errno name, or "timeout"), exit 1
    gate_net.py flood HOST PORT COUNT    COUNT UDP datagrams as fast as
                                         possible; prints the time it took
    gate_net.py garbage HOST PORT COUNT  COUNT datagrams of junk to a
                                         WireGuard listen port, the same on
                                         every run: random bytes, every
                                         message type at its length with
                                         random contents and truncated,
                                         unknown types, reserved bytes set
    gate_net.py order PCAP               the WireGuard data messages in a
                                         capture (Ethernet, IPv4, UDP):
                                         prints how many there are and how
                                         many came with a counter that is
                                         not above the one before (for the
                                         same receiver index)
    gate_net.py seqflood HOST PORT COUNT COUNT UDP datagrams as fast as
                                         possible, numbered, alternately
                                         small (32 bytes) and large (1200)
    gate_net.py seqsink PORT             receives numbered datagrams on
                                         PORT (IPv4) until none came for
                                         3 s; prints how many came and how
                                         many had a number not above the
                                         one before
"""
import errno
import os
import random
import selectors
import socket
import struct
import sys
import time

TIMEOUT = 3.0


def family(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def serve(ports):
    sel = selectors.DefaultSelector()
    for port in ports:
        for fam, addr in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
            t = socket.socket(fam, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            t.bind((addr, port))
            t.listen(64)
            sel.register(t, selectors.EVENT_READ, ('tcp', port))
            u = socket.socket(fam, socket.SOCK_DGRAM)
            if fam == socket.AF_INET6:
                u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            u.bind((addr, port))
            sel.register(u, selectors.EVENT_READ, ('udp', port))
    print('ready', flush=True)
    while True:
        for key, _ in sel.select():
            kind, port = key.data
            reply = f'{port}-ok\n'.encode()
            try:
                if kind == 'tcp':
                    conn, _ = key.fileobj.accept()
                    conn.settimeout(TIMEOUT)
                    conn.sendall(reply)
                    conn.close()
                else:
                    _, peer = key.fileobj.recvfrom(2048)
                    key.fileobj.sendto(reply, peer)
            except OSError:
                pass


def fail(err):
    if isinstance(err, socket.timeout):
        print('timeout')
    elif isinstance(err, OSError) and err.errno:
        print(errno.errorcode.get(err.errno, str(err.errno)))
    else:
        print(err)
    return 1


def probe(kind, host, port):
    fam = family(host)
    try:
        if kind == 'tcp':
            s = socket.create_connection((host, port), timeout=TIMEOUT)
            data = s.recv(64)
        else:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.settimeout(TIMEOUT)
            s.connect((host, port))
            s.send(b'probe')
            data = s.recv(64)
    except OSError as e:
        return fail(e)
    if not data:
        print('closed')
        return 1
    print(data.decode(errors='replace').strip())
    return 0


def flood(host, port, count):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    start = time.monotonic()
    sent = 0
    while sent < count:
        try:
            s.sendto(b'x' * 32, (host, port))
            sent += 1
        except OSError as e:
            # A full queue (ENOBUFS) or an ICMP error on the socket: go on.
            if e.errno not in (errno.ENOBUFS, errno.EAGAIN, errno.ECONNREFUSED,
                               errno.EHOSTUNREACH, errno.EACCES):
                return fail(e)
    print(f'sent {sent} in {time.monotonic() - start:.1f} s')
    return 0


def seqflood(host, port, count):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    sent = 0
    while sent < count:
        size = 32 if sent % 2 == 0 else 1200
        msg = struct.pack('!I', sent) + b'x' * (size - 4)
        try:
            s.sendto(msg, (host, port))
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.EAGAIN, errno.ECONNREFUSED,
                               errno.EHOSTUNREACH, errno.EACCES):
                return fail(e)
        sent += 1
    print(f'sent {sent}')
    return 0


def seqsink(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Room for a whole flood: drops would not change the order, but a
    # datagram dropped is one not compared.
    s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    s.bind(('0.0.0.0', port))
    print('listening', flush=True)
    s.settimeout(60.0)
    got, late, last = 0, 0, -1
    while True:
        try:
            data = s.recv(2048)
        except socket.timeout:
            break
        s.settimeout(TIMEOUT)
        if len(data) < 4:
            continue
        n = struct.unpack_from('!I', data)[0]
        got += 1
        if n <= last:
            late += 1
        last = n
    print(f'{got} datagrams, {late} out of order')
    return 0


def garbage(host, port, count):
    """COUNT datagrams that are not valid WireGuard messages, the same ones
    on every run (seeded): random bytes; every message type at its exact
    length with random contents (so a wrong MAC, an unknown receiver
    index, a data message under no key) and truncated; unknown types; a
    known type with non-zero reserved bytes."""
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    rnd = random.Random(0x6a7e)

    def rb(n):
        return bytes(rnd.getrandbits(8) for _ in range(n))

    def typed(t, length, reserved=b'\0\0\0'):
        return bytes([t]) + reserved + rb(max(length - 4, 0))

    kinds = [
        lambda: rb(rnd.randrange(0, 300)),
        lambda: typed(1, 148),                      # initiation, bad MACs
        lambda: typed(1, rnd.randrange(4, 148)),    # truncated initiation
        lambda: typed(2, 92),                       # response to nobody
        lambda: typed(3, 64),                       # cookie reply to nobody
        lambda: typed(4, 32 + rnd.randrange(0, 200)),  # data under no key
        lambda: typed(4, rnd.randrange(4, 32)),     # truncated data
        lambda: typed(rnd.randrange(5, 256), rnd.randrange(4, 200)),
        lambda: typed(1, 148, rb(3)),               # reserved bytes set
    ]
    for i in range(count):
        msg = kinds[i % len(kinds)]()
        try:
            s.sendto(msg, (host, port))
        except OSError:
            pass
    print(f'sent {count}')
    return 0


def order(path):
    """Counts data messages and counter regressions in a pcap file."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        print('order: not a capture', file=sys.stderr)
        return 1
    magic = struct.unpack_from('<I', data)[0]
    endian = {0xa1b2c3d4: '<', 0xd4c3b2a1: '>'}.get(magic)
    if endian is None or struct.unpack_from(endian + 'I', data, 20)[0] != 1:
        print('order: not an Ethernet capture in microseconds', file=sys.stderr)
        return 1
    off, seen, late, last = 24, 0, 0, {}
    while off + 16 <= len(data):
        incl = struct.unpack_from(endian + 'I', data, off + 8)[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 14 + 20 or pkt[12:14] != b'\x08\x00' or pkt[14 + 9] != 17:
            continue
        udp = 14 + (pkt[14] & 0x0f) * 4
        msg = pkt[udp + 8:]
        if len(msg) < 16 or msg[0] != 4:
            continue
        idx, ctr = struct.unpack_from('<IQ', msg, 4)
        seen += 1
        if idx in last and ctr <= last[idx]:
            late += 1
        last[idx] = ctr
    print(f'{seen} data messages, {late} out of order')
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == 'serve':
        serve([int(p) for p in argv[1:]])
        return 0
    if len(argv) == 4 and argv[0] == 'probe' and argv[1] in ('tcp', 'udp'):
        return probe(argv[1], argv[2], int(argv[3]))
    if len(argv) == 4 and argv[0] == 'flood':
        return flood(argv[1], int(argv[2]), int(argv[3]))
    if len(argv) == 4 and argv[0] == 'garbage':
        return garbage(argv[1], int(argv[2]), int(argv[3]))
    if len(argv) == 4 and argv[0] == 'seqflood':
        return seqflood(argv[1], int(argv[2]), int(argv[3]))
    if len(argv) == 2 and argv[0] == 'seqsink':
        return seqsink(int(argv[1]))
    if len(argv) == 2 and argv[0] == 'order':
        return order(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
