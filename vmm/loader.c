#include "vmm/loader.h"
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "vmm/boot/acpi.h"
#include "vmm/boot/bootparams.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/mptable.h"

struct mapped_file {
	uint8_t *data;
	size_t size;
};

static void unmap_file(struct mapped_file *f)
{
	if (f->data && f->data != MAP_FAILED)
		munmap(f->data, f->size);
}

static int map_file(const char *path, struct mapped_file *f, isola_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	EXPLAIN(fd, "open(2)", "open(\"%s\", O_RDONLY|O_CLOEXEC)", path);
	if (fd < 0)
		return isola_err(err, errno, "open %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return isola_err(err, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return isola_err(err, 0, "%s is not a non-empty regular file", path);
	f->size = (size_t)st.st_size;
	f->data = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->data == MAP_FAILED)
		return isola_err(err, errno, "map %s", path);
	return 0;
}

int boot_load(const struct guest_mem *m, const struct boot_config *c, uint64_t *entry, isola_error *err)
{
	_cleanup_(unmap_file) struct mapped_file k = {0}, rd = {0};
	if (map_file(c->kernel, &k, err) < 0)
		return -1;
	struct bzimage bz;
	if (bzimage_parse(k.data, k.size, &bz, err) < 0)
		return isola_err_wrap(err, "kernel %s", c->kernel);
	/* The kernel needs init_size bytes from its load address (it decompresses in place). */
	uint64_t kernel_end = LAYOUT_KERNEL + (bz.init_size > bz.kernel_size ? bz.init_size : bz.kernel_size);
	uint8_t *dst = guest_mem_ptr(m, LAYOUT_KERNEL, kernel_end - LAYOUT_KERNEL);
	if (!dst)
		return isola_err(err, 0, "kernel %s needs RAM up to %#llx (init_size); give the guest more memory",
		                 c->kernel, (unsigned long long)kernel_end);
	memcpy(dst, bz.kernel, bz.kernel_size);

	uint64_t initrd_addr = 0, initrd_size = 0;
	if (c->initrd) {
		if (map_file(c->initrd, &rd, err) < 0)
			return -1;
		initrd_size = rd.size;
		if (initrd_place(&bz, guest_mem_low_end(m), kernel_end, initrd_size, &initrd_addr, err) < 0)
			return isola_err_wrap(err, "initrd %s", c->initrd);
		uint8_t *p = guest_mem_ptr(m, initrd_addr, initrd_size);
		if (!p)
			return isola_err(err, 0, "initrd placement outside RAM");
		memcpy(p, rd.data, rd.size);
	}

	size_t clen = strlen(c->cmdline);
	if (clen >= LAYOUT_CMDLINE_MAX)
		return isola_err(err, 0, "command line of %zu bytes is too long", clen);
	char *cl = guest_mem_ptr(m, LAYOUT_CMDLINE, clen + 1);
	if (!cl)
		return isola_err(err, 0, "no RAM for the command line");
	memcpy(cl, c->cmdline, clen + 1);

	uint8_t *mp = guest_mem_ptr(m, LAYOUT_MPTABLE, LAYOUT_ACPI - LAYOUT_MPTABLE);
	if (!mp || mptable_build(mp, LAYOUT_ACPI - LAYOUT_MPTABLE, (uint32_t)LAYOUT_MPTABLE, c->ncpus, err) < 0)
		return isola_err_wrap(err, "MP table");
	uint8_t *acpi = guest_mem_ptr(m, LAYOUT_ACPI, LAYOUT_ACPI_END - LAYOUT_ACPI);
	struct acpi_layout al;
	if (!acpi || acpi_build(acpi, LAYOUT_ACPI_END - LAYOUT_ACPI, LAYOUT_ACPI, c->ncpus, &al, err) < 0)
		return isola_err_wrap(err, "ACPI tables");

	uint8_t *zp = guest_mem_ptr(m, LAYOUT_ZERO_PAGE, ZP_SIZE);
	struct zeropage_args za = {
	    .bz = &bz,
	    .ram_size = m->size,
	    .cmdline_addr = LAYOUT_CMDLINE,
	    .cmdline_len = clen,
	    .initrd_addr = initrd_addr,
	    .initrd_size = initrd_size,
	    .rsdp_addr = al.rsdp,
	};
	if (!zp || zeropage_build(zp, &za, err) < 0)
		return isola_err_wrap(err, "zero page");
	*entry = LAYOUT_KERNEL + BZ_ENTRY64_OFFSET;
	return 0;
}

int boot_validate(const struct boot_config *c, isola_error *err)
{
	_cleanup_(unmap_file) struct mapped_file k = {0}, rd = {0};
	if (map_file(c->kernel, &k, err) < 0)
		return -1;
	struct bzimage bz;
	if (bzimage_parse(k.data, k.size, &bz, err) < 0)
		return isola_err_wrap(err, "kernel %s", c->kernel);
	if (strlen(c->cmdline) > bz.cmdline_size)
		return isola_err(err, 0, "command line is %zu bytes; kernel %s accepts at most %u", strlen(c->cmdline),
		                 c->kernel, bz.cmdline_size);
	if (c->initrd && map_file(c->initrd, &rd, err) < 0)
		return -1;
	return 0;
}
