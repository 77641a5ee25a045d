import os, sys
F = open('final/kernel/dma/swiotlb_cc.c').read()
H = open('final/kernel/dma/swiotlb_cc.h').read()

def rm(s, old, new='', cnt=1):
    assert s.count(old) == cnt, (old[:100], s.count(old))
    return s.replace(old, new)

def cut(s, start, end_incl):
    i = s.index(start); j = s.index(end_incl, i) + len(end_incl)
    return s[:i] + s[j:]

# ---- final -> S_shrink (no CMA) ----
c, h = F, H
c = rm(c, '''Chunks come from
 *   the page allocator or, when it has no free block of their size, from the
 *   default CMA area ("cma=", which must lie low enough for 32-bit devices).''',
 '''Chunks come from
 *   the page allocator.''')
c = rm(c, '#include <linux/cma.h>\n')
c = rm(c, '#include <linux/dma-map-ops.h>\n')
c = cut(c, '/*\n * Else from the default CMA area', 'EXPORT_SYMBOL_IF_KUNIT(swiotlb_cc_alloc_cma);\n\n')
c = rm(c, '''#ifdef CONFIG_DMA_CMA
	if (cma_release(dma_contiguous_default_area, page, 1UL << order))
		return;
#endif
''')
c = rm(c, ''' * dma-direct, a block out of reach makes the next lower zone be tried, and
 * CMA is the last resort.
 */''', ''' * dma-direct, a block out of reach makes the next lower zone be tried.
 */''')
c = rm(c, '''	if (!page) {
		page = swiotlb_cc_alloc_cma(order, gfp, limit);
		if (page && !swiotlb_cc_in_reach(page, order, limit)) {
			swiotlb_cc_free_pages(page, order);
			page = NULL;
		}
	}
''')
c = rm(c, '''	if (is_migrate_cma_page(virt_to_page(chunk->vaddr)))
		swiotlb_cc_stats.grow_cma++;
''')
c = rm(c, '''	unsigned long flags, freed = 0;
	int cma;

	spin_lock_irqsave(&swiotlb_cc_lock, flags);
	/* chunks of the CMA area first: other devices draw on it too */
	for (cma = 1; cma >= 0; cma--) {
		list_for_each_entry_safe(chunk, next, &swiotlb_cc_chunks, node) {
			if (freed >= nr_pages)
				break;
			if (chunk->boot || chunk->used ||
			    time_before(jiffies, chunk->idle_since + min_idle) ||
			    is_migrate_cma_page(virt_to_page(chunk->vaddr)) != cma)
				continue;
			list_move_tail(&chunk->node, &swiotlb_cc_released);
			swiotlb_cc_stats.chunks--;
			swiotlb_cc_stats.bytes -= swiotlb_cc_bytes(chunk);
			swiotlb_cc_stats.idle -= swiotlb_cc_bytes(chunk);
			swiotlb_cc_stats.shrink++;
			freed += 1UL << chunk->order;
		}
	}
	spin_unlock_irqrestore(&swiotlb_cc_lock, flags);
''', '''	unsigned long flags, freed = 0;

	spin_lock_irqsave(&swiotlb_cc_lock, flags);
	list_for_each_entry_safe(chunk, next, &swiotlb_cc_chunks, node) {
		if (freed >= nr_pages)
			break;
		if (chunk->boot || chunk->used ||
		    time_before(jiffies, chunk->idle_since + min_idle))
			continue;
		list_move_tail(&chunk->node, &swiotlb_cc_released);
		swiotlb_cc_stats.chunks--;
		swiotlb_cc_stats.bytes -= swiotlb_cc_bytes(chunk);
		swiotlb_cc_stats.idle -= swiotlb_cc_bytes(chunk);
		swiotlb_cc_stats.shrink++;
		freed += 1UL << chunk->order;
	}
	spin_unlock_irqrestore(&swiotlb_cc_lock, flags);
''')
c = rm(c, '\t\t{ "cc_grow_cma", &swiotlb_cc_stats.grow_cma },\n')
h = rm(h, ' * @grow_cma:\tChunks of @grow that came from the CMA area.\n')
h = rm(h, '\tunsigned long grow_cma;\n')
h = rm(h, '''struct page *swiotlb_cc_alloc_cma(unsigned int order, gfp_t gfp,
				  phys_addr_t limit);
''')
S_shrink = (c, h)

# ---- S_shrink -> S_shared (no shrinker) ----
c = rm(c, ''' * - Idle chunks are kept; under memory pressure, a shrinker gives back those
 *   that nobody has used for SWIOTLB_CC_IDLE.
''')
c = rm(c, '#include <linux/shrinker.h>\n')
c = rm(c, '''/* The shrinker leaves chunks alone that have been idle for less than this */
#define SWIOTLB_CC_IDLE		HZ

''')
c = rm(c, ' * @idle_since:\tjiffies when @used last dropped to zero.\n')
c = rm(c, '\tunsigned long idle_since;\n')
c = rm(c, '''static void swiotlb_cc_release_fn(struct work_struct *work);
static DECLARE_WORK(swiotlb_cc_release_work, swiotlb_cc_release_fn);
/* Chunks taken off swiotlb_cc_chunks, for swiotlb_cc_release_fn() */
static LIST_HEAD(swiotlb_cc_released);
/* Has a rescuer: reclaim counts the released chunks as freed */
static struct workqueue_struct *swiotlb_cc_release_wq;
''')
c = rm(c, '''	if (!chunk->used && !chunk->boot)
		swiotlb_cc_stats.idle -= swiotlb_cc_bytes(chunk);
''')
c = rm(c, '''	swiotlb_cc_stats.idle += swiotlb_cc_bytes(chunk);
	chunk->idle_since = jiffies;
''')
c = rm(c, '''		if (!chunk->used && !chunk->boot) {
			chunk->idle_since = jiffies;
			swiotlb_cc_stats.idle += swiotlb_cc_bytes(chunk);
		}
''')
c = cut(c, '/* Give back the chunks that swiotlb_cc_reclaim() took off the list */', '''	sc->nr_scanned = freed;
	return freed;
}

''')
c = cut(c, '/* The shrinker, and the workqueue with a rescuer that it needs */', 'subsys_initcall(swiotlb_cc_shrinker_init);\n')
c = rm(c, '\t\t{ "cc_idle", &swiotlb_cc_stats.idle },\n')
c = rm(c, '\t\t{ "cc_shrink", &swiotlb_cc_stats.shrink },\n')
c = rm(c, '''/* Wait for the chunks that atomic callers asked for, and those given back */''', '''/* Wait for the chunks that atomic callers asked for */''')
c = rm(c, '\tflush_work(&swiotlb_cc_release_work);\n')
h = rm(h, ' * @idle:\tSize of the chunks, but the boot chunk, that nobody uses.\n')
h = rm(h, '\tunsigned long idle;\n')
h = rm(h, ' * @shrink:\tChunks given back.\n')
h = rm(h, '\tunsigned long shrink;\n')
h = rm(h, '''unsigned long swiotlb_cc_reclaim(unsigned long nr_pages,
				 unsigned long min_idle);
''')
S_shared = (c, h)

# ---- S_shared -> S_core (no cc_shared pool) ----
c = rm(c, '#include <linux/cc_shared.h>\n')
c = cut(c, '/**\n * cc_shared_pool_alloc() - the shared pool behind cc_alloc_shared()', 'EXPORT_SYMBOL_GPL(cc_shared_pool_free);\n\n')
S_sharedless = (c, h)

# ---- kunit-helpers removed from each (they come with the KUnit patch) ----
def nokunit(pair):
    c, h = pair
    c = cut(c, '#if IS_ENABLED(CONFIG_SWIOTLB_CC_KUNIT_TEST)\n', '#endif\n\n')
    h = cut(h, '#if IS_ENABLED(CONFIG_SWIOTLB_CC_KUNIT_TEST)\n', '#endif\n\n')
    return c, h

out = {'core': nokunit(S_sharedless), 'shared': nokunit(S_shared),
       'shrink': nokunit(S_shrink), 'cma': nokunit((F, H)), 'final': (F, H)}
for k, (c, h) in out.items():
    os.makedirs(k, exist_ok=True)
    open(k + '/swiotlb_cc.c', 'w').write(c)
    open(k + '/swiotlb_cc.h', 'w').write(h)
    print(k, c.count('\n'), h.count('\n'))
