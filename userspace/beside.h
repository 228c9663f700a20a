/* The binaries sandtrail installs side by side find each other there. */
#ifndef SANDTRAIL_BESIDE_H
#define SANDTRAIL_BESIDE_H

#include <stddef.h>

/* The path of name in the directory of the running binary into out:
 * 0, or -errno (/proc/self/exe unreadable, or out too short). */
int beside_self(const char *name, char *out, size_t len);

#endif
