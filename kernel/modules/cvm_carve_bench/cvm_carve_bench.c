// SPDX-License-Identifier: GPL-2.0
/*
 * cvm_carve_bench: test-only benchmark of two ways to carve page-granular,
 * order-aligned allocations out of 2 MiB chunks (cvm-dma-align,
 * scripts/bench/carve.sh; never upstream).  It measures the data structure
 * that a kernel/dma maintainer would choose between for the shared memory
 * of CVM guests, without conversions (the chunks are ordinary pages):
 *
 *   bitmap    the series' scheme (kernel/dma/swiotlb_cc.c): a list of
 *             chunks under one irq-safe spinlock, per chunk a bitmap of
 *             allocated pages and one of allocation starts, allocation with
 *             bitmap_find_next_zero_area_off() aligned to the order of the
 *             size, a free checked against the starts bitmap
 *   genalloc  lib/genalloc.c as kernel/dma/pool.c uses it: one gen_pool of
 *             page granularity, a chunk per gen_pool_add(), allocation with
 *             gen_pool_first_fit_order_align (lock-free cmpxchg on the
 *             bitmap), gen_pool_free()
 *
 * Writing "bitmap" or "genalloc" to /sys/kernel/debug/cvm_carve_bench/run
 * runs "threads" kthreads (0: one per online CPU, bound to it) for
 * duration_ms; each keeps "slots" allocations of a random size (log-uniform,
 * 1 page to max_size, seeded per thread) and replaces a random slot per
 * step (free it if used, else allocate).  Reading "run" returns:
 *
 *   impl=bitmap threads=2 chunks=8 ops=N ops_per_s=N fails=N
 *   overhead_bytes_per_chunk=N
 *
 * fails are allocations that found no room (the same load for both).
 * overhead_bytes_per_chunk is the bookkeeping of one 2 MiB chunk: the
 * descriptor and bitmaps (bitmap) or struct gen_pool_chunk with its bitmap
 * (genalloc).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/genalloc.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#define CHUNK_ORDER	9
#define CHUNK_PAGES	(1UL << CHUNK_ORDER)
#define MAX_THREADS	64
#define MAX_SLOTS	1024

static unsigned int duration_ms = 1000;
module_param(duration_ms, uint, 0644);
MODULE_PARM_DESC(duration_ms, "length of a run");
static unsigned int threads;
module_param(threads, uint, 0644);
MODULE_PARM_DESC(threads, "threads, 0 = one per online CPU");
static unsigned int nchunks = 8;
module_param(nchunks, uint, 0444);
MODULE_PARM_DESC(nchunks, "2 MiB chunks to carve from (at load)");
static unsigned int slots = 64;
module_param(slots, uint, 0644);
MODULE_PARM_DESC(slots, "allocations each thread keeps");
static unsigned int max_size = 65536;
module_param(max_size, uint, 0644);
MODULE_PARM_DESC(max_size, "largest allocation in bytes");

/* ---- the series' scheme ---- */
struct bm_chunk {
	struct list_head node;
	unsigned long addr;
	unsigned long npages;
	unsigned long used;
	unsigned long map[];	/* allocated pages, then allocation starts */
};

static LIST_HEAD(bm_chunks);
static DEFINE_SPINLOCK(bm_lock);

static unsigned long *bm_starts(struct bm_chunk *c)
{
	return c->map + BITS_TO_LONGS(c->npages);
}

static unsigned long bm_alloc(size_t size)
{
	unsigned long nr = PFN_UP(size), mask = (1UL << get_order(size)) - 1;
	struct bm_chunk *c;
	unsigned long flags, index, addr = 0;

	spin_lock_irqsave(&bm_lock, flags);
	list_for_each_entry(c, &bm_chunks, node) {
		if (nr > c->npages - c->used)
			continue;
		index = bitmap_find_next_zero_area_off(c->map, c->npages, 0, nr,
						       mask, 0);
		if (index >= c->npages)
			continue;
		bitmap_set(c->map, index, nr);
		__set_bit(index, bm_starts(c));
		c->used += nr;
		addr = c->addr + (index << PAGE_SHIFT);
		break;
	}
	spin_unlock_irqrestore(&bm_lock, flags);
	return addr;
}

static void bm_free(unsigned long addr, size_t size)
{
	unsigned long nr = PFN_UP(size), flags, index, end;
	struct bm_chunk *c;

	spin_lock_irqsave(&bm_lock, flags);
	list_for_each_entry(c, &bm_chunks, node) {
		if (addr < c->addr || addr >= c->addr + (c->npages << PAGE_SHIFT))
			continue;
		index = (addr - c->addr) >> PAGE_SHIFT;
		end = index + nr;
		/* the checks of swiotlb_cc_is_allocation() */
		if (end <= c->npages && test_bit(index, bm_starts(c)) &&
		    find_next_zero_bit(c->map, end, index) >= end &&
		    find_next_bit(bm_starts(c), end, index + 1) >= end) {
			bitmap_clear(c->map, index, nr);
			__clear_bit(index, bm_starts(c));
			c->used -= nr;
		} else {
			pr_warn_once("bad free\n");
		}
		break;
	}
	spin_unlock_irqrestore(&bm_lock, flags);
}

/* ---- genalloc as kernel/dma/pool.c uses it ---- */
static struct gen_pool *ga_pool;

static unsigned long ga_alloc(size_t size)
{
	return gen_pool_alloc_algo(ga_pool, PAGE_ALIGN(size),
				   gen_pool_first_fit_order_align, NULL);
}

static void ga_free(unsigned long addr, size_t size)
{
	gen_pool_free(ga_pool, addr, PAGE_ALIGN(size));
}

/* ---- the load ---- */
struct carve_impl {
	const char *name;
	unsigned long (*alloc)(size_t size);
	void (*free)(unsigned long addr, size_t size);
};

static const struct carve_impl impls[] = {
	{ "bitmap", bm_alloc, bm_free },
	{ "genalloc", ga_alloc, ga_free },
};

struct carve_thread {
	const struct carve_impl *impl;
	struct task_struct *task;
	struct rnd_state rnd;
	u64 deadline_ns;
	u64 ops, fails;
	unsigned long addr[MAX_SLOTS];
	size_t size[MAX_SLOTS];
	struct completion done;
};

static DEFINE_MUTEX(carve_lock);
static DECLARE_COMPLETION(carve_go);
static char carve_result[256] = "none\n";
static struct page *chunk_pages[64];

/* 1 page to max_size, log-uniform in the order, uniform within it */
static size_t carve_size(struct rnd_state *rnd)
{
	unsigned int order = prandom_u32_state(rnd) %
			     (get_order(max(max_size, 4096U)) + 1);

	return (1 + prandom_u32_state(rnd) % (1U << order)) << PAGE_SHIFT;
}

static int carve_thread_fn(void *data)
{
	struct carve_thread *t = data;
	unsigned int n = min(slots, MAX_SLOTS), i;

	wait_for_completion(&carve_go);
	while (ktime_get_ns() < t->deadline_ns) {
		i = prandom_u32_state(&t->rnd) % n;
		if (t->addr[i]) {
			t->impl->free(t->addr[i], t->size[i]);
			t->addr[i] = 0;
		} else {
			t->size[i] = carve_size(&t->rnd);
			t->addr[i] = t->impl->alloc(t->size[i]);
			if (!t->addr[i])
				t->fails++;
		}
		t->ops++;
		if (!(t->ops & 255))
			cond_resched();
	}
	for (i = 0; i < n; i++)
		if (t->addr[i])
			t->impl->free(t->addr[i], t->size[i]);
	complete(&t->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ / 10);
	return 0;
}

static size_t overhead(const struct carve_impl *impl)
{
	if (impl->alloc == bm_alloc)
		return struct_size_t(struct bm_chunk, map, 2 * BITS_TO_LONGS(CHUNK_PAGES));
	return struct_size_t(struct gen_pool_chunk, bits, BITS_TO_LONGS(CHUNK_PAGES));
}

static int carve_run(const struct carve_impl *impl)
{
	unsigned int nt = threads ? min(threads, MAX_THREADS) :
		min(num_online_cpus(), MAX_THREADS);
	struct carve_thread *t;
	u64 ops = 0, fails = 0, start, end;
	unsigned int i;

	t = kvcalloc(nt, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	reinit_completion(&carve_go);
	for (i = 0; i < nt; i++) {
		t[i].impl = impl;
		prandom_seed_state(&t[i].rnd, 0x5eed + i);
		init_completion(&t[i].done);
		t[i].task = kthread_create(carve_thread_fn, &t[i], "carve/%u", i);
		if (IS_ERR(t[i].task)) {
			t[i].task = NULL;
			complete(&t[i].done);
			continue;
		}
		kthread_bind(t[i].task, cpumask_nth(i % num_online_cpus(), cpu_online_mask));
		get_task_struct(t[i].task);
		wake_up_process(t[i].task);
	}
	/* all at once, from now */
	start = ktime_get_ns();
	for (i = 0; i < nt; i++)
		t[i].deadline_ns = start + (u64)duration_ms * NSEC_PER_MSEC;
	complete_all(&carve_go);
	for (i = 0; i < nt; i++) {
		wait_for_completion(&t[i].done);
		ops += t[i].ops;
		fails += t[i].fails;
	}
	end = ktime_get_ns();
	for (i = 0; i < nt; i++) {
		if (!t[i].task)
			continue;
		kthread_stop(t[i].task);
		put_task_struct(t[i].task);
	}
	kvfree(t);
	snprintf(carve_result, sizeof(carve_result),
		 "impl=%s threads=%u chunks=%u ops=%llu ops_per_s=%llu fails=%llu overhead_bytes_per_chunk=%zu\n",
		 impl->name, nt, nchunks, ops,
		 div64_u64(ops * NSEC_PER_SEC, max_t(u64, end - start, 1)),
		 fails, overhead(impl));
	return 0;
}

static ssize_t run_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	char buf[16];
	unsigned int i;
	int ret = -EINVAL;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	strim(buf);
	mutex_lock(&carve_lock);
	for (i = 0; i < ARRAY_SIZE(impls); i++)
		if (!strcmp(buf, impls[i].name))
			ret = carve_run(&impls[i]);
	mutex_unlock(&carve_lock);
	return ret ? ret : len;
}

static ssize_t run_read(struct file *file, char __user *ubuf, size_t len,
			loff_t *ppos)
{
	return simple_read_from_buffer(ubuf, len, ppos, carve_result,
				       strlen(carve_result));
}

static const struct file_operations run_fops = {
	.owner = THIS_MODULE,
	.write = run_write,
	.read = run_read,
};

static struct dentry *carve_dir;

static void carve_free_chunks(void)
{
	struct bm_chunk *c, *next;
	unsigned int i;

	list_for_each_entry_safe(c, next, &bm_chunks, node) {
		list_del(&c->node);
		kfree(c);
	}
	if (ga_pool)
		gen_pool_destroy(ga_pool);
	ga_pool = NULL;
	for (i = 0; i < ARRAY_SIZE(chunk_pages); i++)
		if (chunk_pages[i])
			__free_pages(chunk_pages[i], CHUNK_ORDER);
}

static int __init carve_init(void)
{
	struct bm_chunk *c;
	unsigned int i;

	nchunks = clamp(nchunks, 1U, (unsigned int)ARRAY_SIZE(chunk_pages));
	ga_pool = gen_pool_create(PAGE_SHIFT, NUMA_NO_NODE);
	if (!ga_pool)
		return -ENOMEM;
	/* both carve the same chunks, one after the other */
	for (i = 0; i < nchunks; i++) {
		chunk_pages[i] = alloc_pages(GFP_KERNEL, CHUNK_ORDER);
		c = kzalloc(struct_size(c, map, 2 * BITS_TO_LONGS(CHUNK_PAGES)),
			    GFP_KERNEL);
		if (!chunk_pages[i] || !c) {
			kfree(c);
			carve_free_chunks();
			return -ENOMEM;
		}
		c->addr = (unsigned long)page_address(chunk_pages[i]);
		c->npages = CHUNK_PAGES;
		list_add_tail(&c->node, &bm_chunks);
		if (gen_pool_add(ga_pool, c->addr, PAGE_SIZE << CHUNK_ORDER,
				 NUMA_NO_NODE)) {
			carve_free_chunks();
			return -ENOMEM;
		}
	}
	carve_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("run", 0600, carve_dir, NULL, &run_fops);
	return 0;
}

static void __exit carve_exit(void)
{
	debugfs_remove_recursive(carve_dir);
	carve_free_chunks();
}

module_init(carve_init);
module_exit(carve_exit);
MODULE_DESCRIPTION("test-only: bitmap vs genalloc carving of 2 MiB chunks");
MODULE_LICENSE("GPL");
