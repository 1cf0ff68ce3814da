// SPDX-License-Identifier: GPL-2.0
/*
 * wgrs-mark: ask the wgrs_insn QEMU plugin (tools/qemu/wgrs_insn.c) for a
 * reading, from inside the guest.
 *
 *   wgrs-mark mark N       append "MARK N <instructions so far>"
 *   wgrs-mark prof-start N start the kernel profile
 *   wgrs-mark prof-stop N  stop it and append its "PROF N ..." lines
 *
 * N is a label from 0 to 16777215. Without the plugin the CPUID is an
 * ordinary one and nothing is recorded (the caller notices: no MARK line).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	unsigned int eax = 0x57475253u, ebx, ecx, edx, cmd;
	char *end;
	unsigned long label;

	if (argc != 3)
		goto usage;
	if (!strcmp(argv[1], "mark"))
		cmd = 0;
	else if (!strcmp(argv[1], "prof-start"))
		cmd = 1;
	else if (!strcmp(argv[1], "prof-stop"))
		cmd = 2;
	else
		goto usage;
	label = strtoul(argv[2], &end, 10);
	if (!*argv[2] || *end || label > 0xffffff)
		goto usage;
	ecx = cmd << 24 | (unsigned int)label;
	__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
	return 0;
usage:
	fprintf(stderr, "usage: wgrs-mark mark|prof-start|prof-stop LABEL (0..16777215)\n");
	return 2;
}
