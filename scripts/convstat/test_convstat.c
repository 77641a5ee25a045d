// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the convstat library.  A minimal self-contained runner (no
 * C unit test framework is installed on the build machines): every test
 * function is run, a test passes if none of its checks failed, and the last
 * line printed is "N passed, N failed".  The exit status is non-zero if any
 * test failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "convstat.h"

#define MiB		(1ULL << 20)
#define TiB		(1ULL << 40)
#define LIMIT		(1ULL << 52)	/* CONVSTAT_ADDR_LIMIT, spelt out */
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Checks failed in the current test (test-runner state, not library state). */
static unsigned int checks_failed;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "  %s:%d: %s: check failed: %s\n", \
				__FILE__, __LINE__, __func__, #cond);	\
			checks_failed++;				\
		}							\
	} while (0)

#define CHECK_EQ(a, b)							\
	do {								\
		uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b);	\
		if (_a != _b) {						\
			fprintf(stderr, "  %s:%d: %s: %s == %" PRIu64	\
				", expected %s == %" PRIu64 "\n",	\
				__FILE__, __LINE__, __func__, #a, _a, #b, _b); \
			checks_failed++;				\
		}							\
	} while (0)

#define CHECK_STR(a, b)							\
	do {								\
		const char *_a = (a), *_b = (b);			\
		if (!_a || strcmp(_a, _b)) {				\
			fprintf(stderr, "  %s:%d: %s: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, __func__, #a,	\
				_a ? _a : "(null)", _b);		\
			checks_failed++;				\
		}							\
	} while (0)

/* ---- Helpers ---- */

static int feed(struct convstat *cs, const char *line)
{
	return convstat_feed_line(cs, line, strlen(line));
}

/* Feed a multi-line text (lines separated by '\n'), without finishing. */
static void feed_text(struct convstat *cs, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		int ret = convstat_feed_line(cs, p, len);

		CHECK(ret >= 0);
		p += len;
	}
}

/* New instance, fed @text and finished. */
static struct convstat *run(const char *text)
{
	struct convstat *cs = convstat_init();

	if (!cs) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	feed_text(cs, text);
	CHECK_EQ(convstat_finish(cs), 0);
	return cs;
}

static struct convstat_stats stats(const struct convstat *cs)
{
	struct convstat_stats st;

	convstat_get_stats(cs, &st);
	return st;
}

/* ---- Tests ---- */

static void test_parse_valid(void)
{
	const char *l = "S 0x10a3c000 4 dma_direct_alloc+0x1c4/0x2e0<dma_alloc_attrs+0x6f/0xd0"
			"<nvme_alloc_queue+0x8a/0x1b0\r\n";
	struct convstat_record r;

	CHECK_EQ(convstat_parse_line(l, strlen(l), &r), 0);
	CHECK_EQ(r.dir, 'S');
	CHECK(!r.refused);
	CHECK_EQ(r.gpa, 0x10a3c000);
	CHECK_EQ(r.pages, 4);
	CHECK_EQ(r.site_len, strlen("dma_direct_alloc+0x1c4/0x2e0<dma_alloc_attrs+0x6f/0xd0"
				    "<nvme_alloc_queue+0x8a/0x1b0"));
	CHECK(!strncmp(r.site, "dma_direct_alloc+", 17));

	l = "p 0x0000000000200000 00512 ?";
	CHECK_EQ(convstat_parse_line(l, strlen(l), &r), 0);
	CHECK_EQ(r.dir, 'P');
	CHECK(r.refused);
	CHECK_EQ(r.gpa, 0x200000);
	CHECK_EQ(r.pages, 512);
	CHECK_EQ(r.site_len, 1);

	/* A module frame as %pS prints it contains a space: still one site. */
	l = "P 0xfffffff000 1 nvme_free+0x3d/0x60 [nvme]";
	CHECK_EQ(convstat_parse_line(l, strlen(l), &r), 0);
	CHECK_EQ(r.gpa, TiB - 4096);
	CHECK_EQ(r.site_len, strlen("nvme_free+0x3d/0x60 [nvme]"));

	/* Any 52-bit address; the range may end at 2^52 exactly. */
	l = "S 0xffffffffff000 1 f";
	CHECK_EQ(convstat_parse_line(l, strlen(l), &r), 0);
	CHECK_EQ(r.gpa, LIMIT - 4096);
	l = "S 0x0 1099511627776 f";
	CHECK_EQ(convstat_parse_line(l, strlen(l), &r), 0);
	CHECK_EQ(r.pages, LIMIT >> 12);
	l = "S 0x8000000000000 549755813888 f";
	CHECK_EQ(convstat_parse_line(l, strlen(l), &r), 0);
	CHECK_EQ(r.gpa, LIMIT / 2);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"S",
		"S ",
		"S 0x1000",
		"S 0x1000 ",
		"S 0x1000 4",
		"S 0x1000 4 ",			/* empty site */
		"X 0x1000 4 f",			/* bad direction */
		"SS 0x1000 4 f",
		"S 1000 4 f",			/* no 0x */
		"S 0X1000 4 f",
		"S 0x 4 f",
		"S 0xzz 4 f",			/* bad hex */
		"S 0x10g0 4 f",
		"S 0x1000 0 f",			/* zero pages */
		"S 0x1000 -4 f",
		"S 0x1000 +4 f",
		"S 0x1000 4x f",
		"S 0x1000 0x4 f",
		"S  0x1000 4 f",		/* double separators */
		"S 0x1000  4 f",
		"S 0x1000 4  f",
		" S 0x1000 4 f",		/* leading white space */
		"\tS 0x1000 4 f",
		"S\t0x1000 4 f",
		"S 0x1001 4 f",			/* not 4 KiB aligned */
		"S 0x10000000000000 1 f",	/* at 2^52 */
		"S 0xfffffffffff000 1 f",	/* 2^56 - 4 KiB */
		"S 0xffffffffff000 2 f",	/* ends beyond 2^52 */
		"S 0xfffffffe00000 513 f",
		"S 0x8000000000000 549755813889 f", /* 2^51 + 2^51 + 4 KiB */
		"S 0xffffffffffffffff 1 f",
		"S 0x10000000000000000000 1 f",	/* hex overflow */
		"S 0x0 1099511627777 f",	/* more pages than 2^52 bytes */
		"S 0x0 18446744073709551617 f",	/* decimal overflow */
		"S 0x1000 4 f\001g",		/* control character */
		"S 0x1000 4 f\tg",
		"S 0x1000 4 caf\xc3\xa9",	/* not ASCII */
		"hello world",
		"garbage",
		" not a comment",
		" # indented comment",
	};
	struct convstat *cs = convstat_init();
	struct convstat_record r;
	struct convstat_stats st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = convstat_parse_line(bad[i], strlen(bad[i]), &r);

		if (ret != -EINVAL)
			fprintf(stderr, "  parsed bad line %zu: \"%s\"\n", i, bad[i]);
		CHECK_EQ(ret, -EINVAL);
		CHECK_EQ(feed(cs, bad[i]), CONVSTAT_LINE_MALFORMED);
	}
	/* An embedded NUL makes a line malformed, even if the prefix parses. */
	CHECK_EQ(convstat_feed_line(cs, "S 0x1000 4 f\0g", 14), CONVSTAT_LINE_MALFORMED);

	/* Not fatal: a good line afterwards is still a record. */
	CHECK_EQ(feed(cs, "S 0x1000 4 f+0x1/0x2\n"), CONVSTAT_LINE_RECORD);
	CHECK_EQ(convstat_finish(cs), 0);
	st = stats(cs);
	CHECK_EQ(st.malformed, ARRAY_SIZE(bad) + 1);
	CHECK_EQ(st.calls, 1);
	CHECK_EQ(st.pages, 4);
	CHECK_EQ(st.shared_bytes_end, 4 * 4096);
	CHECK_EQ(st.refused, 0);
	CHECK_EQ(st.lines, ARRAY_SIZE(bad) + 2);
	convstat_free(cs);
}

static void test_comments_blank(void)
{
	struct convstat *cs = convstat_init();
	struct convstat_stats st;

	CHECK_EQ(feed(cs, "# kernel 6.12.9 cvm_emulate=1\n"), CONVSTAT_LINE_COMMENT);
	CHECK_EQ(feed(cs, "#"), CONVSTAT_LINE_COMMENT);
	CHECK_EQ(feed(cs, "#S 0x1000 4 f"), CONVSTAT_LINE_COMMENT);
	CHECK_EQ(feed(cs, ""), CONVSTAT_LINE_BLANK);
	CHECK_EQ(feed(cs, "\n"), CONVSTAT_LINE_BLANK);
	CHECK_EQ(feed(cs, "\r\n"), CONVSTAT_LINE_BLANK);
	CHECK_EQ(feed(cs, "   \t \n"), CONVSTAT_LINE_BLANK);
	CHECK_EQ(feed(cs, "S 0x0 1 f"), CONVSTAT_LINE_RECORD);
	CHECK_EQ(convstat_finish(cs), 0);
	st = stats(cs);
	CHECK_EQ(st.malformed, 0);
	CHECK_EQ(st.comments, 3);
	CHECK_EQ(st.blank, 4);
	CHECK_EQ(st.calls, 1);
	CHECK_EQ(st.lines, 8);
	convstat_free(cs);
}

static void test_alignment(void)
{
	struct convstat *cs;
	struct convstat_stats st;

	CHECK(!convstat_is_misaligned(0, 512));
	CHECK(!convstat_is_misaligned(0x200000, 1024));
	CHECK(!convstat_is_misaligned(TiB - 2 * MiB, 512));
	CHECK(convstat_is_misaligned(0x200000, 1));	/* aligned address, 4 KiB */
	CHECK(convstat_is_misaligned(0x200000, 511));
	CHECK(convstat_is_misaligned(0x200000, 513));
	CHECK(convstat_is_misaligned(0x1000, 512));	/* 2 MiB size, 4 KiB address */
	CHECK(convstat_is_misaligned(0x100000, 512));	/* 1 MiB aligned only */
	CHECK(convstat_is_misaligned(0x1ff000, 1));

	cs = run("S 0x200000 512 a+0x1/0x2\n"
		 "S 0x400000 1 b+0x1/0x2\n"
		 "S 0x601000 512 c+0x1/0x2\n"
		 "P 0x200000 1024 d+0x1/0x2\n"
		 "P 0x800000 3 e+0x1/0x2\n");
	st = stats(cs);
	CHECK_EQ(st.calls, 5);
	CHECK_EQ(st.misaligned, 3);
	convstat_free(cs);
}

static void test_mixed(void)
{
	struct convstat *cs = convstat_init();
	struct convstat_stats st;

	/* One shared 4 KiB page in an otherwise private region: mixed. */
	feed(cs, "S 0x200000 1 f");
	st = stats(cs);
	CHECK_EQ(st.mixed_2m_end, 1);
	CHECK_EQ(st.mixed_2m_peak, 1);

	/* Another page in the same region: still one mixed region. */
	feed(cs, "S 0x3ff000 1 f");
	st = stats(cs);
	CHECK_EQ(st.mixed_2m_end, 1);

	/* Convert the whole region: shared, not mixed. */
	feed(cs, "S 0x200000 512 f");
	st = stats(cs);
	CHECK_EQ(st.mixed_2m_end, 0);
	CHECK_EQ(st.mixed_2m_peak, 1);
	CHECK_EQ(st.shared_bytes_end, 2 * MiB);

	/* One private page in a shared region: mixed again. */
	feed(cs, "P 0x300000 1 f");
	st = stats(cs);
	CHECK_EQ(st.mixed_2m_end, 1);

	/* Convert it all back: none. */
	feed(cs, "P 0x200000 512 f");
	st = stats(cs);
	CHECK_EQ(st.mixed_2m_end, 0);
	CHECK_EQ(st.shared_bytes_end, 0);

	/* Two pages straddling a 2 MiB boundary: two mixed regions. */
	feed(cs, "S 0x1ff000 2 f");
	st = stats(cs);
	CHECK_EQ(st.mixed_2m_end, 2);
	CHECK_EQ(st.mixed_2m_peak, 2);

	/* 4 KiB below a boundary, 2 MiB + 8 KiB: 2 partial ends, 1 full. */
	feed(cs, "S 0x5ff000 514 f");
	st = stats(cs);
	CHECK_EQ(st.mixed_2m_end, 4);
	CHECK_EQ(st.mixed_2m_peak, 4);
	feed(cs, "P 0x0 4096 f");
	st = stats(cs);
	CHECK_EQ(st.mixed_2m_end, 0);
	CHECK_EQ(st.mixed_2m_peak, 4);
	CHECK_EQ(st.shared_bytes_end, 0);
	convstat_finish(cs);
	convstat_free(cs);
}

static void test_peak_vs_end(void)
{
	struct convstat *cs = run("S 0x0 256 f\n"		/* 1 MiB, mixed */
				  "S 0x400000 1024 f\n"		/* +4 MiB */
				  "P 0x400000 1024 f\n"
				  "S 0x1000000 1 f\n"
				  "P 0x0 256 f\n");
	struct convstat_stats st = stats(cs);

	CHECK_EQ(st.shared_bytes_peak, 5 * MiB);
	CHECK_EQ(st.shared_bytes_end, 4096);
	CHECK_EQ(st.mixed_2m_peak, 2);
	CHECK_EQ(st.mixed_2m_end, 1);
	convstat_free(cs);
}

static void test_snp(void)
{
	struct convstat *cs;
	struct convstat_stats st;

	/* 2 MiB aligned, 4 MiB: 2 entries, 1 exit. */
	CHECK_EQ(convstat_snp_entries(0x200000, 1024), 2);
	CHECK_EQ(convstat_snp_exits(0x200000, 1024), 1);
	/* 300 4 KiB pages, unaligned: 300 entries, 2 exits. */
	CHECK_EQ(convstat_snp_entries(0x1000, 300), 300);
	CHECK_EQ(convstat_snp_exits(0x1000, 300), 2);
	/* 300 pages from an aligned address: no block is fully covered. */
	CHECK_EQ(convstat_snp_entries(0x200000, 300), 300);
	/* 4 KiB below a boundary, 2 MiB + 8 KiB: 1 page + 1 block + 1 page. */
	CHECK_EQ(convstat_snp_entries(0x1ff000, 514), 3);
	CHECK_EQ(convstat_snp_exits(0x1ff000, 514), 1);
	/* 4 KiB below a boundary, 2 MiB: 1 + 511 pages, no full block. */
	CHECK_EQ(convstat_snp_entries(0x1ff000, 512), 512);
	CHECK_EQ(convstat_snp_exits(0x1ff000, 512), 3);
	/* Up to a boundary: 511 pages + 1 block. */
	CHECK_EQ(convstat_snp_entries(0x1000, 1023), 512);
	/* Exactly 253 and 254 entries. */
	CHECK_EQ(convstat_snp_exits(0x1000, 253), 1);
	CHECK_EQ(convstat_snp_exits(0x1000, 254), 2);
	CHECK_EQ(convstat_snp_exits(0, 512 * 253), 1);
	CHECK_EQ(convstat_snp_exits(0, 512 * 254), 2);
	CHECK_EQ(convstat_snp_exits(0x1000, 1), 1);
	/* All of 1 TiB: 524288 blocks. */
	CHECK_EQ(convstat_snp_entries(0, TiB >> 12), 524288);
	CHECK_EQ(convstat_snp_exits(0, TiB >> 12), 2073);

	/* Summed per call, rounded up per call. */
	cs = run("S 0x200000 1024 f\n"		/* 1 */
		 "S 0x1000 300 f\n"		/* 2 */
		 "P 0x1ff000 514 f\n"		/* 1 */
		 "P 0x10000000 1 f\n"		/* 1 */
		 "s 0x1000 300 f\n");		/* refused: 0 */
	st = stats(cs);
	CHECK_EQ(st.snp_exits, 5);
	CHECK_EQ(st.tdx_calls, 4);
	convstat_free(cs);
}

static void test_refused(void)
{
	struct convstat *cs = convstat_init();
	struct convstat_stats st;
	size_t nr;

	CHECK_EQ(feed(cs, "s 0x200000 1 f+0x1/0x2"), CONVSTAT_LINE_REFUSED);
	CHECK_EQ(feed(cs, "p 0x0 512 g+0x1/0x2"), CONVSTAT_LINE_REFUSED);
	CHECK_EQ(feed(cs, "s 0xzz 1 f"), CONVSTAT_LINE_MALFORMED);
	CHECK_EQ(feed(cs, "s 0x10000000000000 1 f"), CONVSTAT_LINE_MALFORMED);
	CHECK_EQ(convstat_finish(cs), 0);
	st = stats(cs);
	CHECK_EQ(st.refused, 2);
	CHECK_EQ(st.malformed, 2);
	CHECK_EQ(st.calls, 0);
	CHECK_EQ(st.to_shared, 0);
	CHECK_EQ(st.to_private, 0);
	CHECK_EQ(st.pages, 0);
	CHECK_EQ(st.misaligned, 0);
	CHECK_EQ(st.tdx_calls, 0);
	CHECK_EQ(st.snp_exits, 0);
	CHECK_EQ(st.shared_bytes_end, 0);
	CHECK_EQ(st.shared_bytes_peak, 0);
	CHECK_EQ(st.mixed_2m_peak, 0);
	CHECK_EQ(st.redundant_pages, 0);
	convstat_sites(cs, &nr);
	CHECK_EQ(nr, 0);
	convstat_free(cs);

	/* A refused S does not make the page shared: a later P is redundant. */
	cs = run("s 0x0 1 f\nP 0x0 1 f\n");
	st = stats(cs);
	CHECK_EQ(st.redundant_pages, 1);
	CHECK_EQ(st.shared_bytes_peak, 0);
	convstat_free(cs);
}

static void test_redundant(void)
{
	struct convstat *cs = convstat_init();
	struct convstat_stats st;

	feed(cs, "S 0x0 4 f");		/* pages 0-3 shared */
	feed(cs, "S 0x0 8 f");		/* 0-3 already shared: 4 */
	st = stats(cs);
	CHECK_EQ(st.redundant_pages, 4);
	feed(cs, "P 0x2000 4 f");	/* 2-5 were shared: 0 */
	st = stats(cs);
	CHECK_EQ(st.redundant_pages, 4);
	feed(cs, "P 0x0 16 f");		/* 0,1,6,7 shared; 12 already private */
	st = stats(cs);
	CHECK_EQ(st.redundant_pages, 16);
	feed(cs, "P 0x40000000 512 f");	/* never-touched memory is private */
	st = stats(cs);
	CHECK_EQ(st.redundant_pages, 528);
	feed(cs, "S 0x200000 512 f");
	feed(cs, "S 0x200000 512 f");	/* whole region fast path */
	feed(cs, "S 0x1ff000 514 f");	/* 512 of 514 already shared */
	st = stats(cs);
	CHECK_EQ(st.redundant_pages, 528 + 512 + 512);
	CHECK_EQ(st.shared_bytes_end, 514 * 4096);
	CHECK_EQ(st.pages, 4 + 8 + 4 + 16 + 512 + 512 + 512 + 514);
	convstat_finish(cs);
	convstat_free(cs);
}

static void test_site_key(void)
{
	static const struct {
		char dir;
		const char *in, *out;
	} cases[] = {
		{ 'S', "dma_direct_alloc+0x1c4/0x2e0<dma_alloc_attrs+0x6f/0xd0<nvme_alloc_queue+0x8a/0x1b0",
		  "S dma_direct_alloc<dma_alloc_attrs<nvme_alloc_queue" },
		{ 'P', "?", "P ?" },
		{ 'P', "nvme_free+0x3d/0x60 [nvme]<b+0x1/0x2", "P nvme_free [nvme]<b" },
		{ 'S', "foo.cold+0x0/0x1f<bar.isra.0+0xAB/0xCD", "S foo.cold<bar.isra.0" },
		{ 'S', "sym+0x10", "S sym" },
		{ 'S', "a+b<c+0x<d+0x1/", "S a+b<c+0x<d+0x1/" },
		{ 'S', "a+0x1/0x2x", "S a+0x1/0x2x" },
		{ 'S', "0xffffffff81000000", "S 0xffffffff81000000" },
	};
	char buf[256];
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		n = convstat_site_key(cases[i].dir, cases[i].in, strlen(cases[i].in), buf);
		CHECK_STR(buf, cases[i].out);
		CHECK_EQ(n, strlen(cases[i].out));
	}
}

static void test_sites(void)
{
	const struct convstat_site *s;
	struct convstat *cs;
	size_t nr;

	cs = convstat_init();
	feed(cs, "S 0x1000 4 a+0x1/0x2<b+0x3/0x4");
	s = convstat_sites(cs, &nr);
	CHECK(s == NULL);
	CHECK_EQ(nr, 0);
	feed_text(cs,
		  "S 0x9000 2 a+0x5/0x6<b+0x7/0x8\n"	/* same key, other offsets */
		  "P 0x1000 4 a+0x1/0x2<b+0x3/0x4\n"	/* other direction */
		  "S 0x200000 512 a+0x1/0x2<b+0x3/0x4\n"	/* aligned: not listed */
		  "s 0x1000 4 a+0x1/0x2<b+0x3/0x4\n"	/* refused: not listed */
		  "S 0x5000 100 c+0x1/0x2\n"
		  "P 0x1000 1 c+0x1/0x2\n"
		  "P 0x2000 1 c+0x1/0x2\n"
		  "P 0x3000 1 c+0x1/0x2\n"
		  "S 0x400000 1 \"q\\+0x1/0x2\n");
	CHECK_EQ(convstat_finish(cs), 0);
	CHECK_EQ(feed(cs, "S 0x1000 1 f"), -EINVAL);	/* after finish */
	CHECK_EQ(convstat_finish(cs), 0);		/* idempotent */

	s = convstat_sites(cs, &nr);
	CHECK_EQ(nr, 5);
	if (nr == 5) {
		CHECK_STR(s[0].site, "P c");
		CHECK_EQ(s[0].calls, 3);
		CHECK_EQ(s[0].pages, 3);
		CHECK_STR(s[1].site, "S a<b");
		CHECK_EQ(s[1].calls, 2);
		CHECK_EQ(s[1].pages, 6);
		CHECK_STR(s[2].site, "S c");		/* 1 call, 100 pages */
		CHECK_EQ(s[2].pages, 100);
		CHECK_STR(s[3].site, "P a<b");		/* 1 call, 4 pages */
		CHECK_STR(s[4].site, "S \"q\\");	/* 1 call, 1 page */
	}
	CHECK_EQ(stats(cs).misaligned, 8);
	convstat_free(cs);
}

static void test_many_sites(void)
{
	struct convstat *cs = convstat_init();
	const struct convstat_site *s;
	char line[64];
	size_t nr, i;

	/* Enough distinct keys to grow the hash table several times. */
	for (i = 0; i < 5000; i++) {
		snprintf(line, sizeof(line), "S 0x1000 1 site%zu+0x1/0x2", i % 1000);
		CHECK_EQ(feed(cs, line), CONVSTAT_LINE_RECORD);
	}
	CHECK_EQ(convstat_finish(cs), 0);
	s = convstat_sites(cs, &nr);
	CHECK_EQ(nr, 1000);
	for (i = 0; i < nr; i++)
		CHECK_EQ(s[i].calls, 5);
	if (nr)
		CHECK_STR(s[0].site, "S site0");	/* ties: by key */
	convstat_free(cs);
}

struct collect {
	struct convstat_region r[32];
	size_t n;
	size_t stop_at;
};

static int collect_fn(const struct convstat_region *r, void *ctx)
{
	struct collect *c = ctx;

	if (c->n < ARRAY_SIZE(c->r))
		c->r[c->n] = *r;
	c->n++;
	return c->stop_at && c->n == c->stop_at ? 42 : 0;
}

static void test_regions(void)
{
	struct convstat *cs = run("S 0xfffffff000 1 f\n"	/* last page of 1 TiB */
				  "S 0x400000 512 f\n"
				  "S 0x200000 1 f\n"
				  "P 0x40000000 1 f\n"		/* touched, private */
				  "S 0x1000000 2 f\n"
				  "P 0x1000000 2 f\n");		/* touched, back to private */
	struct collect c = { .n = 0 };

	CHECK_EQ(convstat_for_each_region(cs, CONVSTAT_REGIONS_SHARED, collect_fn, &c), 0);
	CHECK_EQ(c.n, 3);
	CHECK_EQ(c.r[0].base, 0x200000);
	CHECK_EQ(c.r[0].shared_pages, 1);
	CHECK_EQ(c.r[1].base, 0x400000);
	CHECK_EQ(c.r[1].shared_pages, 512);
	CHECK_EQ(c.r[2].base, TiB - 2 * MiB);
	CHECK_EQ(c.r[2].shared_pages, 1);

	memset(&c, 0, sizeof(c));
	CHECK_EQ(convstat_for_each_region(cs, CONVSTAT_REGIONS_TOUCHED, collect_fn, &c), 0);
	CHECK_EQ(c.n, 5);
	CHECK_EQ(c.r[0].base, 0x200000);
	CHECK_EQ(c.r[1].base, 0x400000);
	CHECK_EQ(c.r[2].base, 0x1000000);
	CHECK_EQ(c.r[2].shared_pages, 0);
	CHECK_EQ(c.r[3].base, 0x40000000);
	CHECK_EQ(c.r[4].base, TiB - 2 * MiB);

	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	CHECK_EQ(convstat_for_each_region(cs, CONVSTAT_REGIONS_TOUCHED, collect_fn, &c), 42);
	CHECK_EQ(c.n, 2);

	CHECK_STR(convstat_region_state(0), "private");
	CHECK_STR(convstat_region_state(1), "mixed");
	CHECK_STR(convstat_region_state(511), "mixed");
	CHECK_STR(convstat_region_state(512), "shared");
	convstat_free(cs);
}

static int count_fn(const struct convstat_region *r, void *ctx)
{
	(void)r;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* The top of the 52-bit space, the old 1 TiB limit, and all of 2^52. */
static void test_near_limit(void)
{
	struct convstat *cs = convstat_init();
	struct convstat_stats st;
	struct collect c = { .n = 0 };
	uint64_t n = 0;

	CHECK_EQ(feed(cs, "S 0xfffffffe00000 512 f"), CONVSTAT_LINE_RECORD);
	CHECK_EQ(feed(cs, "S 0xffffffffff000 1 f"), CONVSTAT_LINE_RECORD);
	CHECK_EQ(feed(cs, "S 0xfffffffe00000 513 f"), CONVSTAT_LINE_MALFORMED);
	CHECK_EQ(feed(cs, "S 0xffffffffff000 2 f"), CONVSTAT_LINE_MALFORMED);
	CHECK_EQ(feed(cs, "S 0x10000000000000 1 f"), CONVSTAT_LINE_MALFORMED);
	CHECK_EQ(feed(cs, "s 0xffffffffff000 2 f"), CONVSTAT_LINE_MALFORMED);
	/* Across the old 1 TiB limit: ordinary records now. */
	CHECK_EQ(feed(cs, "S 0x10000000000 1 f"), CONVSTAT_LINE_RECORD);
	CHECK_EQ(feed(cs, "S 0xfffffff000 2 f"), CONVSTAT_LINE_RECORD);
	st = stats(cs);
	CHECK_EQ(st.misaligned, 3);
	CHECK_EQ(st.shared_bytes_end, 2 * MiB + 2 * 4096);
	CHECK_EQ(st.redundant_pages, 2);
	CHECK_EQ(st.malformed, 4);
	CHECK_EQ(st.mixed_2m_end, 2);
	CHECK_EQ(st.split_2m_ever, 2);
	CHECK_EQ(st.double_alloc_peak_bytes, 2 * 4096);

	/* All of 2^52 both ways: one extent each, not 2^31 regions. */
	CHECK_EQ(feed(cs, "S 0x0 1099511627776 f"), CONVSTAT_LINE_RECORD);
	st = stats(cs);
	CHECK_EQ(st.shared_bytes_end, LIMIT);
	CHECK_EQ(st.shared_bytes_peak, LIMIT);
	CHECK_EQ(st.mixed_2m_end, 0);
	CHECK_EQ(st.redundant_pages, 2 + 514);
	CHECK_EQ(st.double_alloc_end_bytes, 0);
	CHECK_EQ(feed(cs, "P 0x1000 1099511627775 f"), CONVSTAT_LINE_RECORD);
	st = stats(cs);
	CHECK_EQ(st.shared_bytes_end, 4096);
	CHECK_EQ(st.mixed_2m_end, 1);
	CHECK_EQ(st.mixed_2m_peak, 2);
	CHECK_EQ(st.split_2m_ever, 3);
	CHECK_EQ(st.double_alloc_end_bytes, 4096);
	CHECK_EQ(st.double_alloc_peak_bytes, 2 * 4096);
	CHECK_EQ(st.redundant_pages, 2 + 514 + 0);
	CHECK_EQ(convstat_finish(cs), 0);
	CHECK_EQ(convstat_for_each_region(cs, CONVSTAT_REGIONS_SHARED, collect_fn, &c), 0);
	CHECK_EQ(c.n, 1);
	CHECK_EQ(c.r[0].base, 0);
	CHECK_EQ(c.r[0].shared_pages, 1);
	memset(&c, 0, sizeof(c));
	c.stop_at = 3;
	CHECK_EQ(convstat_for_each_region(cs, CONVSTAT_REGIONS_TOUCHED, collect_fn, &c), 42);
	CHECK_EQ(c.n, 3);
	CHECK_EQ(c.r[2].base, 4 * MiB);
	CHECK_EQ(c.r[2].shared_pages, 0);
	convstat_free(cs);

	/* All touched regions of 1 TiB are iterated, in runs or not. */
	cs = run("P 0x0 268435456 f\nS 0x200000 1 f\nS 0x400000 512 f\n");
	CHECK_EQ(convstat_for_each_region(cs, CONVSTAT_REGIONS_TOUCHED, count_fn, &n), 0);
	CHECK_EQ(n, TiB / (2 * MiB));
	n = 0;
	CHECK_EQ(convstat_for_each_region(cs, CONVSTAT_REGIONS_SHARED, count_fn, &n), 0);
	CHECK_EQ(n, 2);
	convstat_free(cs);
}

/* split_2m_ever and double_alloc_peak_bytes on hand-computed logs. */
static void test_host_cost(void)
{
	struct convstat *cs;
	struct convstat_stats st;

	/* Aligned private -> shared -> private: no split, no double. */
	cs = run("S 0x200000 512 f\nS 0x400000 1024 f\nP 0x200000 1536 f\n"
		 "s 0x800000 1 f\n");
	st = stats(cs);
	CHECK_EQ(st.split_2m_ever, 0);
	CHECK_EQ(st.double_alloc_peak_bytes, 0);
	CHECK_EQ(st.mixed_2m_peak, 0);
	convstat_free(cs);

	/*
	 * A region split once counts once, whatever comes after: mixed, all
	 * shared, mixed again, all private, mixed again.
	 */
	cs = run("S 0x200000 256 f\n"		/* mixed: 1 MiB doubled */
		 "S 0x300000 256 f\n"		/* all shared: 0 doubled */
		 "P 0x200000 1 f\n"		/* mixed: 511 pages doubled */
		 "P 0x201000 511 f\n"		/* all private */
		 "S 0x3ff000 1 f\n");		/* mixed: 1 page */
	st = stats(cs);
	CHECK_EQ(st.split_2m_ever, 1);
	CHECK_EQ(st.mixed_2m_peak, 1);
	CHECK_EQ(st.mixed_2m_end, 1);
	CHECK_EQ(st.double_alloc_peak_bytes, 511 * 4096);
	CHECK_EQ(st.double_alloc_end_bytes, 4096);
	convstat_free(cs);

	/* A straddling record splits its first and last region only. */
	cs = run("S 0x1ff000 514 f\n");
	st = stats(cs);
	CHECK_EQ(st.split_2m_ever, 2);
	CHECK_EQ(st.double_alloc_peak_bytes, 2 * 4096);
	CHECK_EQ(st.shared_bytes_peak, 514 * 4096);
	convstat_free(cs);

	/*
	 * Peak of the sum, not sum of the peaks: two regions half shared one
	 * after the other, the first made whole before the second is split.
	 */
	cs = run("S 0x0 256 f\nS 0x100000 256 f\nS 0x200000 300 f\n"
		 "S 0x400000 10 f\n");
	st = stats(cs);
	CHECK_EQ(st.split_2m_ever, 3);
	CHECK_EQ(st.double_alloc_peak_bytes, 310 * 4096);
	CHECK_EQ(st.double_alloc_end_bytes, 310 * 4096);
	convstat_free(cs);

	/* An aligned record over a mixed region clears it; it stays counted. */
	cs = run("S 0x200000 1 f\nS 0x400000 3 f\nP 0x0 1536 f\nS 0x200000 512 f\n");
	st = stats(cs);
	CHECK_EQ(st.split_2m_ever, 2);
	CHECK_EQ(st.mixed_2m_end, 0);
	CHECK_EQ(st.double_alloc_peak_bytes, 4 * 4096);
	CHECK_EQ(st.double_alloc_end_bytes, 0);
	CHECK_EQ(st.redundant_pages, 1536 - 4);
	convstat_free(cs);

	/* Refused conversions cost nothing. */
	cs = run("s 0x200000 1 f\np 0x0 3 f\n");
	st = stats(cs);
	CHECK_EQ(st.split_2m_ever, 0);
	CHECK_EQ(st.double_alloc_peak_bytes, 0);
	convstat_free(cs);
}

static void test_independent_instances(void)
{
	struct convstat *a = convstat_init(), *b = convstat_init();

	feed(a, "S 0x0 1 f");
	feed(b, "S 0x200000 512 g");
	feed(a, "S 0x0 1 f");
	CHECK_EQ(stats(a).redundant_pages, 1);
	CHECK_EQ(stats(b).redundant_pages, 0);
	CHECK_EQ(stats(a).mixed_2m_end, 1);
	CHECK_EQ(stats(b).mixed_2m_end, 0);
	CHECK_EQ(stats(b).shared_bytes_end, 2 * MiB);
	convstat_free(a);
	convstat_free(b);
	convstat_free(NULL);
}

/* xorshift64*: deterministic pseudo-random numbers for the model test. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/*
 * Compare against a naive byte-per-page model of 64 MiB (32 regions) at
 * @base on random calls, after every call.  If @gap is not 0, the second
 * half of the 64 MiB lies @gap bytes (a multiple of 2 MiB) higher: a call
 * across the halves also covers the gap, which is modelled as one state,
 * and makes one large run.  At the top of the 52-bit space (the model ends
 * at 2^52), some records run past 2^52 and must be malformed without any
 * effect.
 */
static void model_at(uint64_t base, uint64_t gap, uint64_t seed)
{
	enum { NPAGES = 16384, HALF = NPAGES / 2, NREG = NPAGES / 512, OPS = 20000 };
	static unsigned char ref[NPAGES];
	unsigned char ever[NREG], gap_shared = 0;
	uint64_t gap_pages = gap >> 12;
	bool top = base + NPAGES * 4096ULL + gap == LIMIT;
	uint64_t redundant = 0, peak_sh = 0, peak_mix = 0, calls = 0, refused = 0;
	uint64_t exits = 0, misaligned = 0, never = 0, peak_dbl = 0, malformed = 0;
	struct convstat *cs = convstat_init();
	struct convstat_stats st;
	struct collect c;
	unsigned int bad = 0;
	int op;

	memset(ever, 0, sizeof(ever));
	memset(ref, 0, sizeof(ref));
	for (op = 0; op < OPS && !bad; op++) {
		uint64_t r = rnd(&seed), first, n, i, sh = 0, mix = 0, dbl = 0;
		bool to_shared = r & 1, is_refused = (r >> 1) % 16 == 0;
		bool beyond = false, across;
		uint64_t gpa, pages;
		char line[96];
		unsigned int reg;

		switch ((r >> 8) % 5) {
		case 0:		/* a few pages anywhere */
			first = (r >> 16) % NPAGES;
			n = 1 + (r >> 40) % 8;
			break;
		case 1:		/* up to 3 regions anywhere */
			first = (r >> 16) % NPAGES;
			n = 1 + (r >> 40) % 1536;
			break;
		case 2:		/* aligned regions */
			first = ((r >> 16) % NREG) * 512;
			n = 512 * (1 + (r >> 40) % 3);
			break;
		case 3:		/* around a boundary */
			first = ((r >> 16) % NREG) * 512 + 512 - 1 - (r >> 32) % 4;
			n = 1 + (r >> 40) % 520;
			break;
		default:	/* large: runs of 16 regions and more */
			first = (r >> 16) % NPAGES;
			n = 1 + (r >> 40) % NPAGES;
			break;
		}
		if (first >= NPAGES)
			first = NPAGES - 1;
		if (first + n > NPAGES)
			beyond = top && (r >> 4) % 4 == 0;
		if (first + n > NPAGES && !beyond)
			n = NPAGES - first;

		across = first < HALF && first + n > HALF;
		gpa = base + (first << 12) + (first >= HALF ? gap : 0);
		pages = n + (across ? gap_pages : 0);
		snprintf(line, sizeof(line), "%c 0x%" PRIx64 " %" PRIu64 " f+0x1/0x2\n",
			 is_refused ? (to_shared ? 's' : 'p') : (to_shared ? 'S' : 'P'),
			 gpa, pages);
		CHECK_EQ(feed(cs, line), beyond ? CONVSTAT_LINE_MALFORMED :
			 is_refused ? CONVSTAT_LINE_REFUSED : CONVSTAT_LINE_RECORD);
		if (beyond) {
			malformed++;
			continue;
		}
		if (is_refused) {
			refused++;
			continue;
		}
		calls++;
		exits += convstat_snp_exits(gpa, pages);
		misaligned += (first % 512) || (n % 512);
		for (i = first; i < first + n; i++) {
			redundant += ref[i] == to_shared;
			ref[i] = to_shared;
		}
		if (across) {
			redundant += gap_shared == to_shared ? gap_pages : 0;
			gap_shared = to_shared;
		}
		sh = gap_shared ? gap_pages : 0;
		for (reg = 0; reg < NREG; reg++) {
			unsigned int k, cnt = 0;

			for (k = 0; k < 512; k++)
				cnt += ref[reg * 512 + k];
			sh += cnt;
			if (cnt > 0 && cnt < 512) {
				mix++;
				dbl += cnt;
				never += !ever[reg];
				ever[reg] = 1;
			}
		}
		if (sh * 4096 > peak_sh)
			peak_sh = sh * 4096;
		if (mix > peak_mix)
			peak_mix = mix;
		if (dbl * 4096 > peak_dbl)
			peak_dbl = dbl * 4096;

		st = stats(cs);
		if (st.shared_bytes_end != sh * 4096 || st.mixed_2m_end != mix ||
		    st.redundant_pages != redundant || st.shared_bytes_peak != peak_sh ||
		    st.mixed_2m_peak != peak_mix || st.split_2m_ever != never ||
		    st.double_alloc_end_bytes != dbl * 4096 ||
		    st.double_alloc_peak_bytes != peak_dbl) {
			fprintf(stderr, "  model mismatch after op %d: %s", op, line);
			bad++;
		}
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(convstat_finish(cs), 0);
	st = stats(cs);
	CHECK_EQ(st.calls, calls);
	CHECK_EQ(st.refused, refused);
	CHECK_EQ(st.snp_exits, exits);
	CHECK_EQ(st.misaligned, misaligned);
	CHECK_EQ(st.malformed, malformed);
	CHECK(st.mixed_2m_peak > 0);
	CHECK(never > 0 && never <= NREG);
	CHECK(!top || malformed > 0);

	/* Final per-region state matches too. */
	if (gap) {
		convstat_free(cs);
		return;
	}
	memset(&c, 0, sizeof(c));
	CHECK_EQ(convstat_for_each_region(cs, CONVSTAT_REGIONS_TOUCHED, collect_fn, &c), 0);
	CHECK_EQ(c.n, NREG);
	for (op = 0; op < NREG && (size_t)op < c.n && (size_t)op < ARRAY_SIZE(c.r); op++) {
		unsigned int k, cnt = 0;

		for (k = 0; k < 512; k++)
			cnt += ref[op * 512 + k];
		CHECK_EQ(c.r[op].base, base + (uint64_t)op * 2 * MiB);
		CHECK_EQ(c.r[op].shared_pages, cnt);
	}
	convstat_free(cs);
}

static void test_model(void)
{
	model_at(0, 0, 0x9e3779b97f4a7c15ULL);
	model_at(TiB - 32 * MiB, 0, 0x2545f4914f6cdd1dULL);	/* across 1 TiB */
	model_at(LIMIT - 64 * MiB, 0, 0x94d049bb133111ebULL);	/* up to 2^52 */
	/* Halves 1 TiB apart; 2^51 and the top of 2^52, 2^51 - 64 MiB apart. */
	model_at(0, TiB, 0xbf58476d1ce4e5b9ULL);
	model_at(LIMIT / 2, LIMIT / 2 - 64 * MiB, 0x1234567887654321ULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * ~2 million records, generated in memory first: 1M S/P pairs of 4 pages on
 * 262144 distinct regions spread over all of 1 TiB, plus every 1000th pair
 * leaving a 2 MiB aligned region shared.
 */
static void test_scale(void)
{
	enum { PAIRS = 1000000, STRIDE_REGIONS = 262144 };
	const char *sfx = " dma_direct_alloc+0x1c4/0x2e0<dma_alloc_attrs+0x6f/0xd0\n";
	size_t cap = (size_t)PAIRS * 2 * 80 + (PAIRS / 1000) * 80, len = 0, k;
	char *buf = malloc(cap), *p, *end;
	struct convstat *cs = convstat_init();
	const struct convstat_site *s;
	struct convstat_stats st;
	uint64_t nrec = 0, extra = 0;
	double t0, t1, c0, c1;
	size_t nr;

	if (!buf || !cs) {
		CHECK(!"out of memory");
		free(buf);
		convstat_free(cs);
		return;
	}
	for (k = 0; k < PAIRS; k++) {
		uint64_t gpa = (k % STRIDE_REGIONS) * 4 * MiB + (k % 7) * 4096;

		len += (size_t)sprintf(buf + len, "S 0x%" PRIx64 " 4%s", gpa, sfx);
		len += (size_t)sprintf(buf + len, "P 0x%" PRIx64 " 4%s", gpa, sfx);
		nrec += 2;
		if (k % 1000 == 0) {
			/* Odd 2 MiB regions are never hit by the pairs. */
			len += (size_t)sprintf(buf + len, "S 0x%" PRIx64 " 512 x+0x1/0x2\n",
					       (uint64_t)((k / 1000) * 4 * MiB + 2 * MiB));
			nrec++;
			extra++;
		}
	}

	t0 = now();
	c0 = cpu_now();
	for (p = buf, end = buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (convstat_feed_line(cs, p, (size_t)(nl - p) + 1) != CONVSTAT_LINE_RECORD) {
			CHECK(!"record not accepted");
			break;
		}
		p = nl + 1;
	}
	CHECK_EQ(convstat_finish(cs), 0);
	t1 = now();
	c1 = cpu_now();
	printf("  scale: %" PRIu64 " records (%.1f MB) in %.3f s, CPU %.3f s"
	       " (%.2f M records/s)\n",
	       nrec, len / 1e6, t1 - t0, c1 - c0, nrec / (t1 - t0) / 1e6);

	st = stats(cs);
	CHECK_EQ(st.calls, nrec);
	CHECK_EQ(st.to_shared, PAIRS + extra);
	CHECK_EQ(st.to_private, PAIRS);
	CHECK_EQ(st.pages, 8ULL * PAIRS + 512 * extra);
	CHECK_EQ(st.misaligned, 2ULL * PAIRS);
	CHECK_EQ(st.tdx_calls, nrec);
	CHECK_EQ(st.snp_exits, nrec);
	CHECK_EQ(st.redundant_pages, 0);
	CHECK_EQ(st.shared_bytes_end, extra * 2 * MiB);
	CHECK_EQ(st.shared_bytes_peak, extra * 2 * MiB + 4 * 4096);
	CHECK_EQ(st.mixed_2m_end, 0);
	CHECK_EQ(st.mixed_2m_peak, 1);
	CHECK_EQ(st.malformed, 0);
	s = convstat_sites(cs, &nr);
	CHECK_EQ(nr, 2);
	if (nr == 2) {
		CHECK_STR(s[0].site, "P dma_direct_alloc<dma_alloc_attrs");
		CHECK_EQ(s[0].calls, PAIRS);
		CHECK_STR(s[1].site, "S dma_direct_alloc<dma_alloc_attrs");
		CHECK_EQ(s[1].pages, 4ULL * PAIRS);
	}
	free(buf);
	convstat_free(cs);
}

/* Regions of the map, for the consistency checks of the scale tests. */
struct tally {
	uint64_t regions, shared_pages, mixed, shared_in_mixed;
};

static int tally_fn(const struct convstat_region *r, void *ctx)
{
	struct tally *t = ctx;

	t->regions++;
	t->shared_pages += r->shared_pages;
	if (r->shared_pages && r->shared_pages < 512) {
		t->mixed++;
		t->shared_in_mixed += r->shared_pages;
	}
	return 0;
}

/*
 * 2,000,000 random records over @span_pages pages from 0: a few pages
 * anywhere (most), whole 2 MiB regions, across a region boundary, 1 in 16
 * refused; generated in memory first, timed while fed.
 */
static void scale_random(const char *name, uint64_t span_pages, uint64_t seed)
{
	enum { RECORDS = 2000000 };
	size_t cap = (size_t)RECORDS * 64, len = 0, k;
	char *buf = malloc(cap), *p, *end;
	struct convstat *cs = convstat_init();
	uint64_t pages = 0, refused = 0, bad = 0;
	struct convstat_stats st;
	struct tally t = { 0 };
	struct rusage ru;
	double t0, t1, c0, c1;

	if (!buf || !cs) {
		CHECK(!"out of memory");
		free(buf);
		convstat_free(cs);
		return;
	}
	for (k = 0; k < RECORDS; k++) {
		uint64_t r = rnd(&seed), x = rnd(&seed), first, n;
		bool is_refused = (r >> 1) % 16 == 0;
		char d = r & 1 ? 'S' : 'P';

		switch ((r >> 8) % 8) {
		case 0: case 1: case 2: case 3: case 4:
			first = x % span_pages;
			n = 1 + (r >> 16) % 16;
			break;
		case 5: case 6:
			first = (x % (span_pages / 512)) * 512;
			n = 512 * (1 + (r >> 16) % 4);
			break;
		default:
			first = (x % (span_pages / 512)) * 512 + 512 - 1 - (r >> 16) % 4;
			n = 1 + (r >> 24) % 520;
			break;
		}
		if (first + n > span_pages)
			first = span_pages - n;
		len += (size_t)sprintf(buf + len, "%c 0x%" PRIx64 " %" PRIu64
				       " dma_direct_alloc+0x1c4/0x2e0\n",
				       is_refused ? d + 'a' - 'A' : d, first << 12, n);
		if (is_refused)
			refused++;
		else
			pages += n;
	}

	t0 = now();
	c0 = cpu_now();
	for (p = buf, end = buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		bad += convstat_feed_line(cs, p, (size_t)(nl - p) + 1) < 0;
		p = nl + 1;
	}
	CHECK_EQ(convstat_finish(cs), 0);
	t1 = now();
	c1 = cpu_now();
	getrusage(RUSAGE_SELF, &ru);
	st = stats(cs);
	printf("  scale %s: %d records (%.1f MB) in %.3f s, CPU %.3f s"
	       " (%.2f M records/s); split_2m_ever %" PRIu64
	       ", max RSS so far %ld MiB\n",
	       name, RECORDS, len / 1e6, t1 - t0, c1 - c0, RECORDS / (t1 - t0) / 1e6,
	       st.split_2m_ever, ru.ru_maxrss / 1024);

	CHECK_EQ(bad, 0);
	CHECK_EQ(st.malformed, 0);
	CHECK_EQ(st.refused, refused);
	CHECK_EQ(st.calls, RECORDS - refused);
	CHECK_EQ(st.pages, pages);
	CHECK_EQ(convstat_for_each_region(cs, CONVSTAT_REGIONS_SHARED, tally_fn, &t), 0);
	CHECK_EQ(t.shared_pages * 4096, st.shared_bytes_end);
	CHECK_EQ(t.mixed, st.mixed_2m_end);
	CHECK_EQ(t.shared_in_mixed * 4096, st.double_alloc_end_bytes);
	CHECK(st.split_2m_ever >= st.mixed_2m_peak);
	CHECK(st.split_2m_ever <= 2 * st.calls);
	CHECK(st.split_2m_ever <= span_pages / 512);
	CHECK(st.double_alloc_peak_bytes >= st.double_alloc_end_bytes);
	CHECK(st.double_alloc_peak_bytes <= st.shared_bytes_peak);
	free(buf);
	convstat_free(cs);
}

/* Dense: 4 GiB of guest memory, 2048 regions hit over and over. */
static void test_scale_dense(void)
{
	scale_random("dense 4 GiB", (4ULL << 30) >> 12, 0x1234567887654321ULL);
}

/* Sparse: the whole 52-bit space, almost every record on a new region. */
static void test_scale_sparse(void)
{
	scale_random("sparse 2^52", LIMIT >> 12, 0x8765432112345678ULL);
}

/* ---- Runner ---- */

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "parse_valid", test_parse_valid },
	{ "malformed", test_malformed },
	{ "comments_blank", test_comments_blank },
	{ "alignment", test_alignment },
	{ "mixed", test_mixed },
	{ "peak_vs_end", test_peak_vs_end },
	{ "snp", test_snp },
	{ "refused", test_refused },
	{ "redundant", test_redundant },
	{ "site_key", test_site_key },
	{ "sites", test_sites },
	{ "many_sites", test_many_sites },
	{ "regions", test_regions },
	{ "near_limit", test_near_limit },
	{ "host_cost", test_host_cost },
	{ "independent_instances", test_independent_instances },
	{ "model", test_model },
	{ "scale", test_scale },
	{ "scale_dense", test_scale_dense },
	{ "scale_sparse", test_scale_sparse },
};

int main(void)
{
	unsigned int passed = 0, failed = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tests); i++) {
		checks_failed = 0;
		tests[i].fn();
		if (checks_failed) {
			printf("FAIL %s (%u check%s)\n", tests[i].name, checks_failed,
			       checks_failed == 1 ? "" : "s");
			failed++;
		} else {
			printf("PASS %s\n", tests[i].name);
			passed++;
		}
		fflush(stdout);
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
