#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zstd.h>

#include "segment.h"

#define READ_CHUNK (1u << 20)
#define BLOCK_HDR sizeof(struct jf_block_header)

void segment_name(char *out, uint64_t first_seq)
{
	snprintf(out, JF_SEGMENT_NAME_LEN + 1, "%020" PRIu64 JF_SEGMENT_SUFFIX, first_seq);
}

bool segment_name_parse(const char *name, uint64_t *first_seq)
{
	uint64_t v = 0;

	if (strlen(name) != JF_SEGMENT_NAME_LEN || strcmp(name + 20, JF_SEGMENT_SUFFIX) != 0)
		return false;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(name[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*first_seq = v;
	return true;
}

void segment_header_encode(struct jf_segment_header *h, const struct segment_info *info)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, JF_SEGMENT_MAGIC, sizeof(h->magic));
	h->version = htole32(JF_VERSION);
	h->header_size = htole32(sizeof(*h));
	h->first_seq = htole64(info->first_seq);
	h->created_ns = htole64(info->created_ns);
	h->seal_from = htole64(info->seal_from);
	h->epoch = htole32(info->epoch);
	memcpy(h->head, info->head, JF_HASH_LEN);
	memcpy(h->epoch_pub, info->epoch_pub, JOURNAL_PUB_LEN);
	memcpy(h->journal_id, info->journal_id, JOURNAL_ID_LEN);
	h->crc = htole32(libdeflate_crc32(0, h, offsetof(struct jf_segment_header, crc)));
}

uint32_t segment_header_version(const void *p, size_t len)
{
	const struct jf_segment_header *h = p;
	le32_t v;

	if (len < offsetof(struct jf_segment_header, header_size) || memcmp(h->magic, JF_SEGMENT_MAGIC, sizeof(h->magic)))
		return 0;
	memcpy(&v, &h->version, sizeof(v));
	return le32toh(v) == JF_VERSION ? 0 : le32toh(v);
}

int segment_header_decode(const void *p, size_t len, struct segment_info *info)
{
	struct jf_segment_header h;

	if (segment_header_version(p, len) > 0)
		return -EPROTO;
	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, JF_SEGMENT_MAGIC, sizeof(h.magic)) != 0 || le32toh(h.version) != JF_VERSION ||
	    le32toh(h.header_size) != sizeof(h) || h.flags != 0 || h.reserved != 0 ||
	    le32toh(h.crc) != libdeflate_crc32(0, &h, offsetof(struct jf_segment_header, crc)))
		return -EBADMSG;
	info->first_seq = le64toh(h.first_seq);
	info->created_ns = le64toh(h.created_ns);
	info->seal_from = le64toh(h.seal_from);
	info->epoch = le32toh(h.epoch);
	memcpy(info->head, h.head, JF_HASH_LEN);
	memcpy(info->epoch_pub, h.epoch_pub, JOURNAL_PUB_LEN);
	memcpy(info->journal_id, h.journal_id, JOURNAL_ID_LEN);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int segment_list(int dirfd, uint64_t **firsts, size_t *n)
{
	uint64_t *v = NULL, first;
	size_t len = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		if (!segment_name_parse(de->d_name, &first))
			continue;
		if (len == cap) {
			uint64_t *p = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (!p) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = p;
		}
		v[len++] = first;
	}
	closedir(d);
	if (len)
		qsort(v, len, sizeof(*v), cmp_u64);
	*firsts = v;
	*n = len;
	return 0;
}

int segment_create(int dirfd, const char *name, const struct segment_info *info)
{
	struct jf_segment_header h;
	ssize_t n;
	int fd, err;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	segment_header_encode(&h, info);
	n = write(fd, &h, sizeof(h));
	if (n == (ssize_t)sizeof(h))
		return fd;
	/* short: the next write says why (ENOSPC) */
	if (n >= 0 && write(fd, (uint8_t *)&h + n, sizeof(h) - (size_t)n) == (ssize_t)(sizeof(h) - (size_t)n))
		return fd;
	err = errno ? -errno : -EIO;
	close(fd);
	unlinkat(dirfd, name, 0);
	return err;
}

struct segment_writer {
	ZSTD_CCtx *c;
	int level;
	uint8_t *zbuf;
	size_t zcap;
};

int segment_writer_new(struct segment_writer **out, int level)
{
	struct segment_writer *w;

	if (level < SEGMENT_LEVEL_MIN || level > SEGMENT_LEVEL_MAX || level == 0)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->c = ZSTD_createCCtx();
	if (!w->c) {
		free(w);
		return -ENOMEM;
	}
	w->level = level;
	*out = w;
	return 0;
}

void segment_writer_free(struct segment_writer *w)
{
	if (!w)
		return;
	ZSTD_freeCCtx(w->c);
	free(w->zbuf);
	free(w);
}

long segment_write_block(struct segment_writer *w, int fd, uint64_t first_seq, uint32_t nrec,
			 const void *frames, size_t ulen, const uint8_t *hashes)
{
	struct jf_block_header h;
	size_t bound, zlen, total;
	struct iovec iov[3];
	ssize_t n;
	uint32_t crc;

	if (nrec == 0 || ulen > JF_BLOCK_ULEN_MAX)
		return -EINVAL;
	bound = ZSTD_compressBound(ulen);
	if (bound > w->zcap) {
		uint8_t *p = realloc(w->zbuf, bound);

		if (!p)
			return -ENOMEM;
		w->zbuf = p;
		w->zcap = bound;
	}
	zlen = ZSTD_compressCCtx(w->c, w->zbuf, w->zcap, frames, ulen, w->level);
	if (ZSTD_isError(zlen) || zlen > JF_BLOCK_ZLEN_MAX)
		return -EIO;
	h = (struct jf_block_header){
		.magic = htole32(JF_BLOCK_MAGIC),
		.flags = htole32(JF_BLOCK_ZSTD),
		.zlen = htole32((uint32_t)zlen),
		.ulen = htole32((uint32_t)ulen),
		.first_seq = htole64(first_seq),
		.nrec = htole32(nrec),
	};
	crc = libdeflate_crc32(0, &h, offsetof(struct jf_block_header, crc));
	crc = libdeflate_crc32(crc, w->zbuf, zlen);
	crc = libdeflate_crc32(crc, hashes, (size_t)nrec * JF_HASH_LEN);
	h.crc = htole32((uint32_t)crc);
	iov[0] = (struct iovec){ &h, sizeof(h) };
	iov[1] = (struct iovec){ w->zbuf, zlen };
	iov[2] = (struct iovec){ (void *)hashes, (size_t)nrec * JF_HASH_LEN };
	total = sizeof(h) + zlen + (size_t)nrec * JF_HASH_LEN;
	/* a short write is what a full disk gives first: the rest is written
	 * again, so that the error said is the kernel's (ENOSPC, EDQUOT, EFBIG) */
	for (int i = 0; i < 3;) {
		do
			n = writev(fd, iov + i, 3 - i);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		while (i < 3 && (size_t)n >= iov[i].iov_len)
			n -= (ssize_t)iov[i++].iov_len;
		if (i < 3) {
			iov[i].iov_base = (uint8_t *)iov[i].iov_base + n;
			iov[i].iov_len -= (size_t)n;
		}
	}
	return (long)total;
}

int segment_next_frame(const struct segment_block *b, size_t *off, uint32_t *idx, struct segment_frame *f)
{
	struct jf_frame h;
	uint32_t len;

	if (*idx == b->nrec)
		return *off == b->ulen ? 0 : -EBADMSG;
	if (b->ulen - *off < sizeof(h))
		return -EBADMSG;
	memcpy(&h, b->frames + *off, sizeof(h)); /* frames are not aligned */
	len = le32toh(h.len);
	if (len > JF_RECORD_MAX || len > b->ulen - *off - sizeof(h) || h.kind > JF_KIND_MAX || h.zero[0] ||
	    h.zero[1] || h.zero[2])
		return -EBADMSG;
	*f = (struct segment_frame){
		.hdr = b->frames + *off,
		.seq = le64toh(h.seq),
		.kind = h.kind,
		.payload = b->frames + *off + sizeof(h),
		.len = len,
		.hash = b->hashes + (size_t)*idx * JF_HASH_LEN,
	};
	*off += sizeof(h) + len;
	(*idx)++;
	return 1;
}

struct segment_reader {
	int fd;
	uint8_t *buf;  /* window on the file: bytes [base, base + len) */
	size_t cap, len;
	uint64_t base;
	uint64_t off;  /* next block */
	struct libdeflate_decompressor *d; /* zlib blocks */
	ZSTD_DCtx *zd;
	uint8_t *ubuf;
	size_t ucap;
};

int segment_reader_open(struct segment_reader **out, int dirfd, const char *name)
{
	struct segment_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->d = libdeflate_alloc_decompressor();
	r->zd = ZSTD_createDCtx();
	r->fd = -1;
	if (!r->d || !r->zd) {
		segment_reader_close(r);
		return -ENOMEM;
	}
	r->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int err = -errno;

		segment_reader_close(r);
		return err;
	}
	*out = r;
	return 0;
}

void segment_reader_close(struct segment_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	libdeflate_free_decompressor(r->d);
	ZSTD_freeDCtx(r->zd);
	free(r->buf);
	free(r->ubuf);
	free(r);
}

/* Makes file bytes [off, off + n) readable at r->buf + (off - r->base) as far
 * as the file has them; returns how many bytes from off are there. */
static long window(struct segment_reader *r, uint64_t off, size_t n)
{
	size_t have, want;

	if (off < r->base || off > r->base + r->len) {
		r->base = off;
		r->len = 0;
	}
	have = r->base + r->len - off;
	if (have >= n)
		return (long)have;
	if (have)
		memmove(r->buf, r->buf + (off - r->base), have);
	r->base = off;
	r->len = have;
	want = n > READ_CHUNK ? n : READ_CHUNK;
	if (want > r->cap) {
		uint8_t *p = realloc(r->buf, want);

		if (!p)
			return -ENOMEM;
		r->buf = p;
		r->cap = want;
	}
	while (r->len < n) {
		ssize_t k = pread(r->fd, r->buf + r->len, r->cap - r->len, (off_t)(r->base + r->len));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		r->len += (size_t)k;
	}
	return (long)r->len;
}

int segment_reader_header(struct segment_reader *r, struct segment_info *info)
{
	long avail = window(r, 0, sizeof(struct jf_segment_header));

	if (avail < 0)
		return (int)avail;
	if (segment_header_version(r->buf, (size_t)avail))
		return -EPROTO;
	if ((size_t)avail < sizeof(struct jf_segment_header))
		return 0;
	if (segment_header_decode(r->buf, (size_t)avail, info) < 0)
		return -EBADMSG;
	if (r->off < sizeof(struct jf_segment_header))
		r->off = sizeof(struct jf_segment_header);
	return 1;
}

/* Exactly ulen bytes out of exactly zlen bytes in, by the block's codec. */
static int decompress(struct segment_reader *r, uint32_t flags, const uint8_t *z, size_t zlen, size_t ulen)
{
	size_t used;

	if (flags == JF_BLOCK_ZSTD)
		return ZSTD_decompressDCtx(r->zd, r->ubuf, ulen, z, zlen) == ulen ? 0 : -EBADMSG;
	/* no actual_out: a shorter stream fails; the Adler-32 is checked */
	if (libdeflate_zlib_decompress_ex(r->d, z, zlen, r->ubuf, ulen, &used, NULL) != LIBDEFLATE_SUCCESS ||
	    used != zlen)
		return -EBADMSG;
	return 0;
}

/* Decodes the block at off: its size, 0 when incomplete, -EBADMSG. */
static long decode_at(struct segment_reader *r, uint64_t off, struct segment_block *b)
{
	struct jf_block_header h;
	uint32_t zlen, ulen, nrec, flags;
	uint64_t size;
	const uint8_t *p;
	long avail;
	uint32_t crc;

	avail = window(r, off, BLOCK_HDR);
	if (avail < 0)
		return avail;
	if ((size_t)avail < BLOCK_HDR)
		return 0;
	memcpy(&h, r->buf + (off - r->base), sizeof(h));
	zlen = le32toh(h.zlen);
	ulen = le32toh(h.ulen);
	nrec = le32toh(h.nrec);
	flags = le32toh(h.flags);
	if (le32toh(h.magic) != JF_BLOCK_MAGIC || (flags != JF_BLOCK_ZSTD && flags != JF_BLOCK_ZLIB) ||
	    zlen > JF_BLOCK_ZLEN_MAX || ulen > JF_BLOCK_ULEN_MAX || nrec == 0 ||
	    nrec > ulen / sizeof(struct jf_frame))
		return -EBADMSG;
	size = BLOCK_HDR + (uint64_t)zlen + (uint64_t)nrec * JF_HASH_LEN;
	avail = window(r, off, size);
	if (avail < 0)
		return avail;
	if ((uint64_t)avail < size)
		return 0;
	p = r->buf + (off - r->base);
	crc = libdeflate_crc32(0, p, offsetof(struct jf_block_header, crc));
	crc = libdeflate_crc32(crc, p + BLOCK_HDR, size - BLOCK_HDR);
	if (crc != le32toh(h.crc))
		return -EBADMSG;
	if (ulen > r->ucap) {
		uint8_t *u = realloc(r->ubuf, ulen);

		if (!u)
			return -ENOMEM;
		r->ubuf = u;
		r->ucap = ulen;
	}
	if (decompress(r, flags, p + BLOCK_HDR, zlen, ulen) < 0)
		return -EBADMSG;
	*b = (struct segment_block){
		.offset = off,
		.size = size,
		.first_seq = le64toh(h.first_seq),
		.nrec = nrec,
		.frames = r->ubuf,
		.ulen = ulen,
		.hashes = p + BLOCK_HDR + zlen,
	};
	return (long)size;
}

int segment_reader_next(struct segment_reader *r, struct segment_block *b)
{
	long n = decode_at(r, r->off, b);

	if (n <= 0)
		return (int)n;
	r->off += (uint64_t)n;
	return 1;
}

uint64_t segment_reader_offset(const struct segment_reader *r)
{
	return r->off;
}

uint64_t segment_reader_remaining(struct segment_reader *r)
{
	struct stat st;

	if (fstat(r->fd, &st) < 0 || (uint64_t)st.st_size < r->off)
		return 0;
	return (uint64_t)st.st_size - r->off;
}

int segment_reader_resync(struct segment_reader *r)
{
	static const uint8_t magic[4] = { 'S', 'T', 'J', 'B' };
	uint64_t pos = r->off + 1;

	for (;;) {
		struct segment_block b;
		long avail = window(r, pos, READ_CHUNK);
		const uint8_t *p, *q;

		if (avail < 0)
			return (int)avail;
		if ((size_t)avail < sizeof(magic))
			return 0;
		p = r->buf + (pos - r->base);
		q = memmem(p, (size_t)avail, magic, sizeof(magic));
		if (!q) {
			if ((size_t)avail < READ_CHUNK)
				return 0;
			pos += (uint64_t)avail - (sizeof(magic) - 1);
			continue;
		}
		pos += (uint64_t)(q - p);
		avail = decode_at(r, pos, &b);
		if (avail < 0 && avail != -EBADMSG)
			return (int)avail;
		if (avail > 0) {
			r->off = pos;
			return 1;
		}
		pos++;
	}
}

uint32_t segment_reader_peek_nrec(struct segment_reader *r)
{
	struct jf_block_header h;
	long avail = window(r, r->off, BLOCK_HDR);

	if (avail < (long)BLOCK_HDR)
		return 0;
	memcpy(&h, r->buf + (r->off - r->base), sizeof(h));
	return le32toh(h.magic) == JF_BLOCK_MAGIC ? le32toh(h.nrec) : 0;
}
