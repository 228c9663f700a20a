/* What an earlier collector left open: the sessions of the journal that
 * have a session_start and no session_end, read back at start, so that they
 * are taken over (their cgroups still traced) or closed. */
#ifndef SANDTRAIL_RECOVER_H
#define SANDTRAIL_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "session.h"

struct open_session {
	char id[SESSION_ID_LEN + 1];
	char mode[16];
	char *cgroup;
	void *labels_mp; /* the records' labels, as written */
	size_t labels_len;
	uint64_t lost[ST_EV_MAX][ST_LOSS_MAX]; /* kernel losses already in its loss records */
};

struct open_sessions {
	struct open_session *v;
	size_t n;
	uint64_t last_ts; /* of the journal's last record: when the earlier collector was last heard */
};

/* Reads the journal in dir from its start. */
int recover_open_sessions(const char *dir, struct open_sessions *out);
void recover_free(struct open_sessions *o);

#endif
