#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proctable.h"

static struct proc **slot(struct proctable *t, uint32_t pid)
{
	struct proc **pp = &t->b[(pid * 2654435761u) % PROCTABLE_BUCKETS];

	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

struct proc *proctable_get(struct proctable *t, uint32_t pid)
{
	return *slot(t, pid);
}

int proctable_set(struct proctable *t, uint32_t pid, const uint8_t *image, size_t len)
{
	struct proc **pp = slot(t, pid), *p = *pp;
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, image, len);
	if (!p) {
		if (t->n >= PROCTABLE_MAX) {
			t->untracked++;
			free(copy);
			return -ENOSPC;
		}
		p = calloc(1, sizeof(*p));
		if (!p) {
			free(copy);
			return -ENOMEM;
		}
		p->pid = pid;
		*pp = p;
		t->n++;
	}
	free(p->image);
	p->image = copy;
	p->image_len = (uint32_t)len;
	p->gen = ++t->gen;
	return 0;
}

int proctable_fork(struct proctable *t, uint32_t parent, uint32_t child)
{
	struct proc *p = proctable_get(t, parent), *c;
	int rc = p ? proctable_set(t, child, p->image, p->image_len) : proctable_set(t, child, NULL, 0);

	if (rc < 0)
		return rc;
	c = proctable_get(t, child);
	c->ppid = parent;
	return 0;
}

void proctable_del(struct proctable *t, uint32_t pid)
{
	struct proc **pp = slot(t, pid), *p = *pp;

	if (!p)
		return;
	*pp = p->next;
	free(p->image);
	free(p);
	t->n--;
}

void proctable_free(struct proctable *t)
{
	for (size_t i = 0; i < PROCTABLE_BUCKETS; i++) {
		while (t->b[i]) {
			struct proc *p = t->b[i];

			t->b[i] = p->next;
			free(p->image);
			free(p);
		}
	}
	t->n = 0;
}
