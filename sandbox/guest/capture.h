/* The guest's capture: the programs of capture.bpf.c attached inside the
 * guest kernel, their events framed onto the event port. */
#ifndef SANDTRAIL_GUEST_CAPTURE_H
#define SANDTRAIL_GUEST_CAPTURE_H

struct capture;

/* Loads and attaches; events go to fd (non-blocking) from then on; -errno. */
int capture_start(struct capture **c, int fd);
/* Sends what the programs captured, waiting up to ms for some; -EPIPE
 * once the host no longer takes events. */
int capture_poll(struct capture *c, int ms);
/* Sends what is left, the losses, and detaches. */
void capture_stop(struct capture *c);

#endif
