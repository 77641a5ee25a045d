// SPDX-License-Identifier: GPL-2.0
/*
 * convstat - summarise a private<->shared conversion log.
 *
 * usage: convstat [--json] [--map] [--help] [FILE|-]
 *
 * See Documentation/conversion-log.md for the input format and the figures.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convstat.h"

#define EXIT_USAGE	2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: convstat [--json] [--map] [--help] [FILE|-]\n"
		"\n"
		"Read a conversion log (Documentation/conversion-log.md) from FILE, or\n"
		"from standard input if FILE is missing or '-', and print its figures.\n"
		"\n"
		"  --json   print one JSON object instead of the text summary\n"
		"  --map    print the final state of every 2 MiB region any call touched,\n"
		"           one line each: 0x<base> <shared pages> <private|shared|mixed>\n"
		"  --help   show this help\n"
		"\n"
		"Exit status: 0 on success, 2 on a usage error or unreadable input,\n"
		"1 on any other error.\n");
}

/* Write @s as a JSON string literal. */
static void json_string(FILE *f, const char *s)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			/* The library only keeps printable ASCII; be safe anyway. */
			if (*p < 0x20 || *p >= 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void print_json(FILE *f, const struct convstat_stats *st,
		       const struct convstat_site *sites, size_t nr)
{
	size_t i;

	fprintf(f, "{\n");
	fprintf(f, "  \"calls\": %" PRIu64 ",\n", st->calls);
	fprintf(f, "  \"to_shared\": %" PRIu64 ",\n", st->to_shared);
	fprintf(f, "  \"to_private\": %" PRIu64 ",\n", st->to_private);
	fprintf(f, "  \"refused\": %" PRIu64 ",\n", st->refused);
	fprintf(f, "  \"pages\": %" PRIu64 ",\n", st->pages);
	fprintf(f, "  \"misaligned\": %" PRIu64 ",\n", st->misaligned);
	fprintf(f, "  \"mixed_2m_end\": %" PRIu64 ",\n", st->mixed_2m_end);
	fprintf(f, "  \"mixed_2m_peak\": %" PRIu64 ",\n", st->mixed_2m_peak);
	fprintf(f, "  \"shared_bytes_end\": %" PRIu64 ",\n", st->shared_bytes_end);
	fprintf(f, "  \"shared_bytes_peak\": %" PRIu64 ",\n", st->shared_bytes_peak);
	fprintf(f, "  \"tdx_calls\": %" PRIu64 ",\n", st->tdx_calls);
	fprintf(f, "  \"snp_exits\": %" PRIu64 ",\n", st->snp_exits);
	fprintf(f, "  \"malformed\": %" PRIu64 ",\n", st->malformed);
	fprintf(f, "  \"redundant_pages\": %" PRIu64 ",\n", st->redundant_pages);
	fprintf(f, "  \"split_2m_ever\": %" PRIu64 ",\n", st->split_2m_ever);
	fprintf(f, "  \"double_alloc_peak_bytes\": %" PRIu64 ",\n",
		st->double_alloc_peak_bytes);
	fprintf(f, "  \"sites\": [");
	for (i = 0; i < nr; i++) {
		fprintf(f, "%s\n    {\"site\": ", i ? "," : "");
		json_string(f, sites[i].site);
		fprintf(f, ", \"calls\": %" PRIu64 ", \"pages\": %" PRIu64 "}",
			sites[i].calls, sites[i].pages);
	}
	fprintf(f, "%s]\n}\n", nr ? "\n  " : "");
}

static void print_bytes(FILE *f, const char *name, uint64_t b)
{
	fprintf(f, "%-20s %" PRIu64 " (%.1f MiB)\n", name, b, (double)b / (1024.0 * 1024.0));
}

static void print_text(FILE *f, const char *name, const struct convstat_stats *st,
		       const struct convstat_site *sites, size_t nr)
{
	size_t i;

	fprintf(f, "conversion log: %s\n", name);
	fprintf(f, "%-20s %" PRIu64 "\n", "calls", st->calls);
	fprintf(f, "%-20s %" PRIu64 "\n", "  to_shared", st->to_shared);
	fprintf(f, "%-20s %" PRIu64 "\n", "  to_private", st->to_private);
	fprintf(f, "%-20s %" PRIu64 "\n", "refused", st->refused);
	fprintf(f, "%-20s %" PRIu64 "\n", "pages", st->pages);
	fprintf(f, "%-20s %" PRIu64 "\n", "redundant_pages", st->redundant_pages);
	fprintf(f, "%-20s %" PRIu64 "\n", "misaligned", st->misaligned);
	fprintf(f, "%-20s %" PRIu64 "\n", "mixed_2m_end", st->mixed_2m_end);
	fprintf(f, "%-20s %" PRIu64 "\n", "mixed_2m_peak", st->mixed_2m_peak);
	print_bytes(f, "shared_bytes_end", st->shared_bytes_end);
	print_bytes(f, "shared_bytes_peak", st->shared_bytes_peak);
	fprintf(f, "%-20s %" PRIu64 "\n", "tdx_calls", st->tdx_calls);
	fprintf(f, "%-20s %" PRIu64 "\n", "snp_exits", st->snp_exits);
	fprintf(f, "%-20s %" PRIu64 "\n", "malformed", st->malformed);
	fprintf(f, "\nhost cost (2 MiB host pages; Documentation/conversion-log.md):\n");
	fprintf(f, "%-24s %" PRIu64 "\n", "split_2m_ever", st->split_2m_ever);
	fprintf(f, "%-24s %" PRIu64 " (%.1f MiB)\n", "double_alloc_peak_bytes",
		st->double_alloc_peak_bytes,
		(double)st->double_alloc_peak_bytes / (1024.0 * 1024.0));

	fprintf(f, "\nmisaligned calls by site (%zu site%s):\n", nr, nr == 1 ? "" : "s");
	if (!nr) {
		fprintf(f, "  (none)\n");
		return;
	}
	fprintf(f, "%10s %12s  %s\n", "calls", "pages", "site");
	for (i = 0; i < nr; i++)
		fprintf(f, "%10" PRIu64 " %12" PRIu64 "  %s\n",
			sites[i].calls, sites[i].pages, sites[i].site);
}

static int print_region(const struct convstat_region *r, void *ctx)
{
	FILE *f = ctx;

	fprintf(f, "0x%" PRIx64 " %u %s\n", r->base, r->shared_pages,
		convstat_region_state(r->shared_pages));
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *name;
	bool json = false, map = false, opts_done = false;
	const struct convstat_site *sites;
	struct convstat_stats st;
	struct convstat *cs;
	char *line = NULL;
	size_t cap = 0, nr;
	ssize_t len;
	FILE *in;
	int i, ret = EXIT_SUCCESS;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!opts_done && !strcmp(a, "--")) {
			opts_done = true;
		} else if (!opts_done && !strcmp(a, "--json")) {
			json = true;
		} else if (!opts_done && !strcmp(a, "--map")) {
			map = true;
		} else if (!opts_done && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			usage(stdout);
			return EXIT_SUCCESS;
		} else if (!opts_done && a[0] == '-' && a[1]) {
			fprintf(stderr, "convstat: unknown option '%s'\n", a);
			usage(stderr);
			return EXIT_USAGE;
		} else if (path) {
			fprintf(stderr, "convstat: more than one input file given\n");
			usage(stderr);
			return EXIT_USAGE;
		} else {
			path = a;
		}
	}
	if (json && map) {
		fprintf(stderr, "convstat: --json and --map cannot be combined\n");
		usage(stderr);
		return EXIT_USAGE;
	}

	if (!path || !strcmp(path, "-")) {
		in = stdin;
		name = "(stdin)";
	} else {
		in = fopen(path, "r");
		if (!in) {
			fprintf(stderr, "convstat: cannot open '%s': %s\n", path, strerror(errno));
			return EXIT_USAGE;
		}
		name = path;
	}

	cs = convstat_init();
	if (!cs) {
		fprintf(stderr, "convstat: out of memory\n");
		ret = EXIT_FAILURE;
		goto out_close;
	}

	errno = 0;
	while ((len = getline(&line, &cap, in)) >= 0) {
		if (convstat_feed_line(cs, line, (size_t)len) < 0) {
			fprintf(stderr, "convstat: out of memory\n");
			ret = EXIT_FAILURE;
			goto out_free;
		}
	}
	if (ferror(in)) {
		fprintf(stderr, "convstat: cannot read '%s': %s\n", name,
			strerror(errno ? errno : EIO));
		ret = EXIT_USAGE;
		goto out_free;
	}
	if (!feof(in)) {
		/* getline() failed without a read error: out of memory. */
		fprintf(stderr, "convstat: out of memory\n");
		ret = EXIT_FAILURE;
		goto out_free;
	}
	if (convstat_finish(cs)) {
		fprintf(stderr, "convstat: out of memory\n");
		ret = EXIT_FAILURE;
		goto out_free;
	}

	convstat_get_stats(cs, &st);
	sites = convstat_sites(cs, &nr);
	if (map) {
		if (convstat_for_each_region(cs, CONVSTAT_REGIONS_TOUCHED, print_region,
					     stdout) < 0) {
			fprintf(stderr, "convstat: out of memory\n");
			ret = EXIT_FAILURE;
			goto out_free;
		}
	} else if (json)
		print_json(stdout, &st, sites, nr);
	else
		print_text(stdout, name, &st, sites, nr);

	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "convstat: write error: %s\n", strerror(errno));
		ret = EXIT_FAILURE;
	}

out_free:
	free(line);
	convstat_free(cs);
out_close:
	if (in != stdin)
		fclose(in);
	return ret;
}
