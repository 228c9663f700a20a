/* libFuzzer target: the segment reader and the verification path behind
 * `sandtrail verify` and `sandtrail replay`.
 * First byte even: the rest is a segment file as it is (framing, checksums,
 * inflate).  Odd: the rest is a stream of frames, packed with a valid header,
 * block and chain hashes, so that frame parsing and the seal and epoch checks
 * are reached. */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "journal/journal.h"
#include "journal/keys.h"
#include "journal/seal.h"
#include "journal/segment.h"

static char pub_path[64];
static struct segment_writer *writer;
static struct crypto_sha256 *sha;

static void init(void)
{
	uint8_t seed[JF_SEED_LEN] = { 7 }, pub[JOURNAL_PUB_LEN];

	snprintf(pub_path, sizeof(pub_path), "/tmp/fuzz-journal-%d.pub", (int)getpid());
	unlink(pub_path);
	if (crypto_ed25519_public(seed, pub) < 0 || keys_write_pub(pub_path, pub) < 0 ||
	    segment_writer_new(&writer, 1) < 0 || crypto_sha256_new(&sha) < 0)
		abort();
}

/* A valid segment around the frames in p; false when not one frame fits. */
static bool pack(int fd, const uint8_t *p, size_t len)
{
	struct segment_info info = { 0 };
	struct jf_segment_header h;
	uint8_t head[JF_HASH_LEN] = { 0 }, *hashes;
	size_t off = 0;
	uint32_t n = 0;

	while (off + sizeof(struct jf_frame) <= len) {
		uint32_t flen;

		memcpy(&flen, p + off, sizeof(flen));
		flen = le32toh(flen);
		if (flen > len - off - sizeof(struct jf_frame))
			break;
		off += sizeof(struct jf_frame) + flen;
		n++;
	}
	if (n == 0)
		return false;
	hashes = malloc((size_t)n * JF_HASH_LEN);
	off = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t flen;

		memcpy(&flen, p + off, sizeof(flen));
		flen = le32toh(flen);
		seal_chain(sha, head, p + off, p + off + sizeof(struct jf_frame), flen, hashes + (size_t)i * JF_HASH_LEN);
		memcpy(head, hashes + (size_t)i * JF_HASH_LEN, JF_HASH_LEN);
		off += sizeof(struct jf_frame) + flen;
	}
	segment_header_encode(&h, &info);
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) || segment_write_block(writer, fd, 0, n, p, off, hashes) < 0)
		abort();
	free(hashes);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_reader *r;
	struct journal_entry e;
	const struct journal_fault *faults;
	char path[64], *paths[1] = { path };
	int fd;

	if (!writer)
		init();
	if (size < 1 || size > JF_BLOCK_ULEN_MAX)
		return 0;
	fd = memfd_create("segment", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (data[0] & 1) {
		if (!pack(fd, data + 1, size - 1)) {
			close(fd);
			return 0;
		}
	} else if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (journal_reader_open_files(&r, paths, 1, pub_path) == 0) {
		while (journal_reader_next(r, &e) == 1)
			if (e.len && ((const uint8_t *)e.rec)[0] == 0xff && e.seal > JOURNAL_BAD)
				abort();
		journal_reader_check_end(r, false);
		journal_reader_faults(r, &faults);
		journal_reader_close(r);
	}
	close(fd);
	return 0;
}
