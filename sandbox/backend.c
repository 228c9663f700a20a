#include <string.h>

#include "backend.h"

static const struct backend_ops *const backends[] = { &hardened_backend, &gvisor_backend, &microvm_backend };

const struct backend_ops *backend_find(const char *mode)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->mode, mode))
			return backends[i];
	return NULL;
}
