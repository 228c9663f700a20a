#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gvisor_wire.h"

/* One slot per message type sandtraild asks the Sentry for. */
static const struct {
	const ProtobufCMessageDescriptor *desc;
	const char *kind;
} types[] = {
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_CONTAINER_START] = { &sandtrail__gvisor__container_start__descriptor, "container_start" },
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SENTRY_CLONE] = { &sandtrail__gvisor__clone_info__descriptor, "fork" },
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SENTRY_EXIT_NOTIFY_PARENT] = { &sandtrail__gvisor__exit_notify_parent_info__descriptor, "exit" },
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SENTRY_TASK_EXIT] = { &sandtrail__gvisor__task_exit__descriptor, "exit" },
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_RAW] = { &sandtrail__gvisor__syscall__descriptor, "syscall" },
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_OPEN] = { &sandtrail__gvisor__open__descriptor, "open" },
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_CONNECT] = { &sandtrail__gvisor__connect__descriptor, "connect" },
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_EXECVE] = { &sandtrail__gvisor__execve__descriptor, "exec" },
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_BIND] = { &sandtrail__gvisor__bind__descriptor, "bind" },
	[SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_ACCEPT] = { &sandtrail__gvisor__accept__descriptor, "accept" },
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

static void *arena_alloc(void *data, size_t size)
{
	struct gvisor_arena *a = data;
	size_t at = (a->used + 15) & ~(size_t)15;

	if (size > a->cap || at > a->cap - size) {
		a->exhausted = true; /* protobuf-c then fails the unpack */
		return NULL;
	}
	a->used = at + size;
	return a->buf + at;
}

static void arena_free(void *data, void *p)
{
	(void)data;
	(void)p; /* all of it goes at the next reset */
}

int gvisor_arena_init(struct gvisor_arena *a, size_t cap)
{
	a->buf = malloc(cap);
	if (!a->buf)
		return -ENOMEM;
	a->cap = cap;
	a->used = 0;
	a->alloc = (ProtobufCAllocator){ .alloc = arena_alloc, .free = arena_free, .allocator_data = a };
	return 0;
}

void gvisor_arena_free(struct gvisor_arena *a)
{
	free(a->buf);
	a->buf = NULL;
	a->cap = a->used = 0;
}

/* -ENOMEM when the arena, not the bytes, stopped the unpack (protobuf-c
 * does not say which). */
static int unpack(struct gvisor_arena *a, const ProtobufCMessageDescriptor *d, const void *p, size_t len,
		  ProtobufCMessage **out)
{
	a->used = 0;
	a->exhausted = false;
	*out = protobuf_c_message_unpack(d, &a->alloc, len, p);
	if (*out)
		return 0;
	return a->exhausted ? -ENOMEM : -EBADMSG;
}

int gvisor_wire_handshake_parse(struct gvisor_arena *a, const void *p, size_t len, uint32_t *version)
{
	ProtobufCMessage *m;
	int rc = len > 64 ? -EBADMSG : unpack(a, &sandtrail__gvisor__handshake__descriptor, p, len, &m);

	if (rc < 0)
		return -EBADMSG;
	*version = ((Sandtrail__Gvisor__Handshake *)m)->version;
	return 0;
}

size_t gvisor_wire_handshake_pack(uint8_t out[16])
{
	Sandtrail__Gvisor__Handshake hs = SANDTRAIL__GVISOR__HANDSHAKE__INIT;

	hs.version = GVISOR_WIRE_VERSION;
	return sandtrail__gvisor__handshake__pack(&hs, out);
}

int gvisor_wire_header(const void *p, size_t len, uint16_t *type, uint32_t *dropped)
{
	const uint8_t *b = p;
	uint16_t hsize;

	if (len < GVISOR_HDR_SIZE)
		return -EBADMSG;
	hsize = (uint16_t)(b[0] | b[1] << 8);
	*type = (uint16_t)(b[2] | b[3] << 8);
	*dropped = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	/* a newer Sentry may send a longer header; never a shorter one */
	if (hsize < GVISOR_HDR_SIZE || hsize > len)
		return -EBADMSG;
	return 0;
}

int gvisor_wire_decode(struct gvisor_arena *a, const void *p, size_t len, struct gvisor_msg *m)
{
	const uint8_t *b = p;
	int rc;

	memset(m, 0, sizeof(*m));
	if (len > GVISOR_HDR_SIZE + GVISOR_MSG_MAX)
		return -EMSGSIZE;
	rc = gvisor_wire_header(p, len, &m->type, &m->dropped);
	if (rc < 0)
		return rc;
	if (m->type >= NTYPES || !types[m->type].desc)
		return -EBADMSG;
	return unpack(a, types[m->type].desc, b + (b[0] | b[1] << 8), len - (size_t)(b[0] | b[1] << 8), &m->u.base);
}

const char *gvisor_wire_kind(uint16_t type)
{
	return type < NTYPES && types[type].kind ? types[type].kind : "unknown";
}
