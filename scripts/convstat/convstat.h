/* SPDX-License-Identifier: GPL-2.0 */
/*
 * convstat - statistics over a private<->shared conversion log.
 *
 * The input format and every figure are specified in
 * Documentation/conversion-log.md.  The library is fed one line at a time
 * and keeps a 4 KiB-granular shared/private map of guest-physical memory
 * (all private at start) below CONVSTAT_ADDR_LIMIT (2^52, the architectural
 * maximum of x86-64 physical addresses).  The map is sparse: a 2 MiB region
 * is an entry of a hash table, with a 512-bit bitmap only while it is
 * mixed, and a run of whole regions converted by one large call is a single
 * extent whatever its size; memory grows with the number of records, never
 * with the address space they cover, and a record costs O(1) expected for
 * small calls (see convstat.c for large ones), never O(pages).
 *
 * Usage:
 *	struct convstat *cs = convstat_init();
 *	while (read a line)
 *		convstat_feed_line(cs, line, len);
 *	convstat_finish(cs);
 *	convstat_get_stats(cs, &st);
 *	sites = convstat_sites(cs, &nr);
 *	convstat_for_each_region(cs, CONVSTAT_REGIONS_TOUCHED, fn, ctx);
 *	convstat_free(cs);
 *
 * The library has no global state; separate instances are independent.
 */
#ifndef CONVSTAT_H
#define CONVSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONVSTAT_PAGE_SHIFT	12
#define CONVSTAT_PAGE_SIZE	(1ULL << CONVSTAT_PAGE_SHIFT)
#define CONVSTAT_REGION_SHIFT	21
#define CONVSTAT_REGION_SIZE	(1ULL << CONVSTAT_REGION_SHIFT)
#define CONVSTAT_REGION_PAGES	(1U << (CONVSTAT_REGION_SHIFT - CONVSTAT_PAGE_SHIFT))
/* x86-64 MAXPHYADDR is at most 52 (TDX and SNP guests included). */
#define CONVSTAT_ADDR_BITS	52
#define CONVSTAT_ADDR_LIMIT	(1ULL << CONVSTAT_ADDR_BITS)
/* The largest page count that can fit below CONVSTAT_ADDR_LIMIT. */
#define CONVSTAT_MAX_PAGES	(CONVSTAT_ADDR_LIMIT >> CONVSTAT_PAGE_SHIFT)
/* SNP-like model: Page State Change entries per #VC/GHCB exit. */
#define CONVSTAT_SNP_ENTRIES_PER_EXIT	253

/* What convstat_feed_line() made of a line (non-negative return values). */
enum convstat_line_kind {
	CONVSTAT_LINE_RECORD,		/* accepted record: map updated */
	CONVSTAT_LINE_REFUSED,		/* well-formed s/p record: counted only */
	CONVSTAT_LINE_COMMENT,		/* starts with '#' */
	CONVSTAT_LINE_BLANK,		/* empty or white space only */
	CONVSTAT_LINE_MALFORMED,	/* counted in stats.malformed */
};

/*
 * All figures.  Everything except @refused, @malformed and the line counters
 * is computed over accepted (upper-case S/P) records only.
 */
struct convstat_stats {
	uint64_t calls;			/* accepted records */
	uint64_t to_shared;		/* accepted S records */
	uint64_t to_private;		/* accepted P records */
	uint64_t refused;		/* well-formed s/p records */
	uint64_t pages;			/* 4 KiB pages over accepted records */
	uint64_t misaligned;		/* gpa or size not a multiple of 2 MiB */
	uint64_t mixed_2m_end;		/* mixed 2 MiB regions now */
	uint64_t mixed_2m_peak;		/* max of the above after any call */
	uint64_t shared_bytes_end;
	uint64_t shared_bytes_peak;
	uint64_t tdx_calls;		/* one MapGPA per accepted call */
	uint64_t snp_exits;		/* sum of ceil(entries / 253) per call */
	uint64_t malformed;
	uint64_t redundant_pages;	/* pages already in the target state */
	/*
	 * Host cost (Documentation/conversion-log.md): 2 MiB regions mixed
	 * after any call, each counted once (a TDX host cannot re-promote a
	 * split page); peak over calls of the shared bytes in mixed regions
	 * (backed twice with hugetlb-backed guest_memfd).
	 */
	uint64_t split_2m_ever;
	uint64_t double_alloc_peak_bytes;
	/* Diagnostics; not part of the JSON figures. */
	uint64_t double_alloc_end_bytes;	/* the above, now */
	uint64_t lines;
	uint64_t comments;
	uint64_t blank;
};

/* One row of the per-site table of misaligned accepted calls. */
struct convstat_site {
	const char *site;	/* "S sym<sym<sym", NUL terminated */
	uint64_t calls;
	uint64_t pages;
};

/* One 2 MiB region, as passed to a convstat_region_fn. */
struct convstat_region {
	uint64_t base;			/* guest-physical base address */
	unsigned int shared_pages;	/* 0 .. CONVSTAT_REGION_PAGES */
};

/* A parsed record (see convstat_parse_line()). */
struct convstat_record {
	char dir;		/* 'S' or 'P' (upper-cased) */
	bool refused;		/* the letter was lower case */
	uint64_t gpa;
	uint64_t pages;
	const char *site;	/* points into the line, not NUL terminated */
	size_t site_len;
};

/* Flags for convstat_for_each_region(). */
#define CONVSTAT_REGIONS_SHARED		0x1	/* regions with >= 1 shared page */
#define CONVSTAT_REGIONS_TOUCHED	0x2	/* regions any accepted call hit */

/* Return non-zero to stop the iteration; that value is then returned. */
typedef int (*convstat_region_fn)(const struct convstat_region *r, void *ctx);

struct convstat;

/* Returns NULL if out of memory. */
struct convstat *convstat_init(void);

/*
 * Feed one line, with or without its trailing "\n" / "\r\n".  @line need not
 * be NUL terminated; an embedded NUL makes the line malformed.  Returns an
 * enum convstat_line_kind, or -ENOMEM (nothing was changed; the line may be
 * fed again) or -EINVAL (called after convstat_finish()).
 */
int convstat_feed_line(struct convstat *cs, const char *line, size_t len);

/*
 * End of input: sorts the site table.  No more lines may be fed afterwards.
 * Returns 0 or -ENOMEM (then it may be called again).
 */
int convstat_finish(struct convstat *cs);

/* The figures so far (valid at any time, final after convstat_finish()). */
void convstat_get_stats(const struct convstat *cs, struct convstat_stats *st);

/*
 * The site table sorted by calls (descending), then pages (descending), then
 * key.  Only available after convstat_finish(); before it returns NULL and
 * *nr = 0.  The array belongs to @cs.
 */
const struct convstat_site *convstat_sites(const struct convstat *cs, size_t *nr);

/*
 * Call @fn for every 2 MiB region selected by @flags (a region is passed if
 * it matches any of the flags), in ascending address order.  Returns 0,
 * the first non-zero value @fn returned, or -ENOMEM (before any call of
 * @fn) if the sorted list of regions could not be allocated.
 */
int convstat_for_each_region(const struct convstat *cs, unsigned int flags,
			     convstat_region_fn fn, void *ctx);

void convstat_free(struct convstat *cs);

/* ---- Helpers, exported for the tool and the unit tests. ---- */

/*
 * Parse a record line (no comment/blank handling).  Returns 0 and fills @rec,
 * or -EINVAL if the line is malformed.
 */
int convstat_parse_line(const char *line, size_t len, struct convstat_record *rec);

/* Is the call misaligned (gpa or size not a multiple of 2 MiB)? */
bool convstat_is_misaligned(uint64_t gpa, uint64_t pages);

/* SNP-like model: PSC entries needed for one call. */
uint64_t convstat_snp_entries(uint64_t gpa, uint64_t pages);

/* SNP-like model: exits needed for one call. */
uint64_t convstat_snp_exits(uint64_t gpa, uint64_t pages);

/*
 * Build the site key: @dir, a space, then @site with every "+0x<hex>/0x<hex>"
 * (or bare "+0x<hex>") offset removed.  @out must hold @len + 3 bytes; the
 * result is NUL terminated.  Returns the key length.
 */
size_t convstat_site_key(char dir, const char *site, size_t len, char *out);

/* "private", "shared" or "mixed" for a region's shared-page count. */
const char *convstat_region_state(unsigned int shared_pages);

#endif /* CONVSTAT_H */
