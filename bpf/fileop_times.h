/* The times a utimes-family call sets, read into a file operation's record:
 * the host's programs (fileop.bpf.c) and the microVM guest's
 * (sandbox/guest/capture.bpf.c) read them alike.  Include after events.h
 * and the BPF helpers. */
#ifndef SANDTRAIL_FILEOP_TIMES_H
#define SANDTRAIL_FILEOP_TIMES_H

#define ST_UTIME_NOW ((1l << 30) - 1l) /* the kernel's UTIME_NOW */

/* As (s, ns) pairs in arg[0..3]; no times is "now" for both, as the
 * kernel takes it. */
static __always_inline void read_times(__u32 sys, __u64 uaddr, struct st_fileop *ev)
{
	long t[4] = {};

	if (!uaddr) {
		ev->h.flags |= ST_F_TIMES_NULL;
		ev->arg[1] = ST_UTIME_NOW;
		ev->arg[3] = ST_UTIME_NOW;
		return;
	}
	/* utime: two time_t; utimes, futimesat: two timeval; utimensat: two timespec */
	if (bpf_probe_read_user(t, sys == ST_SYS_UTIME ? 2 * sizeof(long) : sizeof(t), (const void *)uaddr)) {
		ev->h.flags |= ST_F_ARG_FAULT;
		return;
	}
	if (sys == ST_SYS_UTIME) {
		ev->arg[0] = t[0];
		ev->arg[2] = t[1];
		return;
	}
	ev->arg[0] = t[0];
	ev->arg[1] = sys == ST_SYS_UTIMENSAT ? t[1] : t[1] * 1000;
	ev->arg[2] = t[2];
	ev->arg[3] = sys == ST_SYS_UTIMENSAT ? t[3] : t[3] * 1000;
}

#endif
