#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0
# Raw `wireguard` generic netlink requests that wg(8) cannot make (by
# ifindex, with both or neither of ifindex/ifname, a bad protocol version).
# Prints the request's result: 0, or the positive errno the kernel returned.
#   genl.pl get-index IFINDEX | get-both IFINDEX NAME | get-none
#   genl.pl set-index IFINDEX | set-peer-version NAME PUBKEY-HEX VERSION
#   genl.pl set-peer-flags NAME PUBKEY-HEX FLAGS  (with allowed IP 10.99.0.0/16)
use strict;
use warnings;
use Socket;

my ($AF_NETLINK, $NETLINK_GENERIC, $SOCK_RAW) = (16, 16, 3);
my ($F_REQUEST, $F_ACK, $F_DUMP) = (1, 4, 0x300);
my ($NLMSG_ERROR, $NLMSG_DONE) = (2, 3);
my $seq = 1;
alarm 30;	# never hang a test run on a lost reply

socket(my $s, $AF_NETLINK, $SOCK_RAW, $NETLINK_GENERIC) or die "socket: $!";
bind($s, pack("S S L L", $AF_NETLINK, 0, 0, 0)) or die "bind: $!";

sub attr {
	my ($type, $data) = @_;
	my $len = 4 + length $data;
	return pack("S S", $len, $type) . $data . ("\0" x ((4 - $len % 4) % 4));
}
sub u32 { attr($_[0], pack("L", $_[1])) }
sub str { attr($_[0], $_[1] . "\0") }

sub request {
	my ($type, $flags, $cmd, $payload) = @_;
	my $len = 16 + 4 + length $payload;
	send($s, pack("L S S L L", $len, $type, $flags, $seq++, 0) .
		pack("C C S", $cmd, 1, 0) . $payload, 0) or die "send: $!";
	my @msgs;
	while (1) {
		my $buf;
		defined recv($s, $buf, 1 << 16, 0) or die "recv: $!";
		while (length $buf >= 16) {
			my ($mlen, $mtype) = unpack("L S", $buf);
			last if $mlen < 16;
			my $body = substr($buf, 16, $mlen - 16);
			$buf = substr($buf, ($mlen + 3) & ~3);
			if ($mtype == $NLMSG_ERROR || $mtype == $NLMSG_DONE) {
				my $err = unpack("l", $body);
				return (-$err, @msgs);
			}
			push @msgs, $body;
		}
	}
}

# Resolve the family id.
my ($err, @r) = request(0x10, $F_REQUEST | $F_ACK, 3, str(2, "wireguard"));
die "no wireguard family (errno $err)\n" if $err;
my $fam;
my $a = substr($r[0], 4);
while (length $a >= 4) {
	my ($l, $t) = unpack("S S", $a);
	last if $l < 4;
	$fam = unpack("S", substr($a, 4, 2)) if $t == 1;
	$a = substr($a, ($l + 3) & ~3);
}
defined $fam or die "no family id\n";

my $mode = shift @ARGV // '';
my ($GET, $SET) = (0, 1);
my $dump = $F_REQUEST | $F_ACK | $F_DUMP;
my $do = $F_REQUEST | $F_ACK;
if ($mode eq 'get-index') {
	($err) = request($fam, $dump, $GET, u32(1, $ARGV[0]));
} elsif ($mode eq 'get-both') {
	($err) = request($fam, $dump, $GET, u32(1, $ARGV[0]) . str(2, $ARGV[1]));
} elsif ($mode eq 'get-none') {
	($err) = request($fam, $dump, $GET, '');
} elsif ($mode eq 'set-index') {
	($err) = request($fam, $do, $SET, u32(1, $ARGV[0]));
} elsif ($mode eq 'set-peer-version') {
	my $peer = attr(1, pack("H*", $ARGV[1])) . u32(10, $ARGV[2]);
	($err) = request($fam, $do, $SET, str(2, $ARGV[0]) . attr(8 | 0x8000, attr(0 | 0x8000, $peer)));
} elsif ($mode eq 'set-peer-flags') {
	my $ip = attr(1, pack("S", 2)) . attr(2, pack("C4", 10, 99, 0, 0)) . attr(3, pack("C", 16));
	my $peer = attr(1, pack("H*", $ARGV[1])) . u32(3, $ARGV[2]) .
		attr(9 | 0x8000, attr(0 | 0x8000, $ip));
	($err) = request($fam, $do, $SET, str(2, $ARGV[0]) . attr(8 | 0x8000, attr(0 | 0x8000, $peer)));
} else {
	die "usage: see the head of $0\n";
}
print "$err\n";
