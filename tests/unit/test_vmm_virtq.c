/* Split-virtqueue walking against a hostile driver: each test builds rings in fake guest RAM and checks
 * that good chains pop with the right segments and every malformed one breaks the queue (never a pointer
 * outside guest RAM). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/virtio/virtq.h"

#define RAM   (1 << 20)
#define QS    8
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000

struct fixture {
	struct guest_mem m;
	struct virtq q;
};

static struct vring_desc *desc(struct fixture *f)
{
	return (struct vring_desc *)(f->m.host + DESC);
}
static struct vring_avail *avail(struct fixture *f)
{
	return (struct vring_avail *)(f->m.host + AVAIL);
}
static struct vring_used *used(struct fixture *f)
{
	return (struct vring_used *)(f->m.host + USED);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	f->m.host = calloc(1, RAM);
	f->m.memfd = -1;
	guest_mem_layout(&f->m, RAM);
	virtq_reset(&f->q, QS);
	f->q.desc_gpa = DESC;
	f->q.avail_gpa = AVAIL;
	f->q.used_gpa = USED;
	isola_error e;
	assert_int_equal(virtq_enable(&f->q, &f->m, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	free(f->m.host);
	free(f);
	return 0;
}

static void offer(struct fixture *f, uint16_t head)
{
	struct vring_avail *a = avail(f);
	a->ring[a->idx % QS] = head;
	a->idx++;
}

static void test_pop_chain(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	isola_error e;
	assert_int_equal(virtq_pop(&f->q, &c, &e), 0); /* nothing offered */
	desc(f)[0] = (struct vring_desc){.addr = 0x10000, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 3};
	desc(f)[3] = (struct vring_desc){
	    .addr = 0x11000, .len = 512, .flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, .next = 5};
	desc(f)[5] = (struct vring_desc){.addr = 0x12000, .len = 1, .flags = VRING_DESC_F_WRITE};
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &c, &e), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.nread, 1);
	assert_int_equal(c.nwrite, 2);
	assert_ptr_equal(c.iov[0].iov_base, f->m.host + 0x10000);
	assert_int_equal(c.write_len, 513);
	virtq_push(&f->q, c.head, 513);
	assert_int_equal(used(f)->idx, 1);
	assert_int_equal(used(f)->ring[0].id, 0);
	assert_int_equal(used(f)->ring[0].len, 513);
	assert_true(virtq_needs_interrupt(&f->q));
	avail(f)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	assert_false(virtq_needs_interrupt(&f->q));
	/* Ring wrap: the 16-bit indexes run past 65535 and entries are taken mod the queue size. */
	f->q.last_avail = 0xffff;
	avail(f)->idx = 0xffff;
	offer(f, 5);
	assert_int_equal(avail(f)->idx, 0);
	assert_int_equal(virtq_pop(&f->q, &c, &e), 1);
	assert_int_equal(c.head, 5);
}

static void expect_broken(struct fixture *f, const char *what)
{
	struct virtq_chain c;
	isola_error e;
	assert_int_equal(virtq_pop(&f->q, &c, &e), -1);
	if (!strstr(e.msg, what))
		fail_msg("expected \"%s\" in \"%s\"", what, e.msg);
	assert_true(f->q.broken);
	/* A broken queue stays quiet: no further pops, pushes are dropped. */
	assert_int_equal(virtq_pop(&f->q, &c, &e), 0);
}

static void test_avail_idx_jump(void **state)
{
	struct fixture *f = *state;
	avail(f)->idx = QS + 1;
	expect_broken(f, "ran more than the queue size");
}

static void test_head_out_of_range(void **state)
{
	struct fixture *f = *state;
	offer(f, QS);
	expect_broken(f, "head descriptor index");
}

static void test_loop(void **state)
{
	struct fixture *f = *state;
	desc(f)[1] = (struct vring_desc){.addr = 0x10000, .len = 4, .flags = VRING_DESC_F_NEXT, .next = 2};
	desc(f)[2] = (struct vring_desc){.addr = 0x10000, .len = 4, .flags = VRING_DESC_F_NEXT, .next = 1};
	offer(f, 1);
	expect_broken(f, "loops");
}

static void test_next_out_of_range(void **state)
{
	struct fixture *f = *state;
	desc(f)[1] = (struct vring_desc){.addr = 0x10000, .len = 4, .flags = VRING_DESC_F_NEXT, .next = 0x8000};
	offer(f, 1);
	expect_broken(f, "next descriptor index");
}

static void test_buffer_outside_ram(void **state)
{
	struct fixture *f = *state;
	desc(f)[0] = (struct vring_desc){.addr = RAM - 8, .len = 16};
	offer(f, 0);
	expect_broken(f, "outside guest RAM");
}

static void test_buffer_wraps(void **state)
{
	struct fixture *f = *state;
	desc(f)[0] = (struct vring_desc){.addr = 0xfffffffffffff000ULL, .len = 0x2000};
	offer(f, 0);
	expect_broken(f, "outside guest RAM");
}

static void test_read_after_write(void **state)
{
	struct fixture *f = *state;
	desc(f)[0] =
	    (struct vring_desc){.addr = 0x10000, .len = 4, .flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, .next = 1};
	desc(f)[1] = (struct vring_desc){.addr = 0x10000, .len = 4};
	offer(f, 0);
	expect_broken(f, "readable descriptor after a writable");
}

static void test_indirect_refused(void **state)
{
	struct fixture *f = *state;
	desc(f)[0] = (struct vring_desc){.addr = 0x10000, .len = 64, .flags = VRING_DESC_F_INDIRECT};
	offer(f, 0);
	expect_broken(f, "indirect");
}

static void test_enable_checks(void **state)
{
	struct fixture *f = *state;
	isola_error e;
	struct virtq q;
	virtq_reset(&q, 6); /* not a power of two */
	q.desc_gpa = DESC, q.avail_gpa = AVAIL, q.used_gpa = USED;
	assert_int_equal(virtq_enable(&q, &f->m, &e), -1);
	virtq_reset(&q, QS);
	q.desc_gpa = DESC + 8, q.avail_gpa = AVAIL, q.used_gpa = USED; /* misaligned */
	assert_int_equal(virtq_enable(&q, &f->m, &e), -1);
	q.desc_gpa = RAM - 16, q.avail_gpa = AVAIL, q.used_gpa = USED; /* table runs off the end */
	assert_int_equal(virtq_enable(&q, &f->m, &e), -1);
	assert_non_null(strstr(e.msg, "outside guest RAM"));
}

static void test_iov_copy(void **state)
{
	char a[4] = {0}, b[4] = {0};
	struct iovec iov[2] = {{a, 4}, {b, 4}};
	assert_int_equal(buf_to_iov(iov, 2, 2, "xyzw!", 5), 5);
	assert_memory_equal(a + 2, "xy", 2);
	assert_memory_equal(b, "zw!", 3);
	char out[8] = {0};
	assert_int_equal(iov_to_buf(iov, 2, 3, out, 8), 5);
	assert_memory_equal(out, "yzw!", 4);
	assert_int_equal(buf_to_iov(iov, 2, 100, "x", 1), 0); /* skip past the end copies nothing */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_pop_chain),         T(test_avail_idx_jump),     T(test_head_out_of_range), T(test_loop),
	    T(test_next_out_of_range), T(test_buffer_outside_ram), T(test_buffer_wraps),      T(test_read_after_write),
	    T(test_indirect_refused),  T(test_enable_checks),      T(test_iov_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
