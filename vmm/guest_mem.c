#include "vmm/guest_mem.h"
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"

void guest_mem_layout(struct guest_mem *m, uint64_t size)
{
	uint64_t low = size < GUEST_MMIO_HOLE_START ? size : GUEST_MMIO_HOLE_START;
	m->size = size;
	m->nregions = 1;
	m->region[0] = (struct guest_region){.gpa = 0, .size = low, .offset = 0};
	if (size > low) {
		m->region[1] = (struct guest_region){.gpa = GUEST_4G, .size = size - low, .offset = low};
		m->nregions = 2;
	}
}

int guest_mem_create(struct guest_mem *m, uint64_t size, bool anon, isola_error *err)
{
	memset(m, 0, sizeof *m);
	m->memfd = -1;
	if (anon) {
		void *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		EXPLAIN(a == MAP_FAILED ? -1 : 0, "mmap(2)",
		        "mmap(NULL, %llu, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)",
		        (unsigned long long)size);
		if (a == MAP_FAILED)
			return isola_err(err, errno, "map %llu bytes of guest RAM", (unsigned long long)size);
		madvise(a, size, MADV_HUGEPAGE);
		madvise(a, size, MADV_DONTDUMP);
		madvise(a, size, MADV_DONTFORK);
		m->host = a;
		guest_mem_layout(m, size);
		return 0;
	}
	_cleanup_close_ int fd = memfd_create("isola-vmm guest RAM", MFD_CLOEXEC);
	EXPLAIN(fd, "memfd_create(2)", "memfd_create(\"isola-vmm guest RAM\", MFD_CLOEXEC)");
	if (fd < 0)
		return isola_err(err, errno, "memfd_create for guest RAM");
	int r = ftruncate(fd, (off_t)size);
	EXPLAIN(r, "ftruncate(2)", "ftruncate(memfd, %llu)  /* guest RAM size */", (unsigned long long)size);
	if (r < 0)
		return isola_err(err, errno, "size guest RAM memfd to %llu bytes", (unsigned long long)size);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	EXPLAIN(p == MAP_FAILED ? -1 : 0, "mmap(2)",
	        "mmap(NULL, %llu, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_NORESERVE, memfd, 0)", (unsigned long long)size);
	if (p == MAP_FAILED)
		return isola_err(err, errno, "map %llu bytes of guest RAM", (unsigned long long)size);
	/* Guest RAM is not worth dumping with the VMM and must not leak into a child after fork. Huge
	 * pages for shmem only where the admin allows them (transparent_hugepage/shmem_enabled "advise";
	 * Debian's default "never" makes it a no-op): a 2 MiB page is one EPT entry, not 512 faults. */
	madvise(p, size, MADV_HUGEPAGE);
	madvise(p, size, MADV_DONTDUMP);
	madvise(p, size, MADV_DONTFORK);
	m->host = p;
	m->memfd = steal_fd(&fd);
	guest_mem_layout(m, size);
	return 0;
}

void guest_mem_destroy(struct guest_mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	if (m->memfd >= 0)
		close(m->memfd);
	m->host = NULL;
	m->memfd = -1;
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->region[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		/* off <= size and len <= size - off: no addition can overflow. */
		if (off > r->size || len > r->size - off)
			continue;
		return m->host + r->offset + off;
	}
	return NULL;
}

uint64_t guest_mem_low_end(const struct guest_mem *m)
{
	return m->region[0].size;
}
