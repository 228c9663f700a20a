#include <errno.h>
#include <string.h>

#include "vmframe.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* header: magic u32, len u32, type u16, stream u16, seq u32, crc u32,
 * zero u32; the CRC covers the 16 bytes before it and the payload */
/* CRC-32 (IEEE 802.3, zlib's), a nibble at a time: sandtrail run and the
 * static guest agent then need no zlib (run loads none of the journal's
 * libraries: test_cli_split) */
static uint32_t crc32_update(uint32_t c, const uint8_t *p, size_t len)
{
	static const uint32_t nibble[16] = {
		0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
		0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		c = (c >> 4) ^ nibble[c & 15];
		c = (c >> 4) ^ nibble[c & 15];
	}
	return c;
}

static uint32_t crc_of(const uint8_t *hdr, const uint8_t *p, size_t len)
{
	return ~crc32_update(crc32_update(~0u, hdr, 16), p, len);
}

size_t vmframe_encode(uint8_t *out, uint16_t type, uint16_t stream, uint32_t seq, const void *p, size_t len)
{
	put32(out, VMFRAME_MAGIC);
	put32(out + 4, (uint32_t)len);
	put16(out + 8, type);
	put16(out + 10, stream);
	put32(out + 12, seq);
	if (len)
		memmove(out + VMFRAME_HDR, p, len);
	put32(out + 16, crc_of(out, out + VMFRAME_HDR, len));
	put32(out + 20, 0);
	return VMFRAME_HDR + len;
}

static void drop(struct vmframe_dec *d, size_t n)
{
	memmove(d->buf, d->buf + n, d->have - n);
	d->have -= n;
}

size_t vmframe_feed(struct vmframe_dec *d, const void *data, size_t n)
{
	size_t room;

	if (d->pending) {
		drop(d, d->pending);
		d->pending = 0;
	}
	room = sizeof(d->buf) - d->have;
	if (n > room)
		n = room;
	memcpy(d->buf + d->have, data, n);
	d->have += n;
	return n;
}

/* Drops bytes up to the next possible magic (a partial one at the end is kept). */
static void resync(struct vmframe_dec *d, size_t from)
{
	uint8_t m[4];
	size_t i;

	put32(m, VMFRAME_MAGIC);
	for (i = from; i < d->have; i++) {
		size_t k = d->have - i < 4 ? d->have - i : 4;

		if (!memcmp(d->buf + i, m, k))
			break;
	}
	d->bad[VMFRAME_BAD_SKIPPED] += i;
	if (i && !d->in_run) {
		d->bad[VMFRAME_BAD_RUNS]++;
		d->in_run = true;
	}
	drop(d, i);
}

bool vmframe_next(struct vmframe_dec *d, struct vmframe *f)
{
	if (d->pending) {
		drop(d, d->pending);
		d->pending = 0;
	}
	for (;;) {
		uint32_t len, seq, want;
		uint16_t stream;

		if (d->have >= 4 && get32(d->buf) != VMFRAME_MAGIC)
			resync(d, 1);
		if (d->have < VMFRAME_HDR)
			return false;
		len = get32(d->buf + 4);
		if (len > VMFRAME_MAX) {
			/* refused before a byte of it is read: the next magic is the
			 * next frame (the bytes skipped to it are this bad frame's) */
			d->bad[VMFRAME_BAD_LEN]++;
			d->in_run = true;
			resync(d, 1);
			continue;
		}
		if (d->have < VMFRAME_HDR + len)
			return false;
		if (crc_of(d->buf, d->buf + VMFRAME_HDR, len) != get32(d->buf + 16) || get32(d->buf + 20)) {
			d->bad[VMFRAME_BAD_CRC]++;
			d->in_run = true;
			resync(d, 1);
			continue;
		}
		stream = get16(d->buf + 10);
		seq = get32(d->buf + 12);
		if (stream >= VMFRAME_STREAMS) {
			d->bad[VMFRAME_BAD_STREAM]++;
			drop(d, VMFRAME_HDR + len);
			continue;
		}
		want = d->seen[stream] ? d->next_seq[stream] : 0;
		/* a frame of the past (replayed, duplicated) is refused */
		if ((int32_t)(seq - want) < 0) {
			d->bad[VMFRAME_BAD_SEQ]++;
			drop(d, VMFRAME_HDR + len);
			continue;
		}
		d->seen[stream] = true;
		d->next_seq[stream] = seq + 1;
		d->in_run = false;
		*f = (struct vmframe){ .type = get16(d->buf + 8), .stream = stream, .seq = seq, .gap = seq - want,
				       .p = d->buf + VMFRAME_HDR, .len = len };
		d->pending = VMFRAME_HDR + len;
		return true;
	}
}

/* ---- the command: uid, gid, argc, envc, mountc (u32), then workdir,
 * argv, envp and mounts, each NUL-terminated ---- */

int vmspec_encode(uint8_t *out, const struct vmspec *s)
{
	char *const *lists[3] = { s->argv, s->envp, s->mounts };
	size_t n = 20, l = strlen(s->workdir) + 1;

	if (n + l > VMFRAME_MAX)
		return -EMSGSIZE;
	memcpy(out + n, s->workdir, l);
	n += l;
	for (int k = 0; k < 3; k++) {
		size_t count = 0;

		for (; lists[k][count]; count++) {
			l = strlen(lists[k][count]) + 1;
			if (n + l > VMFRAME_MAX)
				return -EMSGSIZE;
			memcpy(out + n, lists[k][count], l);
			n += l;
		}
		put32(out + 8 + 4 * k, (uint32_t)count);
	}
	put32(out, s->uid);
	put32(out + 4, s->gid);
	return (int)n;
}

int vmspec_decode(uint8_t *p, size_t len, struct vmspec *s, char **argv, char **envp, char **mounts, size_t max)
{
	char **lists[3] = { argv, envp, mounts };
	uint32_t count[3];
	size_t off = 20;
	char *workdir = NULL;

	if (len < 20 || len > VMFRAME_MAX)
		return -EBADMSG;
	for (int k = 0; k < 3; k++) {
		count[k] = get32(p + 8 + 4 * k);
		if (count[k] > max)
			return -EBADMSG;
	}
	if (!count[0])
		return -EBADMSG;
	for (int k = -1; k < 3; k++) {
		for (size_t i = 0; i < (k < 0 ? 1 : count[k]); i++) {
			uint8_t *nul = off < len ? memchr(p + off, 0, len - off) : NULL;

			if (!nul)
				return -EBADMSG;
			if (k < 0)
				workdir = (char *)p + off;
			else
				lists[k][i] = (char *)p + off;
			off = (size_t)(nul - p) + 1;
		}
		if (k >= 0)
			lists[k][count[k]] = NULL;
	}
	if (off != len)
		return -EBADMSG;
	*s = (struct vmspec){ .uid = get32(p), .gid = get32(p + 4), .workdir = workdir, .argv = argv, .envp = envp,
			      .mounts = mounts };
	return 0;
}
