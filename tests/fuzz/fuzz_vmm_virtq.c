/* libFuzzer target: split-virtqueue walking against arbitrary guest memory. The input is the guest RAM
 * (up to 64 KiB) plus a small header choosing the queue size and ring addresses; every pop must either
 * yield segments that lie inside that RAM or break the queue. ASan catches any stray access. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/virtio/virtq.h"

#define RAM (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	static uint8_t *ram;
	if (!ram)
		ram = malloc(RAM);
	memset(ram, 0, RAM);
	memcpy(ram, data + 8, size - 8 < RAM ? size - 8 : RAM);
	struct guest_mem m = {.host = ram, .memfd = -1};
	guest_mem_layout(&m, RAM);
	struct virtq q;
	virtq_reset(&q, (uint16_t)(1u << (data[0] % 11))); /* 1..1024 */
	q.desc_gpa = (uint64_t)(data[1] | data[2] << 8) & ~15ULL;
	q.avail_gpa = (uint64_t)(data[3] | data[4] << 8) & ~1ULL;
	q.used_gpa = (uint64_t)(data[5] | data[6] << 8) & ~3ULL;
	isola_error err;
	if (virtq_enable(&q, &m, &err) < 0)
		return 0;
	struct virtq_chain c;
	for (int i = 0; i < 64; i++) {
		int r = virtq_pop(&q, &c, &err);
		if (r != 1)
			break;
		for (unsigned s = 0; s < c.nread + c.nwrite; s++) {
			uint8_t *b = c.iov[s].iov_base;
			if (b < ram || b + c.iov[s].iov_len > ram + RAM)
				abort(); /* a segment escaped guest RAM */
			if (c.iov[s].iov_len && s >= c.nread)
				b[c.iov[s].iov_len - 1] ^= data[7]; /* device writes into writable segments */
		}
		virtq_push(&q, c.head, (uint32_t)c.write_len);
		virtq_needs_interrupt(&q);
	}
	return 0;
}
