// SPDX-License-Identifier: GPL-2.0
/*
 * wgrs_insn: a QEMU TCG plugin that counts the instructions the guest
 * executes, for `make bench`'s deterministic figure (instructions per
 * megabyte through the tunnel) and its per-symbol profile.
 *
 * The guest asks for a reading by executing CPUID with EAX = 0x57475253
 * ("WGRS"; tools/qemu/wgrs_mark.c does it) and a request in ECX:
 *
 *   ECX = 0x00nnnnnn   append "MARK n <instructions so far, all vCPUs>"
 *   ECX = 0x01nnnnnn   start a profile: per-translation-block counts of
 *                      kernel code (addresses with the top bit set) from now
 *   ECX = 0x02nnnnnn   stop the profile and append "PROF n <address> <count>"
 *                      for every kernel block that ran, then "PROFEND n"
 *
 * to the file given as out=PATH (the benchmark puts it in the directory the
 * guest shares with the host, so the guest reads its own readings back).
 * Any other CPUID behaves as usual: the plugin only watches.
 *
 * Counting is one inline add per executed block (the block's instruction
 * count, added on entry), so a block left early by an exception counts in
 * full; that error is the same for every driver and tiny next to millions
 * of instructions per megabyte.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define WGRS_MAGIC 0x57475253u

/* Per vCPU: instructions so far, and whether the profile is on (0/1). */
struct vcpu_score {
	uint64_t insns;
	uint64_t profiling;
};

/* One kernel translation block seen while profiling could be on. */
struct block {
	uint64_t vaddr;
	uint64_t n_insns;
	uint64_t count; /* instructions counted while profiling; atomic */
};

static struct qemu_plugin_scoreboard *score;
static qemu_plugin_u64 insns_entry, profiling_entry;
static FILE *out;
static GMutex lock;          /* out, blocks, reg handles */
static GHashTable *blocks;   /* vaddr -> struct block */
static struct qemu_plugin_register *reg_rax, *reg_rcx;

static uint64_t read_reg(struct qemu_plugin_register *reg)
{
	GByteArray *buf = g_byte_array_new();
	uint64_t v = 0;
	int n = qemu_plugin_read_register(reg, buf);

	if (n > 0) /* x86 is little-endian, as the target byte order */
		memcpy(&v, buf->data, MIN((size_t)n, sizeof(v)));
	g_byte_array_free(buf, TRUE);
	return v;
}

static void set_profiling(uint64_t on)
{
	int n = qemu_plugin_num_vcpus();

	for (int i = 0; i < n; i++)
		qemu_plugin_u64_set(profiling_entry, i, on);
}

static void reset_block(gpointer key, gpointer value, gpointer data)
{
	(void)key;
	(void)data;
	__atomic_store_n(&((struct block *)value)->count, 0, __ATOMIC_RELAXED);
}

static void dump_block(gpointer key, gpointer value, gpointer data)
{
	struct block *b = value;
	uint64_t c = __atomic_load_n(&b->count, __ATOMIC_RELAXED);

	(void)key;
	if (c)
		fprintf(out, "PROF %u 0x%" PRIx64 " %" PRIu64 "\n",
			*(unsigned int *)data, b->vaddr, c);
}

static void on_cpuid(unsigned int vcpu, void *udata)
{
	uint64_t rax, rcx;
	unsigned int cmd, label;

	(void)vcpu;
	(void)udata;
	if (!reg_rax || !reg_rcx)
		return;
	rax = read_reg(reg_rax);
	if ((uint32_t)rax != WGRS_MAGIC)
		return;
	rcx = read_reg(reg_rcx);
	cmd = (rcx >> 24) & 0xff;
	label = rcx & 0xffffff;

	g_mutex_lock(&lock);
	switch (cmd) {
	case 0:
		fprintf(out, "MARK %u %" PRIu64 "\n", label,
			qemu_plugin_u64_sum(insns_entry));
		break;
	case 1:
		g_hash_table_foreach(blocks, reset_block, NULL);
		set_profiling(1);
		break;
	case 2:
		set_profiling(0);
		g_hash_table_foreach(blocks, dump_block, &label);
		fprintf(out, "PROFEND %u\n", label);
		break;
	default:
		fprintf(out, "BAD %u\n", cmd);
	}
	fflush(out);
	g_mutex_unlock(&lock);
}

static void on_block(unsigned int vcpu, void *udata)
{
	struct block *b = udata;

	(void)vcpu;
	__atomic_fetch_add(&b->count, b->n_insns, __ATOMIC_RELAXED);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);

	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
		tb, QEMU_PLUGIN_INLINE_ADD_U64, insns_entry, n);

	if (vaddr >> 63) {
		struct block *b;

		g_mutex_lock(&lock);
		b = g_hash_table_lookup(blocks, &vaddr);
		if (!b) {
			b = g_new0(struct block, 1);
			b->vaddr = vaddr;
			g_hash_table_insert(blocks, &b->vaddr, b);
		}
		/* A block at this address may be new code (a module loaded
		 * where another was): keep the latest length. */
		b->n_insns = n;
		g_mutex_unlock(&lock);
		qemu_plugin_register_vcpu_tb_exec_cond_cb(
			tb, on_block, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_COND_NE,
			profiling_entry, 0, b);
	}

	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint8_t op[2];

		if (qemu_plugin_insn_size(insn) == 2 &&
		    qemu_plugin_insn_data(insn, op, 2) == 2 &&
		    op[0] == 0x0f && op[1] == 0xa2)
			qemu_plugin_register_vcpu_insn_exec_cb(
				insn, on_cpuid, QEMU_PLUGIN_CB_R_REGS, NULL);
	}
}

static void on_vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
	GArray *regs;

	(void)id;
	(void)vcpu;
	g_mutex_lock(&lock);
	if (reg_rax && reg_rcx) {
		g_mutex_unlock(&lock);
		return;
	}
	regs = qemu_plugin_get_registers();
	for (guint i = 0; regs && i < regs->len; i++) {
		qemu_plugin_reg_descriptor *r =
			&g_array_index(regs, qemu_plugin_reg_descriptor, i);

		if (!strcmp(r->name, "rax"))
			reg_rax = r->handle;
		else if (!strcmp(r->name, "rcx"))
			reg_rcx = r->handle;
	}
	if (regs)
		g_array_free(regs, TRUE);
	g_mutex_unlock(&lock);
}

static void on_atexit(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	g_mutex_lock(&lock);
	fprintf(out, "EXIT %" PRIu64 "\n", qemu_plugin_u64_sum(insns_entry));
	fclose(out);
	out = NULL;
	g_mutex_unlock(&lock);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	const char *path = NULL;

	if (strcmp(info->target_name, "x86_64")) {
		fprintf(stderr, "wgrs_insn: only for x86_64 guests, not %s\n",
			info->target_name);
		return -1;
	}
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4)) {
			path = argv[i] + 4;
		} else {
			fprintf(stderr, "wgrs_insn: unknown argument %s\n", argv[i]);
			return -1;
		}
	}
	if (!path) {
		fprintf(stderr, "wgrs_insn: out=PATH is required\n");
		return -1;
	}
	out = fopen(path, "a");
	if (!out) {
		perror(path);
		return -1;
	}
	score = qemu_plugin_scoreboard_new(sizeof(struct vcpu_score));
	insns_entry = qemu_plugin_scoreboard_u64_in_struct(score, struct vcpu_score, insns);
	profiling_entry = qemu_plugin_scoreboard_u64_in_struct(score, struct vcpu_score, profiling);
	blocks = g_hash_table_new(g_int64_hash, g_int64_equal);
	qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_atexit, NULL);
	return 0;
}
