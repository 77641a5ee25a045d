// SPDX-License-Identifier: GPL-2.0
/*
 * convstat - statistics over a private<->shared conversion log.
 * See convstat.h and Documentation/conversion-log.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convstat.h"

#define REGION_WORDS	(CONVSTAT_REGION_PAGES / 64)
#define LEAF_SHIFT	30			/* one leaf maps 1 GiB */
#define LEAF_REGIONS	(1U << (LEAF_SHIFT - CONVSTAT_REGION_SHIFT))
#define NR_LEAVES	(1U << (CONVSTAT_ADDR_BITS - LEAF_SHIFT))
#define SITE_HASH_MIN	64

/* One 2 MiB region: bit set = 4 KiB page shared. */
struct cs_region {
	uint64_t bits[REGION_WORDS];
	uint16_t shared;
	uint8_t touched;
};

/* 1 GiB of address space, allocated on first touch. */
struct cs_leaf {
	struct cs_region r[LEAF_REGIONS];
};

struct cs_site {
	char *key;
	size_t len;
	uint64_t hash;
	uint64_t calls;
	uint64_t pages;
};

struct convstat {
	struct cs_leaf *leaf[NR_LEAVES];
	struct convstat_stats st;

	/* Open-addressing hash of misaligned sites, keyed by site key. */
	struct cs_site **site_tab;
	size_t site_cap;	/* power of two */
	size_t site_nr;

	/* Scratch buffer for building site keys. */
	char *keybuf;
	size_t keybuf_len;

	/* Filled by convstat_finish(). */
	struct convstat_site *sorted;
	bool finished;
};

/* ---- Parsing ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/*
 * Parse "0x<hex>" at *p (up to @end), stopping at the first non-hex char.
 * Values of @limit or more are rejected.
 */
static int parse_hex(const char **p, const char *end, uint64_t limit, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int d;

	if (end - s < 3 || s[0] != '0' || s[1] != 'x')
		return -EINVAL;
	s += 2;
	if (hexval(*s) < 0)
		return -EINVAL;
	for (; s < end && (d = hexval(*s)) >= 0; s++) {
		v = (v << 4) | (uint64_t)d;
		if (v >= limit)
			return -ERANGE;
	}
	*p = s;
	*out = v;
	return 0;
}

static int parse_dec(const char **p, const char *end, uint64_t limit, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -EINVAL;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > limit)
			return -ERANGE;
	}
	*p = s;
	*out = v;
	return 0;
}

int convstat_parse_line(const char *line, size_t len, struct convstat_record *rec)
{
	const char *p = line, *end = line + len;
	uint64_t gpa, pages;
	size_t i;

	/* Trailing new line / white space is not part of the site. */
	while (end > p && is_space(end[-1]))
		end--;

	/* <dir> */
	if (end - p < 2 || p[1] != ' ')
		return -EINVAL;
	switch (p[0]) {
	case 'S':
	case 'P':
		rec->dir = p[0];
		rec->refused = false;
		break;
	case 's':
		rec->dir = 'S';
		rec->refused = true;
		break;
	case 'p':
		rec->dir = 'P';
		rec->refused = true;
		break;
	default:
		return -EINVAL;
	}
	p += 2;

	/* 0x<gpa>: 4 KiB aligned and below 1 TiB */
	if (parse_hex(&p, end, CONVSTAT_ADDR_LIMIT, &gpa))
		return -EINVAL;
	if (gpa & (CONVSTAT_PAGE_SIZE - 1))
		return -EINVAL;
	if (p >= end || *p++ != ' ')
		return -EINVAL;

	/* <pages>: > 0, and the range must end at or below 1 TiB */
	if (parse_dec(&p, end, CONVSTAT_MAX_PAGES, &pages) || pages == 0)
		return -EINVAL;
	if (pages > (CONVSTAT_ADDR_LIMIT - gpa) >> CONVSTAT_PAGE_SHIFT)
		return -EINVAL;
	if (p >= end || *p++ != ' ')
		return -EINVAL;

	/* <site>: the rest; non-empty printable ASCII, no leading space */
	if (p >= end || *p == ' ')
		return -EINVAL;
	for (i = 0; i < (size_t)(end - p); i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return -EINVAL;

	rec->gpa = gpa;
	rec->pages = pages;
	rec->site = p;
	rec->site_len = (size_t)(end - p);
	return 0;
}

/* ---- Figures of one call ---- */

bool convstat_is_misaligned(uint64_t gpa, uint64_t pages)
{
	return (gpa & (CONVSTAT_REGION_SIZE - 1)) ||
	       (pages & (CONVSTAT_REGION_PAGES - 1));
}

uint64_t convstat_snp_entries(uint64_t gpa, uint64_t pages)
{
	uint64_t end = gpa + (pages << CONVSTAT_PAGE_SHIFT);
	uint64_t first = (gpa + CONVSTAT_REGION_SIZE - 1) & ~(CONVSTAT_REGION_SIZE - 1);
	uint64_t last = end & ~(CONVSTAT_REGION_SIZE - 1);
	uint64_t blocks;

	if (first >= last)
		return pages;
	blocks = (last - first) >> CONVSTAT_REGION_SHIFT;
	return blocks + pages - blocks * CONVSTAT_REGION_PAGES;
}

uint64_t convstat_snp_exits(uint64_t gpa, uint64_t pages)
{
	uint64_t e = convstat_snp_entries(gpa, pages);

	return (e + CONVSTAT_SNP_ENTRIES_PER_EXIT - 1) / CONVSTAT_SNP_ENTRIES_PER_EXIT;
}

const char *convstat_region_state(unsigned int shared_pages)
{
	if (shared_pages == 0)
		return "private";
	if (shared_pages >= CONVSTAT_REGION_PAGES)
		return "shared";
	return "mixed";
}

static bool is_mixed(unsigned int shared)
{
	return shared > 0 && shared < CONVSTAT_REGION_PAGES;
}

/* ---- Site table ---- */

/* Length of a "+0x<hex>[/0x<hex>]" offset at @s, or 0 if there is none. */
static size_t offset_len(const char *s, const char *end)
{
	const char *p = s;

	if (end - p < 4 || p[0] != '+' || p[1] != '0' || p[2] != 'x' || hexval(p[3]) < 0)
		return 0;
	for (p += 3; p < end && hexval(*p) >= 0; p++)
		;
	if (end - p >= 4 && p[0] == '/' && p[1] == '0' && p[2] == 'x' && hexval(p[3]) >= 0)
		for (p += 3; p < end && hexval(*p) >= 0; p++)
			;
	/* Only an offset if it ends the frame (or a " [module]" follows). */
	if (p < end && *p != '<' && *p != ' ')
		return 0;
	return (size_t)(p - s);
}

size_t convstat_site_key(char dir, const char *site, size_t len, char *out)
{
	const char *p = site, *end = site + len;
	size_t n = 0, skip;

	out[n++] = dir;
	out[n++] = ' ';
	while (p < end) {
		if (*p == '+' && (skip = offset_len(p, end))) {
			p += skip;
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	return n;
}

static uint64_t hash_key(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int site_grow(struct convstat *cs)
{
	size_t cap = cs->site_cap ? cs->site_cap * 2 : SITE_HASH_MIN;
	struct cs_site **tab;
	size_t i, j;

	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (i = 0; i < cs->site_cap; i++) {
		struct cs_site *s = cs->site_tab[i];

		if (!s)
			continue;
		for (j = s->hash & (cap - 1); tab[j]; j = (j + 1) & (cap - 1))
			;
		tab[j] = s;
	}
	free(cs->site_tab);
	cs->site_tab = tab;
	cs->site_cap = cap;
	return 0;
}

/* Find or insert the entry for @key; counters are left to the caller. */
static struct cs_site *site_get(struct convstat *cs, const char *key, size_t len)
{
	uint64_t h = hash_key(key, len);
	struct cs_site *s;
	size_t j;

	/* Keep the load factor at or below 1/2. */
	if ((cs->site_nr + 1) * 2 > cs->site_cap && site_grow(cs))
		return NULL;

	for (j = h & (cs->site_cap - 1); (s = cs->site_tab[j]); j = (j + 1) & (cs->site_cap - 1))
		if (s->hash == h && s->len == len && !memcmp(s->key, key, len))
			return s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->key = malloc(len + 1);
	if (!s->key) {
		free(s);
		return NULL;
	}
	memcpy(s->key, key, len + 1);
	s->len = len;
	s->hash = h;
	cs->site_tab[j] = s;
	cs->site_nr++;
	return s;
}

/* ---- The map ---- */

static uint64_t popcount(uint64_t x)
{
	return (uint64_t)__builtin_popcountll(x);
}

/* Make sure every leaf covering [gpa, gpa + pages * 4K) exists. */
static int map_prepare(struct convstat *cs, uint64_t gpa, uint64_t pages)
{
	uint64_t first = gpa >> LEAF_SHIFT;
	uint64_t last = (gpa + (pages << CONVSTAT_PAGE_SHIFT) - 1) >> LEAF_SHIFT;
	uint64_t i;

	for (i = first; i <= last; i++) {
		if (cs->leaf[i])
			continue;
		cs->leaf[i] = calloc(1, sizeof(*cs->leaf[i]));
		if (!cs->leaf[i])
			return -ENOMEM;
	}
	return 0;
}

/*
 * Set pages [first, first + n) of @r to @shared.  Returns the number of
 * pages that already were in that state.
 */
static unsigned int region_apply(struct cs_region *r, unsigned int first,
				 unsigned int n, bool shared)
{
	unsigned int w, lastw, redundant = 0, count = 0;

	if (n == CONVSTAT_REGION_PAGES) {
		redundant = shared ? r->shared : CONVSTAT_REGION_PAGES - r->shared;
		memset(r->bits, shared ? 0xff : 0, sizeof(r->bits));
		r->shared = shared ? CONVSTAT_REGION_PAGES : 0;
		return redundant;
	}

	lastw = (first + n - 1) / 64;
	for (w = first / 64; w <= lastw; w++) {
		unsigned int lo = w == first / 64 ? first % 64 : 0;
		unsigned int hi = w == lastw ? (first + n - 1) % 64 : 63;
		uint64_t mask = (~0ULL >> (63 - hi)) & (~0ULL << lo);
		uint64_t old = r->bits[w];

		if (shared) {
			redundant += (unsigned int)popcount(old & mask);
			r->bits[w] = old | mask;
		} else {
			redundant += (unsigned int)popcount(~old & mask);
			r->bits[w] = old & ~mask;
		}
	}
	for (w = 0; w < REGION_WORDS; w++)
		count += (unsigned int)popcount(r->bits[w]);
	r->shared = (uint16_t)count;
	return redundant;
}

/* Apply an accepted call to the map; the leaves must exist. */
static void map_apply(struct convstat *cs, uint64_t gpa, uint64_t pages, bool shared)
{
	uint64_t pfn = gpa >> CONVSTAT_PAGE_SHIFT;
	uint64_t left = pages;
	uint64_t shared_pages = cs->st.shared_bytes_end >> CONVSTAT_PAGE_SHIFT;

	while (left) {
		uint64_t idx = pfn / CONVSTAT_REGION_PAGES;
		unsigned int first = (unsigned int)(pfn % CONVSTAT_REGION_PAGES);
		unsigned int n = CONVSTAT_REGION_PAGES - first;
		struct cs_region *r;
		unsigned int before;

		if (n > left)
			n = (unsigned int)left;
		r = &cs->leaf[idx / LEAF_REGIONS]->r[idx % LEAF_REGIONS];
		before = r->shared;
		r->touched = 1;
		cs->st.redundant_pages += region_apply(r, first, n, shared);

		if (is_mixed(before) && !is_mixed(r->shared))
			cs->st.mixed_2m_end--;
		else if (!is_mixed(before) && is_mixed(r->shared))
			cs->st.mixed_2m_end++;
		shared_pages = shared_pages - before + r->shared;

		pfn += n;
		left -= n;
	}

	cs->st.shared_bytes_end = shared_pages << CONVSTAT_PAGE_SHIFT;
	if (cs->st.mixed_2m_end > cs->st.mixed_2m_peak)
		cs->st.mixed_2m_peak = cs->st.mixed_2m_end;
	if (cs->st.shared_bytes_end > cs->st.shared_bytes_peak)
		cs->st.shared_bytes_peak = cs->st.shared_bytes_end;
}

/* ---- Public API ---- */

struct convstat *convstat_init(void)
{
	return calloc(1, sizeof(struct convstat));
}

static bool is_blank(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_space(line[i]))
			return false;
	return true;
}

int convstat_feed_line(struct convstat *cs, const char *line, size_t len)
{
	struct convstat_record rec;
	struct cs_site *site = NULL;
	bool misaligned;

	if (cs->finished)
		return -EINVAL;

	if (is_blank(line, len)) {
		cs->st.lines++;
		cs->st.blank++;
		return CONVSTAT_LINE_BLANK;
	}
	if (line[0] == '#') {
		cs->st.lines++;
		cs->st.comments++;
		return CONVSTAT_LINE_COMMENT;
	}
	if (memchr(line, '\0', len) || convstat_parse_line(line, len, &rec)) {
		cs->st.lines++;
		cs->st.malformed++;
		return CONVSTAT_LINE_MALFORMED;
	}
	if (rec.refused) {
		cs->st.lines++;
		cs->st.refused++;
		return CONVSTAT_LINE_REFUSED;
	}

	/* Allocate everything first so that -ENOMEM leaves no trace. */
	if (map_prepare(cs, rec.gpa, rec.pages))
		return -ENOMEM;
	misaligned = convstat_is_misaligned(rec.gpa, rec.pages);
	if (misaligned) {
		size_t klen;

		if (cs->keybuf_len < rec.site_len + 3) {
			char *b = realloc(cs->keybuf, rec.site_len + 3);

			if (!b)
				return -ENOMEM;
			cs->keybuf = b;
			cs->keybuf_len = rec.site_len + 3;
		}
		klen = convstat_site_key(rec.dir, rec.site, rec.site_len, cs->keybuf);
		site = site_get(cs, cs->keybuf, klen);
		if (!site)
			return -ENOMEM;
		site->calls++;
		site->pages += rec.pages;
		cs->st.misaligned++;
	}

	cs->st.lines++;
	cs->st.calls++;
	if (rec.dir == 'S')
		cs->st.to_shared++;
	else
		cs->st.to_private++;
	cs->st.pages += rec.pages;
	cs->st.tdx_calls++;
	cs->st.snp_exits += convstat_snp_exits(rec.gpa, rec.pages);
	map_apply(cs, rec.gpa, rec.pages, rec.dir == 'S');
	return CONVSTAT_LINE_RECORD;
}

static int site_cmp(const void *a, const void *b)
{
	const struct convstat_site *x = a, *y = b;

	if (x->calls != y->calls)
		return x->calls > y->calls ? -1 : 1;
	if (x->pages != y->pages)
		return x->pages > y->pages ? -1 : 1;
	return strcmp(x->site, y->site);
}

int convstat_finish(struct convstat *cs)
{
	size_t i, n = 0;

	if (cs->finished)
		return 0;
	if (cs->site_nr) {
		cs->sorted = calloc(cs->site_nr, sizeof(*cs->sorted));
		if (!cs->sorted)
			return -ENOMEM;
		for (i = 0; i < cs->site_cap; i++) {
			struct cs_site *s = cs->site_tab[i];

			if (!s)
				continue;
			cs->sorted[n].site = s->key;
			cs->sorted[n].calls = s->calls;
			cs->sorted[n].pages = s->pages;
			n++;
		}
		qsort(cs->sorted, n, sizeof(*cs->sorted), site_cmp);
	}
	free(cs->keybuf);
	cs->keybuf = NULL;
	cs->keybuf_len = 0;
	cs->finished = true;
	return 0;
}

void convstat_get_stats(const struct convstat *cs, struct convstat_stats *st)
{
	*st = cs->st;
}

const struct convstat_site *convstat_sites(const struct convstat *cs, size_t *nr)
{
	if (!cs->finished) {
		*nr = 0;
		return NULL;
	}
	*nr = cs->site_nr;
	return cs->sorted;
}

int convstat_for_each_region(const struct convstat *cs, unsigned int flags,
			     convstat_region_fn fn, void *ctx)
{
	size_t l, i;
	int ret;

	for (l = 0; l < NR_LEAVES; l++) {
		const struct cs_leaf *leaf = cs->leaf[l];

		if (!leaf)
			continue;
		for (i = 0; i < LEAF_REGIONS; i++) {
			const struct cs_region *r = &leaf->r[i];
			struct convstat_region cr;

			if (!(((flags & CONVSTAT_REGIONS_SHARED) && r->shared) ||
			      ((flags & CONVSTAT_REGIONS_TOUCHED) && r->touched)))
				continue;
			cr.base = ((uint64_t)l << LEAF_SHIFT) |
				  ((uint64_t)i << CONVSTAT_REGION_SHIFT);
			cr.shared_pages = r->shared;
			ret = fn(&cr, ctx);
			if (ret)
				return ret;
		}
	}
	return 0;
}

void convstat_free(struct convstat *cs)
{
	size_t i;

	if (!cs)
		return;
	for (i = 0; i < NR_LEAVES; i++)
		free(cs->leaf[i]);
	for (i = 0; i < cs->site_cap; i++) {
		if (cs->site_tab[i]) {
			free(cs->site_tab[i]->key);
			free(cs->site_tab[i]);
		}
	}
	free(cs->site_tab);
	free(cs->keybuf);
	free(cs->sorted);
	free(cs);
}
