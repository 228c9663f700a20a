/* Frames between a microVM's guest agent and the host, over virtio-serial
 * byte streams (schemas/vmframe.md): a header of little-endian fields
 * (magic, payload length, type, stream, per-stream sequence, CRC-32 of the
 * header and payload, a zero word), then the payload.  The guest is untrusted: the
 * decoder holds at most one frame, refuses a length over VMFRAME_MAX
 * before reading it, and after a bad header skips to the next magic.
 * Shared by the guest agent, the manager (control port) and sandtraild's
 * microvm sink (event port). */
#ifndef SANDTRAIL_VMFRAME_H
#define SANDTRAIL_VMFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMFRAME_MAGIC   0x4d565453u /* "STVM" */
#define VMFRAME_HDR     24          /* a multiple of 8: payloads stay aligned */
#define VMFRAME_MAX     16384       /* payload bytes */
#define VMFRAME_STREAMS 2

/* streams of the event port: the capture programs', the agent's own */
enum { VMFRAME_STREAM_EVENTS = 0, VMFRAME_STREAM_AGENT = 1 };

enum vmframe_type {
	/* control port, host -> guest */
	VMFRAME_SPEC = 1,    /* the command: struct vmspec, encoded by vmspec_encode */
	/* control port, guest -> host */
	VMFRAME_READY = 2,   /* capture attached, CMD about to run: u32, µs the capture's load took */
	VMFRAME_EXIT = 3,    /* CMD's wait status: u32 */
	VMFRAME_FAIL = 4,    /* the agent could not run CMD: a message */
	/* event port, guest -> host */
	VMFRAME_EVENT = 16,  /* one capture sample */
	VMFRAME_LOSS = 17,   /* samples the guest dropped: struct vmloss */
	VMFRAME_DGRAMS = 18, /* at the end, the datagrams to one destination: struct vmdgrams */
};

/* A VMFRAME_EVENT's payload is one sample of bpf/events.h (the types
 * microvm_sink.c accepts), as the host's programs make them; a
 * VMFRAME_LOSS's is struct vmloss, a VMFRAME_DGRAMS's struct vmdgrams. */
struct vmloss {
	uint32_t type;          /* enum st_event_type that was dropped; 0: unknown */
	uint32_t reason;        /* enum st_loss_reason */
	uint64_t count;         /* since the previous report */
};

struct vmdgrams {
	uint8_t addr[16];       /* network order; IPv4 in the first 4 bytes */
	uint16_t family;        /* AF_INET, AF_INET6; 0: to destinations past the guest's full table */
	uint16_t port;          /* host order */
	uint32_t pad;
	uint64_t count;         /* every allowed datagram to it, the first included */
};

/* Writes a frame for payload p (len <= VMFRAME_MAX) into out, which holds
 * VMFRAME_HDR + len bytes; returns the frame's size. */
size_t vmframe_encode(uint8_t *out, uint16_t type, uint16_t stream, uint32_t seq, const void *p, size_t len);

/* what the decoder refused: frames (by why), bytes skipped between frames,
 * and runs of them (a run ends at a good frame) */
enum vmframe_bad { VMFRAME_BAD_CRC, VMFRAME_BAD_LEN, VMFRAME_BAD_STREAM, VMFRAME_BAD_SEQ, VMFRAME_BAD_SKIPPED,
		   VMFRAME_BAD_RUNS, VMFRAME_BAD_N };

struct vmframe_dec {
	uint8_t buf[VMFRAME_HDR + VMFRAME_MAX];
	size_t have;
	bool seen[VMFRAME_STREAMS];
	uint32_t next_seq[VMFRAME_STREAMS];
	uint64_t bad[VMFRAME_BAD_N];
	bool in_run;            /* skipping since the last good frame */
	size_t pending;         /* the frame vmframe_next gave, dropped at the next call */
};

struct vmframe {
	uint16_t type, stream;
	uint32_t seq;
	uint32_t gap;           /* frames of this stream missing before this one */
	const uint8_t *p;
	size_t len;
};

/* Feeds at most n bytes of d, as many as the decoder can take; returns how
 * many it took (0: a frame is waiting, take it first). */
size_t vmframe_feed(struct vmframe_dec *d, const void *data, size_t n);
/* The next whole, valid frame, valid until the next call; false when none
 * is complete yet.  Bad bytes are counted in d->bad and skipped. */
bool vmframe_next(struct vmframe_dec *d, struct vmframe *f);

/* The command the control port carries to the guest. */
struct vmspec {
	uint32_t uid, gid;
	const char *workdir;      /* "" for the default */
	char *const *argv;        /* NULL-terminated, each */
	char *const *envp;
	char *const *mounts;      /* "9 TAG DST" (a 9p share; "r": read-only), "t BYTES DST" (a tmpfs) */
};

/* -EMSGSIZE when it does not fit VMFRAME_MAX; else the payload's size. */
int vmspec_encode(uint8_t *out, const struct vmspec *s);
/* Decodes into s, pointing into p (whose strings it NUL-checks), with
 * argv, envp and mounts of at most max entries each (+ NULL); -EBADMSG. */
int vmspec_decode(uint8_t *p, size_t len, struct vmspec *s, char **argv, char **envp, char **mounts, size_t max);

#endif
