// SPDX-License-Identifier: GPL-2.0
/*
 * cvm_dma_stress: test-only stress of dma_alloc_coherent() and
 * dma_free_coherent() on a (emulated) confidential VM guest, from process
 * and hard-IRQ context (cvm-dma-align, "make stress"; never upstream).
 *
 * Three platform devices stand in for devices that need unencrypted DMA,
 * with a 64-bit, a 32-bit and a 30-bit coherent mask; the last only where
 * the kernel supports such a mask (dma_direct_supported(): with ZONE_DMA),
 * as a driver would find.  The module log says which devices it has.  Writing anything to
 *
 *	/sys/kernel/debug/cvm_dma_stress/run
 *
 * starts one kthread per online CPU (or "threads"), bound to it; each, for
 * at most duration_ms and max_ops operations, keeps "slots" buffers: a free
 * slot gets a buffer of a random size (log-uniform, 1 byte to max_size),
 * GFP_KERNEL or (one in four) GFP_ATOMIC, from one of the three devices; an
 * occupied slot is verified and freed.  An hrtimer per thread (every irq_us
 * microseconds, hard-IRQ context) allocates buffers of up to irq_max_size
 * with GFP_ATOMIC, fills them and hands them to the thread, which verifies
 * and frees them (dma_free_coherent() must not run with interrupts off).
 *
 * Each buffer is checked when it is allocated: zeroed, aligned to the page
 * order of its size (CPU and DMA address), within the device's mask, every
 * page shared with the host (cvm_emulate_range_shared(), with check_shared);
 * then a pattern is written (the whole buffer up to 8 KiB, else a 64-byte tag
 * at the start of every page and the whole first and last page), and checked
 * again before the free, which catches two buffers that overlap.  The write
 * returns when all threads are done; reading "run" gives the result as
 * "name value" lines:
 *
 *	ops allocs frees bytes irq_allocs irq_bytes nomem_kernel nomem_atomic
 *	nomem_irq hardirq_checked errors zero_err align_err mask_err
 *	shared_err pattern_err low_mask_allocs min_mask_allocs
 *	nomem_kernel_min nomem_atomic_min nomem_irq_min errors ms devices
 *	min_mask_bits
 *
 * low_mask_allocs counts the buffers (process and hard-IRQ context) of a
 * device whose mask is below 32 bits, min_mask_allocs those of the run's
 * device with the smallest mask; devices and min_mask_bits say which
 * devices the run used: those with a mask of at least the min_mask_bits
 * parameter (by default 30: the 64-, 32- and 30-bit devices; 24 adds the
 * 24-bit one, whose memory must come from ZONE_DMA's 16 MiB).
 * errors is the sum of the *_err counters and must be 0; nomem_* are
 * allocations that failed (expected when shared memory must grow for an
 * atomic caller, or under fault injection), nomem_*_min the smallest size in
 * bytes of such an allocation (0: none failed), which tells a failure that
 * stock's atomic pools would also have (larger than a pool) from one that
 * they might have served.
 *
 * Reading "scan" walks all memory in 2 MiB regions and reports, from the
 * emulated CVM's bitmap, the shared pages: total, in fully shared regions,
 * in partly shared ("mixed") regions, below 1 MiB, and the mixed regions.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/cvm_emulate.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

static unsigned int duration_ms = 5000;
module_param(duration_ms, uint, 0644);
MODULE_PARM_DESC(duration_ms, "time bound of one run (ms)");
static unsigned int max_ops = 100000;
module_param(max_ops, uint, 0644);
MODULE_PARM_DESC(max_ops, "operations bound per thread of one run");
static unsigned int threads;
module_param(threads, uint, 0644);
MODULE_PARM_DESC(threads, "threads (0: one per online CPU)");
static unsigned int slots = 8;
module_param(slots, uint, 0644);
MODULE_PARM_DESC(slots, "buffers kept per thread (1..32)");
static unsigned int max_size = SZ_4M;
module_param(max_size, uint, 0644);
MODULE_PARM_DESC(max_size, "largest process-context buffer (bytes)");
static unsigned int irq_us = 500;
module_param(irq_us, uint, 0644);
MODULE_PARM_DESC(irq_us, "hard-IRQ allocation period (us, 0: none)");
static unsigned int irq_max_size = SZ_64K;
module_param(irq_max_size, uint, 0644);
MODULE_PARM_DESC(irq_max_size, "largest hard-IRQ buffer (bytes)");
static unsigned int seed = 1;
module_param(seed, uint, 0644);
MODULE_PARM_DESC(seed, "random seed");
static bool check_shared = true;
module_param(check_shared, bool, 0644);
MODULE_PARM_DESC(check_shared, "check every page with the emulated CVM");
static unsigned int min_mask_bits = 30;
module_param(min_mask_bits, uint, 0644);
MODULE_PARM_DESC(min_mask_bits, "use only the devices with a mask of at least this many bits (default 30; 24 or 0: all)");

#define STRESS_MAX_SLOTS	32
#define STRESS_IRQ_SLOTS	4
#define STRESS_MAX_THREADS	64
/* how long a run may overrun its duration_ms before it is reported */
#define STRESS_GRACE		(60 * HZ)
#define STRESS_TAG		64

enum { C_OPS, C_ALLOCS, C_FREES, C_BYTES, C_IRQ_ALLOCS, C_IRQ_BYTES,
	C_NOMEM_KERNEL, C_NOMEM_ATOMIC, C_NOMEM_IRQ, C_HARDIRQ, C_ZERO_ERR,
	C_ALIGN_ERR, C_MASK_ERR, C_SHARED_ERR, C_PATTERN_ERR, C_LOW_ALLOCS,
	C_MIN_ALLOCS, C_NOMEM_KERNEL_MIN, C_NOMEM_ATOMIC_MIN, C_NOMEM_IRQ_MIN,
	C_NR };
static const char * const cnames[C_NR] = {
	"ops", "allocs", "frees", "bytes", "irq_allocs", "irq_bytes",
	"nomem_kernel", "nomem_atomic", "nomem_irq", "hardirq_checked",
	"zero_err", "align_err", "mask_err", "shared_err", "pattern_err",
	"low_mask_allocs", "min_mask_allocs", "nomem_kernel_min",
	"nomem_atomic_min", "nomem_irq_min",
};

struct sbuf {
	void *cpu;
	dma_addr_t dma;
	size_t size;
	u32 tag;
	struct device *dev;
};

struct sthread {
	struct task_struct *task;
	struct rnd_state rnd;
	struct sbuf buf[STRESS_MAX_SLOTS];
	/* filled in hard-IRQ context, emptied by the thread */
	struct sbuf irq_buf[STRESS_IRQ_SLOTS];
	atomic_t irq_full[STRESS_IRQ_SLOTS];
	struct rnd_state irq_rnd;
	struct hrtimer timer;
	bool stopping;
	u32 next_tag;
	struct completion done;
};

static struct platform_device *pdev[4];
static const unsigned int pdev_bits[ARRAY_SIZE(pdev)] = { 64, 32, 30, 24 };
/* Devices in use: those below 32 bits only if their mask is supported */
static unsigned int npdev;
/* Devices of this run: the first nuse (masks of min_mask_bits or more) */
static unsigned int nuse;
static struct dentry *dir;
static DEFINE_MUTEX(run_lock);
static atomic64_t cnt[C_NR];
static unsigned int last_ms;
static bool have_result;

static void count(int c, u64 v)
{
	atomic64_add(v, &cnt[c]);
}

/* an allocation of @size found no memory: @c is its C_NOMEM_* counter */
static void count_nomem(int c, size_t size)
{
	atomic64_t *min = &cnt[c - C_NOMEM_KERNEL + C_NOMEM_KERNEL_MIN];
	s64 old = atomic64_read(min);

	/* the *_MIN counters follow the C_NOMEM_* ones in the same order */
	static_assert(C_NOMEM_ATOMIC - C_NOMEM_KERNEL ==
		      C_NOMEM_ATOMIC_MIN - C_NOMEM_KERNEL_MIN);
	static_assert(C_NOMEM_IRQ - C_NOMEM_KERNEL ==
		      C_NOMEM_IRQ_MIN - C_NOMEM_KERNEL_MIN);

	count(c, 1);
	do {
		if (old && old <= size)
			return;
	} while (!atomic64_try_cmpxchg(min, &old, size));
}

static u32 pat(u32 tag, size_t off)
{
	return tag * 2654435761u ^ (u32)(off / 4) * 40503u ^ 0x5a5aa5a5u;
}

/* Write or check the pattern of @off..@off+@len (4-byte aligned) */
static bool pattern_range(struct sbuf *b, size_t off, size_t len, bool write)
{
	size_t end = min(off + len, b->size), o;
	u8 *p = b->cpu;

	for (o = off; o + 4 <= end; o += 4) {
		u32 v = pat(b->tag, o);

		if (write)
			memcpy(p + o, &v, 4);
		else if (memcmp(p + o, &v, 4))
			return false;
	}
	for (; o < end; o++) {
		u8 v = (u8)pat(b->tag, o & ~3UL);

		if (write)
			p[o] = v;
		else if (p[o] != v)
			return false;
	}
	return true;
}

/* The pattern: all of a small buffer, else a tag per page + first/last page */
static bool pattern(struct sbuf *b, bool write)
{
	size_t off, last;
	bool ok = true;

	if (b->size <= 2 * PAGE_SIZE)
		return pattern_range(b, 0, b->size, write);
	last = (b->size - 1) & PAGE_MASK;
	ok &= pattern_range(b, 0, PAGE_SIZE, write);
	for (off = PAGE_SIZE; off < last; off += PAGE_SIZE)
		ok &= pattern_range(b, off, STRESS_TAG, write);
	ok &= pattern_range(b, last, b->size - last, write);
	return ok;
}

/* Checks of a new buffer; returns false (and counts) on any error */
static bool check_new(struct sbuf *b)
{
	size_t align = PAGE_SIZE << get_order(b->size);
	u64 mask = b->dev->coherent_dma_mask;
	phys_addr_t phys = (phys_addr_t)b->dma;
	bool ok = true;

	/* zeroed: all of it up to 64 KiB, else the first and last 64 KiB */
	if (b->size <= SZ_64K ? memchr_inv(b->cpu, 0, b->size) != NULL :
	    memchr_inv(b->cpu, 0, SZ_64K) ||
	    memchr_inv(b->cpu + b->size - SZ_64K, 0, SZ_64K)) {
		count(C_ZERO_ERR, 1);
		ok = false;
	}
	if ((b->dma & (align - 1)) || ((unsigned long)b->cpu & (align - 1))) {
		count(C_ALIGN_ERR, 1);
		ok = false;
	}
	if (b->dma + b->size - 1 > mask) {
		count(C_MASK_ERR, 1);
		ok = false;
	}
	/* no IOMMU and no encryption bit: the DMA address is the physical */
	if (check_shared && cvm_emulate_range_shared(phys, b->size) !=
	    PFN_UP(offset_in_page(phys) + b->size)) {
		count(C_SHARED_ERR, 1);
		ok = false;
	}
	if (ok && phys != virt_to_phys(b->cpu)) {
		count(C_SHARED_ERR, 1);
		ok = false;
	}
	return ok;
}

static void release(struct sbuf *b)
{
	if (!pattern(b, false))
		count(C_PATTERN_ERR, 1);
	dma_free_coherent(b->dev, b->size, b->cpu, b->dma);
	count(C_FREES, 1);
	b->cpu = NULL;
}

static size_t rnd_size(struct rnd_state *r, size_t max)
{
	unsigned int bits = ilog2(max) + 1;
	unsigned int k = prandom_u32_state(r) % bits;
	size_t s = (1UL << k) + (prandom_u32_state(r) & ((1UL << k) - 1));

	return clamp_t(size_t, s, 1, max);
}

static bool alloc_buf(struct sbuf *b, struct device *dev, size_t size,
		      gfp_t gfp, u32 tag)
{
	b->dev = dev;
	b->size = size;
	b->tag = tag;
	b->cpu = dma_alloc_coherent(dev, size, &b->dma, gfp | __GFP_NOWARN);
	if (!b->cpu)
		return false;
	if (!check_new(b)) {
		/* do not write into something that is not ours */
		dma_free_coherent(dev, size, b->cpu, b->dma);
		b->cpu = NULL;
		return true;
	}
	pattern(b, true);
	if (dev->coherent_dma_mask < DMA_BIT_MASK(32))
		count(C_LOW_ALLOCS, 1);
	if (dev == &pdev[nuse - 1]->dev)
		count(C_MIN_ALLOCS, 1);
	return true;
}

static enum hrtimer_restart irq_fn(struct hrtimer *timer)
{
	struct sthread *t = container_of(timer, struct sthread, timer);
	struct sbuf *b;
	size_t size;
	int i;

	if (READ_ONCE(t->stopping))
		return HRTIMER_NORESTART;
	if (in_hardirq())
		count(C_HARDIRQ, 1);
	for (i = 0; i < STRESS_IRQ_SLOTS; i++) {
		if (atomic_read(&t->irq_full[i]))
			continue;
		b = &t->irq_buf[i];
		size = rnd_size(&t->irq_rnd, irq_max_size);
		if (!alloc_buf(b, &pdev[prandom_u32_state(&t->irq_rnd) % nuse]->dev,
			       size, GFP_ATOMIC,
			       0x80000000u | prandom_u32_state(&t->irq_rnd))) {
			count_nomem(C_NOMEM_IRQ, size);
		} else if (b->cpu) {
			count(C_IRQ_ALLOCS, 1);
			count(C_IRQ_BYTES, b->size);
			atomic_set_release(&t->irq_full[i], 1);
		}
		break;
	}
	hrtimer_forward_now(timer, ns_to_ktime((u64)irq_us * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static void drain_irq(struct sthread *t)
{
	int i;

	for (i = 0; i < STRESS_IRQ_SLOTS; i++) {
		if (!atomic_read_acquire(&t->irq_full[i]))
			continue;
		release(&t->irq_buf[i]);
		atomic_set(&t->irq_full[i], 0);
	}
}

static int thread_fn(void *data)
{
	struct sthread *t = data;
	unsigned long deadline = jiffies + msecs_to_jiffies(duration_ms);
	unsigned int nslots = clamp(slots, 1U, (unsigned int)STRESS_MAX_SLOTS);
	unsigned int ops = 0, i;
	struct sbuf *b;
	size_t size;
	gfp_t gfp;

	/* leave CPU time to the I/O that runs alongside */
	set_user_nice(current, MAX_NICE);
	if (irq_us)
		hrtimer_start(&t->timer, ns_to_ktime((u64)irq_us * NSEC_PER_USEC),
			      HRTIMER_MODE_REL_PINNED_HARD);
	while (ops < max_ops && time_before(jiffies, deadline) &&
	       !kthread_should_stop()) {
		b = &t->buf[prandom_u32_state(&t->rnd) % nslots];
		if (b->cpu) {
			release(b);
		} else {
			gfp = prandom_u32_state(&t->rnd) % 4 ? GFP_KERNEL :
			      GFP_ATOMIC;
			size = rnd_size(&t->rnd, max_size);
			if (!alloc_buf(b, &pdev[prandom_u32_state(&t->rnd) % nuse]->dev,
				       size, gfp, t->next_tag++)) {
				count_nomem(gfp == GFP_KERNEL ? C_NOMEM_KERNEL :
					    C_NOMEM_ATOMIC, size);
			} else if (b->cpu) {
				count(C_ALLOCS, 1);
				count(C_BYTES, b->size);
			}
		}
		drain_irq(t);
		ops++;
		cond_resched();
	}
	WRITE_ONCE(t->stopping, true);
	hrtimer_cancel(&t->timer);
	drain_irq(t);
	for (i = 0; i < nslots; i++)
		if (t->buf[i].cpu)
			release(&t->buf[i]);
	count(C_OPS, ops);
	/* no module code may run after the completion: rmmod may follow */
	kthread_complete_and_exit(&t->done, 0);
}

static int stress_run(void)
{
	unsigned int n = threads ? threads : num_online_cpus(), i, cpu;
	struct sthread *t;
	unsigned long t0, limit;
	long left;

	n = min_t(unsigned int, n, STRESS_MAX_THREADS);
	for (nuse = 0; nuse < npdev && pdev_bits[nuse] >= min_mask_bits; nuse++)
		;
	if (!nuse)
		return -EINVAL;
	t = kvcalloc(n, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	for (i = 0; i < C_NR; i++)
		atomic64_set(&cnt[i], 0);
	t0 = jiffies;
	for (i = 0; i < n; i++) {
		prandom_seed_state(&t[i].rnd, seed * 1000003ULL + i);
		prandom_seed_state(&t[i].irq_rnd, seed * 1000033ULL + i + 7);
		init_completion(&t[i].done);
		hrtimer_init(&t[i].timer, CLOCK_MONOTONIC,
			     HRTIMER_MODE_REL_PINNED_HARD);
		t[i].timer.function = irq_fn;
		cpu = cpumask_nth(i % num_online_cpus(), cpu_online_mask);
		t[i].task = kthread_create_on_cpu(thread_fn, &t[i], cpu,
						  "cvm_dma_stress/%u");
		if (IS_ERR(t[i].task)) {
			t[i].task = NULL;
			complete(&t[i].done);
			continue;
		}
		wake_up_process(t[i].task);
	}
	/*
	 * A run lasts as long as its writer asked (30 minutes in the chaos
	 * scenario), which the hung-task detector must not report: wait
	 * killable up to the run's deadline and a grace period, then warn of
	 * a thread that overran it and wait on in TASK_IDLE (the threads use
	 * t[] until they complete, so the wait cannot end before).
	 */
	limit = t0 + msecs_to_jiffies(duration_ms) + STRESS_GRACE;
	for (i = 0; i < n; i++) {
		left = (long)(limit - jiffies);
		if (wait_for_completion_killable_timeout(&t[i].done,
							  max(left, 1L)) > 0)
			continue;
		WARN(!fatal_signal_pending(current) && !completion_done(&t[i].done),
		     "cvm_dma_stress: thread %u still running %u ms after its deadline\n",
		     i, jiffies_to_msecs(STRESS_GRACE));
		wait_for_completion_state(&t[i].done, TASK_IDLE);
	}
	last_ms = jiffies_to_msecs(jiffies - t0);
	kvfree(t);
	have_result = true;
	return 0;
}

static u64 errors(void)
{
	return atomic64_read(&cnt[C_ZERO_ERR]) + atomic64_read(&cnt[C_ALIGN_ERR]) +
	       atomic64_read(&cnt[C_MASK_ERR]) + atomic64_read(&cnt[C_SHARED_ERR]) +
	       atomic64_read(&cnt[C_PATTERN_ERR]);
}

static int run_show(struct seq_file *m, void *v)
{
	int i;

	if (!have_result) {
		seq_puts(m, "none\n");
		return 0;
	}
	for (i = 0; i < C_NR; i++)
		seq_printf(m, "%s %lld\n", cnames[i], atomic64_read(&cnt[i]));
	seq_printf(m, "errors %llu\nms %u\ndevices %u\nmin_mask_bits %u\n",
		   errors(), last_ms, nuse, pdev_bits[nuse - 1]);
	return 0;
}

static int run_open(struct inode *inode, struct file *file)
{
	return single_open(file, run_show, NULL);
}

static ssize_t run_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	int ret;

	/* a second writer waits for the run, killable, and not as hung */
	ret = mutex_lock_killable(&run_lock);
	if (ret)
		return ret;
	ret = stress_run();
	mutex_unlock(&run_lock);
	if (!ret)
		pr_info("run: %lld allocs, %lld bytes, %lld hard-IRQ allocs, %lld no-memory, %llu errors, %u ms\n",
			atomic64_read(&cnt[C_ALLOCS]), atomic64_read(&cnt[C_BYTES]),
			atomic64_read(&cnt[C_IRQ_ALLOCS]),
			atomic64_read(&cnt[C_NOMEM_KERNEL]) +
			atomic64_read(&cnt[C_NOMEM_ATOMIC]) +
			atomic64_read(&cnt[C_NOMEM_IRQ]), errors(), last_ms);
	return ret ? ret : len;
}

static const struct file_operations run_fops = {
	.owner = THIS_MODULE,
	.open = run_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
	.write = run_write,
};

/* The emulated CVM's view of all memory, by 2 MiB region */
static int scan_show(struct seq_file *m, void *v)
{
	unsigned long end = 0, pfn, n, total = 0, full = 0, mixed = 0, low;
	unsigned long per = SZ_2M >> PAGE_SHIFT, nmixed = 0;
	int nid;

	for_each_online_node(nid)
		end = max(end, pgdat_end_pfn(NODE_DATA(nid)));
	low = cvm_emulate_range_shared(0, SZ_1M);
	for (pfn = 0; pfn < end; pfn += per) {
		n = cvm_emulate_range_shared(PFN_PHYS(pfn), SZ_2M);
		total += n;
		if (n == per) {
			full += n;
		} else if (n) {
			mixed += n;
			if (nmixed++ < 16)
				seq_printf(m, "mixed 0x%llx %lu\n",
					   (u64)PFN_PHYS(pfn), n);
		}
	}
	seq_printf(m, "shared_pages %lu\nfull_region_pages %lu\n"
		   "mixed_region_pages %lu\nmixed_regions %lu\n"
		   "shared_below_1m %lu\nend_pfn %lu\n",
		   total, full, mixed, nmixed, low, end);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(scan);

static int __init stress_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(pdev); i++) {
		pdev[i] = platform_device_register_simple(KBUILD_MODNAME, i,
							  NULL, 0);
		if (IS_ERR(pdev[i])) {
			ret = PTR_ERR(pdev[i]);
			goto err;
		}
		ret = dma_coerce_mask_and_coherent(&pdev[i]->dev,
						   DMA_BIT_MASK(pdev_bits[i]));
		if (ret) {
			platform_device_unregister(pdev[i]);
			/* the 64- and 32-bit devices must be there */
			if (i < 2)
				goto err;
			pr_info("%u-bit DMA mask not supported here (%d): no such device\n",
				pdev_bits[i], ret);
			break;
		}
	}
	npdev = i;
	pr_info("%u devices, masks of %u..%u bits\n", npdev, pdev_bits[0],
		pdev_bits[npdev - 1]);
	dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("run", 0600, dir, NULL, &run_fops);
	debugfs_create_file("scan", 0400, dir, NULL, &scan_fops);
	return 0;
err:
	while (i--)
		platform_device_unregister(pdev[i]);
	return ret;
}

static void __exit stress_exit(void)
{
	unsigned int i;

	debugfs_remove_recursive(dir);
	for (i = npdev; i--; )
		platform_device_unregister(pdev[i]);
}

module_init(stress_init);
module_exit(stress_exit);
MODULE_DESCRIPTION("test-only stress of coherent DMA allocations on a CVM guest");
MODULE_LICENSE("GPL");
