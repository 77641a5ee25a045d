// SPDX-License-Identifier: GPL-2.0
/*
 * cvm_dma_bench: test-only benchmark of dma_alloc_coherent() +
 * dma_free_coherent() pairs (cvm-dma-align, "make bench"; never upstream).
 *
 * A platform device with a 64-bit coherent mask stands in for a device that
 * needs unencrypted DMA (on a CVM guest every device does).  Writing
 *
 *	echo "SIZE THREADS MS" > /sys/kernel/debug/cvm_dma_bench/run
 *
 * runs THREADS kthreads, thread i bound to online CPU i % nr_online, all
 * started together; each allocates and frees SIZE bytes in a loop for MS
 * milliseconds.  Reading the file returns the result of the last run:
 *
 *	size=4096 threads=2 ms=300 ops=1234 fail=0 elapsed_ns=... \
 *	ops_per_s=... ns_per_op=...
 *
 * ops_per_s is all threads' pairs divided by the wall time from the common
 * start to the end of the last thread; ns_per_op is the mean time of one
 * pair in one thread.  The guest script reads the conversion counters of the
 * emulated CVM around each run to get conversions per operation.
 */
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/dma-mapping.h>
#include <linux/debugfs.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>
#include <linux/cpumask.h>
#include <linux/math64.h>

#define BENCH_MAX_THREADS	64
#define BENCH_MAX_MS		60000

struct bench_thread {
	struct task_struct *task;
	size_t size;
	u64 deadline_ns;
	u64 ops;
	u64 fail;
	u64 busy_ns;
	u64 end_ns;
	struct completion done;
};

static struct platform_device *bench_pdev;
static struct dentry *bench_dir;
static DEFINE_MUTEX(bench_lock);
static DECLARE_COMPLETION(bench_go);
static char bench_result[256] = "none\n";

static int bench_thread_fn(void *data)
{
	struct bench_thread *t = data;
	struct device *dev = &bench_pdev->dev;
	u64 start;

	wait_for_completion(&bench_go);
	start = ktime_get_ns();
	/* the deadline is set before the start signal */
	while (ktime_get_ns() < t->deadline_ns) {
		dma_addr_t handle;
		void *p = dma_alloc_coherent(dev, t->size, &handle, GFP_KERNEL);

		if (!p) {
			t->fail++;
			cond_resched();
			continue;
		}
		dma_free_coherent(dev, t->size, p, handle);
		t->ops++;
		cond_resched();
	}
	t->end_ns = ktime_get_ns();
	t->busy_ns = t->end_ns - start;
	complete(&t->done);
	/* stay until stopped, so that kthread_stop() is always valid */
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

static int bench_run(size_t size, unsigned int nthreads, unsigned int ms)
{
	struct bench_thread *th;
	unsigned int i, cpu, ncpu = num_online_cpus();
	u64 t0, last = 0, ops = 0, fail = 0, busy = 0, elapsed;
	int ret = 0;

	th = kcalloc(nthreads, sizeof(*th), GFP_KERNEL);
	if (!th)
		return -ENOMEM;
	reinit_completion(&bench_go);
	for (i = 0; i < nthreads; i++) {
		th[i].size = size;
		init_completion(&th[i].done);
		th[i].task = kthread_create(bench_thread_fn, &th[i],
					    "cvm_dma_bench/%u", i);
		if (IS_ERR(th[i].task)) {
			ret = PTR_ERR(th[i].task);
			th[i].task = NULL;
			break;
		}
		/* the i-th online CPU */
		cpu = cpumask_nth(i % ncpu, cpu_online_mask);
		kthread_bind(th[i].task, cpu);
		wake_up_process(th[i].task);
	}
	t0 = ktime_get_ns();
	for (i = 0; i < nthreads; i++)
		th[i].deadline_ns = t0 + (u64)ms * NSEC_PER_MSEC;
	/* publish the deadlines before the threads run */
	smp_wmb();
	complete_all(&bench_go);
	for (i = 0; i < nthreads; i++) {
		if (!th[i].task)
			continue;
		wait_for_completion(&th[i].done);
		kthread_stop(th[i].task);
		ops += th[i].ops;
		fail += th[i].fail;
		busy += th[i].busy_ns;
		if (th[i].end_ns > last)
			last = th[i].end_ns;
	}
	if (!ret) {
		elapsed = last > t0 ? last - t0 : 1;
		scnprintf(bench_result, sizeof(bench_result),
			  "size=%zu threads=%u ms=%u ops=%llu fail=%llu elapsed_ns=%llu ops_per_s=%llu ns_per_op=%llu\n",
			  size, nthreads, ms, ops, fail, elapsed,
			  div64_u64(ops * NSEC_PER_SEC, elapsed),
			  ops ? div64_u64(busy, ops) : 0);
	}
	kfree(th);
	return ret;
}

static ssize_t bench_write(struct file *file, const char __user *ubuf,
			   size_t len, loff_t *ppos)
{
	char buf[64];
	unsigned long size;
	unsigned int nthreads, ms;
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%lu %u %u", &size, &nthreads, &ms) != 3)
		return -EINVAL;
	if (!size || size > (64UL << 20) || !nthreads ||
	    nthreads > BENCH_MAX_THREADS || !ms || ms > BENCH_MAX_MS)
		return -EINVAL;
	mutex_lock(&bench_lock);
	ret = bench_run(size, nthreads, ms);
	mutex_unlock(&bench_lock);
	return ret ? ret : len;
}

static ssize_t bench_read(struct file *file, char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&bench_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, bench_result,
				      strlen(bench_result));
	mutex_unlock(&bench_lock);
	return ret;
}

static const struct file_operations bench_fops = {
	.owner = THIS_MODULE,
	.read = bench_read,
	.write = bench_write,
	.llseek = default_llseek,
};

static int __init cvm_dma_bench_init(void)
{
	int ret;

	bench_pdev = platform_device_register_simple("cvm_dma_bench", -1,
						     NULL, 0);
	if (IS_ERR(bench_pdev))
		return PTR_ERR(bench_pdev);
	ret = dma_coerce_mask_and_coherent(&bench_pdev->dev, DMA_BIT_MASK(64));
	if (ret) {
		platform_device_unregister(bench_pdev);
		return ret;
	}
	bench_dir = debugfs_create_dir("cvm_dma_bench", NULL);
	debugfs_create_file("run", 0600, bench_dir, NULL, &bench_fops);
	return 0;
}

static void __exit cvm_dma_bench_exit(void)
{
	debugfs_remove_recursive(bench_dir);
	platform_device_unregister(bench_pdev);
}

module_init(cvm_dma_bench_init);
module_exit(cvm_dma_bench_exit);
MODULE_DESCRIPTION("test-only dma_alloc_coherent benchmark (cvm-dma-align)");
MODULE_LICENSE("GPL");
