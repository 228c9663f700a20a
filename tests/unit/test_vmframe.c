#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmframe.h"

static uint8_t wire[8 * (VMFRAME_HDR + VMFRAME_MAX)];

static size_t put(size_t at, uint16_t type, uint16_t stream, uint32_t seq, const char *p)
{
	return at + vmframe_encode(wire + at, type, stream, seq, p, strlen(p));
}

/* Feeds all of wire[0..n) in chunks of step, collecting the frames' payloads. */
static int drain(struct vmframe_dec *d, size_t n, size_t step, char got[][64], uint32_t *gaps)
{
	struct vmframe f;
	size_t off = 0;
	int k = 0;

	while (off < n || vmframe_next(d, &f)) {
		if (d->pending == 0 && off < n) {
			size_t want = n - off < step ? n - off : step;

			off += vmframe_feed(d, wire + off, want);
		}
		while (vmframe_next(d, &f)) {
			assert_true(f.len < 64);
			memcpy(got[k], f.p, f.len);
			got[k][f.len] = 0;
			gaps[k++] = f.gap;
		}
	}
	return k;
}

static void test_vmframe_roundtrip_in_any_chunking(void **state)
{
	static struct vmframe_dec d;
	char got[8][64];
	uint32_t gaps[8];
	size_t n = put(0, VMFRAME_EVENT, 0, 0, "one");

	n = put(n, VMFRAME_EVENT, 0, 1, "two");
	n = put(n, VMFRAME_LOSS, 1, 0, "");
	for (size_t step = 1; step < 40; step += 7) {
		memset(&d, 0, sizeof(d));
		assert_int_equal(drain(&d, n, step, got, gaps), 3);
		assert_string_equal(got[0], "one");
		assert_string_equal(got[1], "two");
		assert_string_equal(got[2], "");
		assert_int_equal(gaps[1], 0);
		assert_int_equal(d.bad[VMFRAME_BAD_SKIPPED], 0);
	}
}

static void test_vmframe_garbage_between_frames_is_skipped_and_counted(void **state)
{
	static struct vmframe_dec d;
	char got[8][64];
	uint32_t gaps[8];
	size_t n = put(0, VMFRAME_EVENT, 0, 0, "a");

	memcpy(wire + n, "\x00garbage STVM", 13); /* a false magic among it */
	n = put(n + 13, VMFRAME_EVENT, 0, 1, "b");
	assert_int_equal(drain(&d, n, 5, got, gaps), 2);
	assert_string_equal(got[1], "b");
	assert_int_equal(d.bad[VMFRAME_BAD_SKIPPED], 13);
	assert_int_equal(d.bad[VMFRAME_BAD_RUNS], 1);
}

static void test_vmframe_oversized_length_is_refused_unread(void **state)
{
	static struct vmframe_dec d;
	char got[8][64];
	uint32_t gaps[8];
	size_t n = put(0, VMFRAME_EVENT, 0, 0, "x");

	/* a header that claims 1 GiB: refused at once, the next frame still arrives */
	wire[4] = 0;
	wire[5] = 0;
	wire[6] = 0;
	wire[7] = 0x40;
	n = put(n, VMFRAME_EVENT, 0, 1, "after");
	assert_int_equal(drain(&d, n, 3, got, gaps), 1);
	assert_string_equal(got[0], "after");
	assert_int_equal(d.bad[VMFRAME_BAD_LEN], 1);
	assert_int_equal(d.bad[VMFRAME_BAD_RUNS], 0); /* its bytes are that one bad frame */
	assert_int_equal(gaps[0], 1); /* frame 0 never came */
}

static void test_vmframe_bad_checksum_is_dropped(void **state)
{
	static struct vmframe_dec d;
	char got[8][64];
	uint32_t gaps[8];
	size_t n = put(0, VMFRAME_EVENT, 0, 0, "flipped");

	wire[VMFRAME_HDR + 2] ^= 1;
	n = put(n, VMFRAME_EVENT, 0, 1, "fine");
	assert_int_equal(drain(&d, n, 64, got, gaps), 1);
	assert_string_equal(got[0], "fine");
	assert_int_equal(d.bad[VMFRAME_BAD_CRC], 1);
}

static void test_vmframe_sequence_gaps_and_replays(void **state)
{
	static struct vmframe_dec d;
	char got[8][64];
	uint32_t gaps[8];
	size_t n = put(0, VMFRAME_EVENT, 0, 0, "0");

	n = put(n, VMFRAME_EVENT, 0, 5, "5");   /* 4 missing */
	n = put(n, VMFRAME_EVENT, 0, 3, "3");   /* from the past: refused */
	n = put(n, VMFRAME_EVENT, 1, 0, "s1");  /* streams count apart */
	n = put(n, VMFRAME_EVENT, 2, 0, "bad"); /* no such stream */
	assert_int_equal(drain(&d, n, 64, got, gaps), 3);
	assert_int_equal(gaps[1], 4);
	assert_string_equal(got[2], "s1");
	assert_int_equal(gaps[2], 0);
	assert_int_equal(d.bad[VMFRAME_BAD_SEQ], 1);
	assert_int_equal(d.bad[VMFRAME_BAD_STREAM], 1);
}

static void test_vmspec_roundtrip_and_strictness(void **state)
{
	char *argv[] = { "sh", "-c", "echo 'a b'", NULL }, *envp[] = { "PATH=/bin", NULL };
	char *mounts[] = { "9 vol0 /mnt", "t 1048576 /tmp", NULL };
	struct vmspec s = { .uid = 1000, .gid = 1001, .workdir = "/mnt", .argv = argv, .envp = envp, .mounts = mounts };
	static uint8_t buf[VMFRAME_MAX];
	char *av[8], *ev[8], *mv[8];
	struct vmspec t;
	int n = vmspec_encode(buf, &s);

	assert_true(n > 16);
	assert_int_equal(vmspec_decode(buf, (size_t)n, &t, av, ev, mv, 7), 0);
	assert_int_equal(t.uid, 1000);
	assert_int_equal(t.gid, 1001);
	assert_string_equal(t.workdir, "/mnt");
	assert_string_equal(t.argv[2], "echo 'a b'");
	assert_null(t.argv[3]);
	assert_string_equal(t.envp[0], "PATH=/bin");
	assert_string_equal(t.mounts[1], "t 1048576 /tmp");
	assert_null(t.mounts[2]);
	/* a string without its NUL, a count past the bound, bytes left over */
	assert_int_equal(vmspec_decode(buf, (size_t)n - 1, &t, av, ev, mv, 7), -EBADMSG);
	assert_int_equal(vmspec_decode(buf, (size_t)n, &t, av, ev, mv, 2), -EBADMSG);
	buf[n] = 0;
	assert_int_equal(vmspec_decode(buf, (size_t)n + 1, &t, av, ev, mv, 7), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmframe_roundtrip_in_any_chunking),
		cmocka_unit_test(test_vmframe_garbage_between_frames_is_skipped_and_counted),
		cmocka_unit_test(test_vmframe_oversized_length_is_refused_unread),
		cmocka_unit_test(test_vmframe_bad_checksum_is_dropped),
		cmocka_unit_test(test_vmframe_sequence_gaps_and_replays),
		cmocka_unit_test(test_vmspec_roundtrip_and_strictness),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
