/* gVisor's remote sink protocol (schemas/gvisor.proto): the handshake, the
 * 8-byte header and one protobuf message per SOCK_SEQPACKET datagram.  The
 * Sentry is untrusted: a datagram is at most GVISOR_MSG_MAX bytes, decoding
 * allocates only from a fixed arena, and a message of a type sandtraild did
 * not ask for is as malformed as one that does not parse. */
#ifndef SANDTRAIL_GVISOR_WIRE_H
#define SANDTRAIL_GVISOR_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gvisor.pb-c.h"

#define GVISOR_WIRE_VERSION 1
#define GVISOR_HDR_SIZE     8
#define GVISOR_MSG_MAX      (256 * 1024)   /* a larger datagram is rejected */
#define GVISOR_ARENA_SIZE   (4 * 1024 * 1024)

typedef Sandtrail__Gvisor__ContextData GvisorContext;

struct gvisor_msg {
	uint16_t type;    /* SANDTRAIL__GVISOR__MESSAGE_TYPE__* */
	uint32_t dropped; /* points the Sentry failed to send so far (wraps) */
	union {
		ProtobufCMessage *base;
		Sandtrail__Gvisor__ContainerStart *start;
		Sandtrail__Gvisor__CloneInfo *clone;
		Sandtrail__Gvisor__ExitNotifyParentInfo *exit_notify;
		Sandtrail__Gvisor__TaskExit *task_exit;
		Sandtrail__Gvisor__Syscall *raw;
		Sandtrail__Gvisor__Open *open;
		Sandtrail__Gvisor__Connect *connect;
		Sandtrail__Gvisor__Execve *execve;
		Sandtrail__Gvisor__Bind *bind;
		Sandtrail__Gvisor__Accept *accept;
	} u;
};

/* Where protobuf-c allocates while decoding one message; reset per message. */
struct gvisor_arena {
	ProtobufCAllocator alloc;
	uint8_t *buf;
	size_t cap, used;
	bool exhausted;
};

int gvisor_arena_init(struct gvisor_arena *a, size_t cap);
void gvisor_arena_free(struct gvisor_arena *a);

/* The peer's handshake: 0 and its version, or -EBADMSG. */
int gvisor_wire_handshake_parse(struct gvisor_arena *a, const void *p, size_t len, uint32_t *version);
/* Ours, packed into out; returns its length. */
size_t gvisor_wire_handshake_pack(uint8_t out[16]);
/* Only the header: 0, or -EBADMSG when it does not fit in len. */
int gvisor_wire_header(const void *p, size_t len, uint16_t *type, uint32_t *dropped);
/* Header and payload into m (pointing into a's memory until the next call):
 * 0, -EBADMSG (malformed or a type not asked for), -ENOMEM (the arena ran
 * out: too many fields for one message). */
int gvisor_wire_decode(struct gvisor_arena *a, const void *p, size_t len, struct gvisor_msg *m);
/* The record type a message type becomes ("exec", "open", ...), for loss
 * records; a raw syscall's depends on its number, which a drop does not
 * tell: its losses are of kind "syscall". */
const char *gvisor_wire_kind(uint16_t type);

#endif
