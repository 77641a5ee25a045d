// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim for fio in the harness guest (make bench): the guest
 * kernels are tinyconfig-based without CONFIG_SYSVIPC, and fio keeps its
 * per-job state in a System V shared memory segment.  fio runs with
 * --thread there, in one process, so anonymous shared mappings do the same
 * job: shmget() reserves a slot, shmat() maps it, shmdt() unmaps it,
 * shmctl(IPC_RMID) forgets it.  Test tooling only.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/shm.h>

#define SLOTS 64

static struct { size_t size; void *addr; int used; } slot[SLOTS];

int shmget(key_t key, size_t size, int flags)
{
	int i;

	(void)key;
	(void)flags;
	for (i = 0; i < SLOTS; i++) {
		if (!slot[i].used) {
			slot[i].used = 1;
			slot[i].size = size;
			slot[i].addr = NULL;
			return i;
		}
	}
	errno = ENOSPC;
	return -1;
}

void *shmat(int id, const void *addr, int flags)
{
	void *p;

	(void)addr;
	(void)flags;
	if (id < 0 || id >= SLOTS || !slot[id].used) {
		errno = EINVAL;
		return (void *)-1;
	}
	if (slot[id].addr)
		return slot[id].addr;
	p = mmap(NULL, slot[id].size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (void *)-1;
	slot[id].addr = p;
	return p;
}

int shmdt(const void *addr)
{
	int i;

	for (i = 0; i < SLOTS; i++) {
		if (slot[i].used && slot[i].addr == addr) {
			munmap(slot[i].addr, slot[i].size);
			slot[i].addr = NULL;
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

int shmctl(int id, int cmd, struct shmid_ds *buf)
{
	if (id < 0 || id >= SLOTS || !slot[id].used) {
		errno = EINVAL;
		return -1;
	}
	if (cmd == IPC_RMID) {
		/* like System V: the mapping stays until shmdt() */
		if (!slot[id].addr)
			slot[id].used = 0;
		return 0;
	}
	if (cmd == IPC_STAT && buf) {
		buf->shm_segsz = slot[id].size;
		buf->shm_nattch = slot[id].addr ? 1 : 0;
		return 0;
	}
	return 0;
}
