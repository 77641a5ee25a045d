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
#define SITE_HASH_MIN	64
#define REG_HASH_MIN	64
#define EVER_HASH_MIN	64
#define REG_TOMB	UINT32_MAX	/* deleted table entry */
/* A call covering this many whole 2 MiB regions or more makes a run. */
#define RUN_MIN		16
/* Runs a record may add: a new one, and two cuts per region it takes out. */
#define EXT_RESERVE	(2 * RUN_MIN + 4)
#define EXT_SPARE_MAX	64
#define BITS_RESERVE	2		/* first and last region of a call */
#define BITS_SPARE_MAX	64

/*
 * The map.  A region no accepted call touched is private and stored
 * nowhere.  A region touched by a call covering fewer than RUN_MIN whole
 * regions is an entry in an open-addressing hash table keyed by region
 * number: its shared-page count and, while it is mixed, its 512-bit bitmap.
 * Whole regions covered by a call of RUN_MIN or more are one run, whatever
 * their number, in a treap (a binary search tree balanced by random
 * priorities) ordered by first region; adjacent runs in one state merge.  A
 * region is in at most one of the two.  So memory grows with the number of
 * records, never with the address space they cover, and a call costs O(1)
 * expected, plus for a run O(log runs) amortized and the removal of the
 * table entries it covers (probing each region covered or scanning the
 * table, whichever is shorter).
 */
struct cs_reg {
	uint64_t *bits;		/* bit set = 4 KiB page shared; only if mixed */
	uint32_t key;		/* region number + 1; 0 free, REG_TOMB deleted */
	uint16_t shared;	/* shared pages, 0 .. 512 */
	bool ever;		/* in the set of ever-mixed regions */
};

struct cs_ext {
	uint64_t start, end;	/* region numbers: [start, end) */
	struct cs_ext *l, *r;	/* treap children; free list: r */
	uint32_t prio;
	unsigned int shared;	/* per region: 0 or 512 */
};

/* What the regions taken out of the map held. */
struct cs_old {
	uint64_t shared;	/* shared pages */
	uint64_t mixed;		/* mixed regions */
	uint64_t mixed_shared;	/* shared pages in mixed regions */
};

struct cs_site {
	char *key;
	size_t len;
	uint64_t hash;
	uint64_t calls;
	uint64_t pages;
};

struct convstat {
	struct convstat_stats st;

	/* The map: see struct cs_reg and struct cs_ext. */
	struct cs_reg *reg;
	size_t reg_cap;		/* power of two */
	size_t reg_nr;		/* live entries */
	size_t reg_used;	/* live and deleted entries */
	struct cs_ext *root;
	struct cs_ext *spare;	/* free list */
	unsigned int nr_spare;
	uint64_t *bits_spare[BITS_SPARE_MAX];
	unsigned int nr_bits_spare;
	uint64_t prio_seed;
	uint64_t shared_pages;		/* shared pages now */
	uint64_t mixed_shared;		/* shared pages in mixed regions now */

	/* Regions ever mixed: open-addressing set of region number + 1. */
	uint64_t *ever;
	size_t ever_cap;		/* power of two */
	size_t ever_nr;

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

	/* 0x<gpa>: 4 KiB aligned and below CONVSTAT_ADDR_LIMIT (2^52) */
	if (parse_hex(&p, end, CONVSTAT_ADDR_LIMIT, &gpa))
		return -EINVAL;
	if (gpa & (CONVSTAT_PAGE_SIZE - 1))
		return -EINVAL;
	if (p >= end || *p++ != ' ')
		return -EINVAL;

	/* <pages>: > 0, and the range must end at or below CONVSTAT_ADDR_LIMIT */
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

/* splitmix64 finaliser: hash of a region number. */
static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * Everything applying a record may allocate is reserved before, so that it
 * cannot fail half-way: run extents and bitmaps come from small free lists,
 * the hash tables have room for the entries a record can add.
 */
static int ext_reserve(struct convstat *cs)
{
	while (cs->nr_spare < EXT_RESERVE) {
		struct cs_ext *e = malloc(sizeof(*e));

		if (!e)
			return -ENOMEM;
		e->r = cs->spare;
		cs->spare = e;
		cs->nr_spare++;
	}
	return 0;
}

static int bits_reserve(struct convstat *cs)
{
	while (cs->nr_bits_spare < BITS_RESERVE) {
		uint64_t *b = malloc(REGION_WORDS * sizeof(*b));

		if (!b)
			return -ENOMEM;
		cs->bits_spare[cs->nr_bits_spare++] = b;
	}
	return 0;
}

static void bits_put(struct convstat *cs, uint64_t *b)
{
	if (!b)
		return;
	if (cs->nr_bits_spare < BITS_SPARE_MAX)
		cs->bits_spare[cs->nr_bits_spare++] = b;
	else
		free(b);
}

static struct cs_ext *ext_take(struct convstat *cs)
{
	struct cs_ext *e = cs->spare;

	cs->spare = e->r;
	cs->nr_spare--;
	e->l = NULL;
	e->r = NULL;
	/* xorshift64: treap priorities */
	cs->prio_seed ^= cs->prio_seed << 13;
	cs->prio_seed ^= cs->prio_seed >> 7;
	cs->prio_seed ^= cs->prio_seed << 17;
	e->prio = (uint32_t)(cs->prio_seed >> 32);
	return e;
}

static void ext_put(struct convstat *cs, struct cs_ext *e)
{
	if (cs->nr_spare >= EXT_SPARE_MAX) {
		free(e);
		return;
	}
	e->r = cs->spare;
	cs->spare = e;
	cs->nr_spare++;
}

/* @a gets the runs starting before @key, @b the others. */
static void ext_split(struct cs_ext *t, uint64_t key, struct cs_ext **a,
		      struct cs_ext **b)
{
	if (!t) {
		*a = NULL;
		*b = NULL;
	} else if (t->start < key) {
		ext_split(t->r, key, &t->r, b);
		*a = t;
	} else {
		ext_split(t->l, key, a, &t->l);
		*b = t;
	}
}

/* Every run of @a starts before every run of @b. */
static struct cs_ext *ext_merge(struct cs_ext *a, struct cs_ext *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->r = ext_merge(a->r, b);
		return a;
	}
	b->l = ext_merge(a, b->l);
	return b;
}

static struct cs_ext *ext_insert(struct cs_ext *t, struct cs_ext *e)
{
	if (!t)
		return e;
	if (e->prio > t->prio) {
		ext_split(t, e->start, &e->l, &e->r);
		return e;
	}
	if (e->start < t->start)
		t->l = ext_insert(t->l, e);
	else
		t->r = ext_insert(t->r, e);
	return t;
}

/* The run holding region @x, or NULL. */
static struct cs_ext *ext_find(struct cs_ext *t, uint64_t x)
{
	struct cs_ext *best = NULL;

	while (t) {
		if (t->start <= x) {
			best = t;
			t = t->r;
		} else {
			t = t->l;
		}
	}
	return best && x < best->end ? best : NULL;
}

static struct cs_ext *ext_min(struct cs_ext *t)
{
	while (t && t->l)
		t = t->l;
	return t;
}

static struct cs_ext *ext_max(struct cs_ext *t)
{
	while (t && t->r)
		t = t->r;
	return t;
}

/* Make region @x the start of a run if it lies inside one. */
static void ext_cut(struct convstat *cs, uint64_t x)
{
	struct cs_ext *n = ext_find(cs->root, x), *m;

	if (!n || n->start == x)
		return;
	m = ext_take(cs);
	m->start = x;
	m->end = n->end;
	m->shared = n->shared;
	n->end = x;
	cs->root = ext_insert(cs->root, m);
}

/* Add what the runs of @t held to @old, and release them. */
static void ext_drop(struct convstat *cs, struct cs_ext *t, struct cs_old *old)
{
	while (t) {
		struct cs_ext *r = t->r;

		ext_drop(cs, t->l, old);
		old->shared += (t->end - t->start) * t->shared;
		ext_put(cs, t);
		t = r;
	}
}

/*
 * Take regions [ra, rb) out of the runs, adding what they held to @old.
 * Returns the runs before and after them in *@l and *@r (the caller merges
 * them back into cs->root).
 */
static void ext_remove(struct convstat *cs, uint64_t ra, uint64_t rb,
		       struct cs_old *old, struct cs_ext **l, struct cs_ext **r)
{
	struct cs_ext *m;

	ext_cut(cs, ra);
	ext_cut(cs, rb);
	ext_split(cs->root, ra, l, &m);
	ext_split(m, rb, &m, r);
	cs->root = NULL;
	ext_drop(cs, m, old);
}

/*
 * Make regions [e->start, e->end) the run @e, adding what the runs there
 * held to @old.  Adjacent runs in the same state merge with it.
 */
static void ext_replace(struct convstat *cs, struct cs_ext *e, struct cs_old *old)
{
	uint64_t ra = e->start, rb = e->end;
	struct cs_ext *l, *r, *t;

	ext_remove(cs, ra, rb, old, &l, &r);
	t = ext_max(l);
	if (t && t->end == ra && t->shared == e->shared) {
		ext_split(l, t->start, &l, &t);
		e->start = t->start;
		ext_put(cs, t);
	}
	t = ext_min(r);
	if (t && t->start == rb && t->shared == e->shared) {
		ext_split(r, rb + 1, &t, &r);
		e->end = t->end;
		ext_put(cs, t);
	}
	cs->root = ext_merge(ext_merge(l, e), r);
}

/* Room for @need more entries in the region table, at load <= 1/2. */
static int reg_reserve(struct convstat *cs, size_t need)
{
	size_t cap = REG_HASH_MIN, i, j;
	struct cs_reg *tab;

	if ((cs->reg_used + need) * 2 <= cs->reg_cap)
		return 0;
	while (cap < (cs->reg_nr + need) * 4)
		cap *= 2;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (i = 0; i < cs->reg_cap; i++) {
		struct cs_reg *e = &cs->reg[i];

		if (!e->key || e->key == REG_TOMB)
			continue;
		for (j = hash_u64(e->key) & (cap - 1); tab[j].key; j = (j + 1) & (cap - 1))
			;
		tab[j] = *e;
	}
	free(cs->reg);
	cs->reg = tab;
	cs->reg_cap = cap;
	cs->reg_used = cs->reg_nr;
	return 0;
}

static struct cs_reg *reg_lookup(struct convstat *cs, uint64_t reg)
{
	uint64_t k = reg + 1;
	size_t mask = cs->reg_cap - 1, j;

	if (!cs->reg_nr)
		return NULL;
	for (j = hash_u64(k) & mask; cs->reg[j].key; j = (j + 1) & mask)
		if (cs->reg[j].key == k)
			return &cs->reg[j];
	return NULL;
}

/*
 * The entry of region @reg.  If there is none, one is made (room was
 * reserved), taking the region out of its run if it is in one.
 */
static struct cs_reg *reg_get(struct convstat *cs, uint64_t reg)
{
	struct cs_reg *e = reg_lookup(cs, reg);
	unsigned int shared = 0;
	struct cs_ext *run, *l, *r;
	uint64_t k = reg + 1;
	size_t mask, j;

	if (e)
		return e;
	run = ext_find(cs->root, reg);
	if (run) {
		struct cs_old old = { 0 };

		shared = run->shared;
		ext_remove(cs, reg, reg + 1, &old, &l, &r);
		cs->root = ext_merge(l, r);
	}
	/* Not present: the first free or deleted slot will do. */
	mask = cs->reg_cap - 1;
	for (j = hash_u64(k) & mask; cs->reg[j].key && cs->reg[j].key != REG_TOMB;
	     j = (j + 1) & mask)
		;
	if (!cs->reg[j].key)
		cs->reg_used++;
	cs->reg_nr++;
	e = &cs->reg[j];
	e->key = (uint32_t)k;
	e->bits = NULL;
	e->shared = shared;
	e->ever = false;
	return e;
}

/* Delete entry @e, adding what it held to @old. */
static void reg_drop(struct convstat *cs, struct cs_reg *e, struct cs_old *old)
{
	old->shared += e->shared;
	if (is_mixed(e->shared)) {
		old->mixed++;
		old->mixed_shared += e->shared;
	}
	bits_put(cs, e->bits);
	e->bits = NULL;
	e->key = REG_TOMB;
	cs->reg_nr--;
}

/* Make room in the set of ever-mixed regions for the two a record can add. */
static int ever_reserve(struct convstat *cs)
{
	size_t cap, i, j;
	uint64_t *tab;

	if ((cs->ever_nr + 2) * 2 <= cs->ever_cap)
		return 0;
	cap = cs->ever_cap ? cs->ever_cap * 2 : EVER_HASH_MIN;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (i = 0; i < cs->ever_cap; i++) {
		uint64_t k = cs->ever[i];

		if (!k)
			continue;
		for (j = hash_u64(k) & (cap - 1); tab[j]; j = (j + 1) & (cap - 1))
			;
		tab[j] = k;
	}
	free(cs->ever);
	cs->ever = tab;
	cs->ever_cap = cap;
	return 0;
}

/* Remember that region @reg was mixed (stored as @reg + 1; 0 is empty). */
static void ever_add(struct convstat *cs, uint64_t reg)
{
	uint64_t k = reg + 1;
	size_t j;

	for (j = hash_u64(k) & (cs->ever_cap - 1); cs->ever[j];
	     j = (j + 1) & (cs->ever_cap - 1))
		if (cs->ever[j] == k)
			return;
	cs->ever[j] = k;
	cs->ever_nr++;
}

/* Region @e went from @before to @after shared pages. */
static void reg_account(struct convstat *cs, struct cs_reg *e, unsigned int before,
			unsigned int after)
{
	cs->shared_pages = cs->shared_pages - before + after;
	if (is_mixed(before)) {
		cs->st.mixed_2m_end--;
		cs->mixed_shared -= before;
	}
	if (is_mixed(after)) {
		cs->st.mixed_2m_end++;
		cs->mixed_shared += after;
		if (!e->ever)
			ever_add(cs, e->key - 1);
		e->ever = true;
	}
}

/*
 * Set pages [first, first + n) of bitmap @bits to @shared; *@count gets
 * the number of shared pages.  Returns the number of pages that already
 * were in that state.
 */
static unsigned int bits_apply(uint64_t *bits, unsigned int first, unsigned int n,
			       bool shared, unsigned int *count)
{
	unsigned int w, lastw, redundant = 0;

	lastw = (first + n - 1) / 64;
	for (w = first / 64; w <= lastw; w++) {
		unsigned int lo = w == first / 64 ? first % 64 : 0;
		unsigned int hi = w == lastw ? (first + n - 1) % 64 : 63;
		uint64_t mask = (~0ULL >> (63 - hi)) & (~0ULL << lo);
		uint64_t old = bits[w];

		if (shared) {
			redundant += (unsigned int)popcount(old & mask);
			bits[w] = old | mask;
		} else {
			redundant += (unsigned int)popcount(~old & mask);
			bits[w] = old & ~mask;
		}
	}
	*count = 0;
	for (w = 0; w < REGION_WORDS; w++)
		*count += (unsigned int)popcount(bits[w]);
	return redundant;
}

/* Pages [first, first + n) of region @reg, 0 < n < 512. */
static void map_region(struct convstat *cs, uint64_t reg, unsigned int first,
		       unsigned int n, bool shared)
{
	struct cs_reg *e = reg_get(cs, reg);
	unsigned int before = e->shared, count;

	if (!e->bits) {
		/* uniform: all private or all shared */
		e->bits = cs->bits_spare[--cs->nr_bits_spare];
		memset(e->bits, before ? 0xff : 0, REGION_WORDS * sizeof(*e->bits));
	}
	cs->st.redundant_pages += bits_apply(e->bits, first, n, shared, &count);
	e->shared = (uint16_t)count;
	if (!is_mixed(e->shared)) {
		bits_put(cs, e->bits);
		e->bits = NULL;
	}
	reg_account(cs, e, before, e->shared);
}

/* Whole regions [ra, rb), fewer than RUN_MIN: one table entry each. */
static void map_regions(struct convstat *cs, uint64_t ra, uint64_t rb, bool shared)
{
	unsigned int to = shared ? CONVSTAT_REGION_PAGES : 0;
	uint64_t reg;

	for (reg = ra; reg < rb; reg++) {
		struct cs_reg *e = reg_get(cs, reg);
		unsigned int before = e->shared;

		cs->st.redundant_pages += shared ? before : CONVSTAT_REGION_PAGES - before;
		e->shared = (uint16_t)to;
		bits_put(cs, e->bits);
		e->bits = NULL;
		reg_account(cs, e, before, to);
	}
}

/* Whole regions [ra, rb), RUN_MIN or more: one run. */
static void map_run(struct convstat *cs, uint64_t ra, uint64_t rb, bool shared)
{
	uint64_t pages = (rb - ra) * CONVSTAT_REGION_PAGES, reg;
	struct cs_old old = { 0 };
	struct cs_ext *e;
	size_t j;

	/* Table entries in the range: probe each region or scan the table. */
	if (cs->reg_nr && rb - ra <= cs->reg_cap) {
		for (reg = ra; reg < rb; reg++) {
			struct cs_reg *x = reg_lookup(cs, reg);

			if (x)
				reg_drop(cs, x, &old);
		}
	} else if (cs->reg_nr) {
		for (j = 0; j < cs->reg_cap; j++) {
			struct cs_reg *x = &cs->reg[j];

			if (x->key && x->key != REG_TOMB &&
			    x->key - 1 >= ra && x->key - 1 < rb)
				reg_drop(cs, x, &old);
		}
	}

	e = ext_take(cs);
	e->start = ra;
	e->end = rb;
	e->shared = shared ? CONVSTAT_REGION_PAGES : 0;
	ext_replace(cs, e, &old);
	cs->st.redundant_pages += shared ? old.shared : pages - old.shared;
	cs->shared_pages = cs->shared_pages - old.shared + (shared ? pages : 0);
	cs->st.mixed_2m_end -= old.mixed;
	cs->mixed_shared -= old.mixed_shared;
}

/* Reserve what map_apply() may allocate. */
static int map_reserve(struct convstat *cs)
{
	if (ext_reserve(cs) || bits_reserve(cs) || ever_reserve(cs) ||
	    reg_reserve(cs, RUN_MIN + 1))
		return -ENOMEM;
	return 0;
}

/*
 * Apply an accepted call to the map: a partial first region, whole
 * regions, a partial last region.  map_reserve() must have succeeded: this
 * cannot fail.
 */
static void map_apply(struct convstat *cs, uint64_t gpa, uint64_t pages, bool shared)
{
	uint64_t pfn = gpa >> CONVSTAT_PAGE_SHIFT, end = pfn + pages;
	uint64_t ra = (pfn + CONVSTAT_REGION_PAGES - 1) / CONVSTAT_REGION_PAGES;
	uint64_t rb = end / CONVSTAT_REGION_PAGES;
	unsigned int head = pfn % CONVSTAT_REGION_PAGES;
	unsigned int tail = end % CONVSTAT_REGION_PAGES;
	struct convstat_stats *st = &cs->st;

	if (ra > rb) {
		/* inside one region, touching neither of its ends */
		map_region(cs, pfn / CONVSTAT_REGION_PAGES, head, (unsigned int)pages, shared);
	} else {
		if (head)
			map_region(cs, ra - 1, head, CONVSTAT_REGION_PAGES - head, shared);
		if (rb - ra >= RUN_MIN)
			map_run(cs, ra, rb, shared);
		else
			map_regions(cs, ra, rb, shared);
		if (tail)
			map_region(cs, rb, 0, tail, shared);
	}

	st->shared_bytes_end = cs->shared_pages << CONVSTAT_PAGE_SHIFT;
	st->double_alloc_end_bytes = cs->mixed_shared << CONVSTAT_PAGE_SHIFT;
	st->split_2m_ever = cs->ever_nr;
	if (st->mixed_2m_end > st->mixed_2m_peak)
		st->mixed_2m_peak = st->mixed_2m_end;
	if (st->shared_bytes_end > st->shared_bytes_peak)
		st->shared_bytes_peak = st->shared_bytes_end;
	if (st->double_alloc_end_bytes > st->double_alloc_peak_bytes)
		st->double_alloc_peak_bytes = st->double_alloc_end_bytes;
}

/* ---- Public API ---- */

struct convstat *convstat_init(void)
{
	struct convstat *cs = calloc(1, sizeof(*cs));

	if (cs)
		cs->prio_seed = 0x9e3779b97f4a7c15ULL;
	return cs;
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
	if (map_reserve(cs))
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

struct walk {
	struct convstat_region *a;	/* table entries, by address */
	size_t n, i;
	unsigned int flags;
	convstat_region_fn fn;
	void *ctx;
};

static bool wanted(unsigned int flags, unsigned int shared)
{
	/* Every region in the map was touched. */
	return (flags & CONVSTAT_REGIONS_TOUCHED) ||
	       ((flags & CONVSTAT_REGIONS_SHARED) && shared);
}

/* Pass the table entries below @limit. */
static int walk_table(struct walk *w, uint64_t limit)
{
	int ret;

	for (; w->i < w->n && w->a[w->i].base < limit; w->i++) {
		ret = w->fn(&w->a[w->i], w->ctx);
		if (ret) {
			w->i++;
			return ret;
		}
	}
	return 0;
}

/* In-order walk of the runs, with the table entries in between. */
static int walk_runs(const struct cs_ext *t, struct walk *w)
{
	struct convstat_region cr;
	uint64_t i;
	int ret;

	for (; t; t = t->r) {
		ret = walk_runs(t->l, w);
		if (ret)
			return ret;
		ret = walk_table(w, t->start << CONVSTAT_REGION_SHIFT);
		if (ret)
			return ret;
		if (!wanted(w->flags, t->shared))
			continue;
		cr.shared_pages = t->shared;
		for (i = t->start; i < t->end; i++) {
			cr.base = i << CONVSTAT_REGION_SHIFT;
			ret = w->fn(&cr, w->ctx);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int region_cmp(const void *a, const void *b)
{
	const struct convstat_region *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

int convstat_for_each_region(const struct convstat *cs, unsigned int flags,
			     convstat_region_fn fn, void *ctx)
{
	struct walk w = { .flags = flags, .fn = fn, .ctx = ctx };
	size_t j;
	int ret;

	if (cs->reg_nr) {
		w.a = malloc(cs->reg_nr * sizeof(*w.a));
		if (!w.a)
			return -ENOMEM;
	}
	for (j = 0; j < cs->reg_cap; j++) {
		const struct cs_reg *e = &cs->reg[j];

		if (!e->key || e->key == REG_TOMB || !wanted(flags, e->shared))
			continue;
		w.a[w.n].base = (uint64_t)(e->key - 1) << CONVSTAT_REGION_SHIFT;
		w.a[w.n].shared_pages = e->shared;
		w.n++;
	}
	if (w.n)
		qsort(w.a, w.n, sizeof(*w.a), region_cmp);
	ret = walk_runs(cs->root, &w);
	if (!ret)
		ret = walk_table(&w, UINT64_MAX);
	free(w.a);
	return ret;
}

static void ext_free(struct cs_ext *t)
{
	while (t) {
		struct cs_ext *r = t->r;

		ext_free(t->l);
		free(t);
		t = r;
	}
}

void convstat_free(struct convstat *cs)
{
	size_t i;

	if (!cs)
		return;
	for (i = 0; i < cs->reg_cap; i++)
		if (cs->reg[i].key != REG_TOMB)
			free(cs->reg[i].bits);
	free(cs->reg);
	ext_free(cs->root);
	for (i = 0; i < cs->nr_bits_spare; i++)
		free(cs->bits_spare[i]);
	while (cs->spare) {
		struct cs_ext *e = cs->spare;

		cs->spare = e->r;
		free(e);
	}
	free(cs->ever);
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
