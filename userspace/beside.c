#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "beside.h"

int beside_self(const char *name, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int w;

	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	self[n] = 0;
	w = snprintf(out, len, "%s/%s", dirname(self), name);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}
