#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "units.h"

int exp_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The index of value among "a|b|c", or -1. */
static int choice(const char *choices, const char *value)
{
	size_t len = strlen(value);
	int i = 0;

	for (const char *p = choices; *p; i++) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);

		if (n == len && !memcmp(p, value, n))
			return i;
		p += n + !!bar;
	}
	return -1;
}

static int pass_add(struct exp_pass_list *l, const char *key, const char *value)
{
	struct exp_pass *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	v[l->n].key = strdup(key);
	v[l->n].value = strdup(value);
	if (!v[l->n].key || !v[l->n].value) {
		free(v[l->n].key);
		free(v[l->n].value);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

static int set(const struct exp_option *o, void *cfg, const char *key, const char *value, char *err,
	       size_t errlen)
{
	void *field = (char *)cfg + o->off;
	uint64_t v;
	int i;

	switch (o->type) {
	case EXP_OPT_STR:
		free(*(char **)field);
		*(char **)field = strdup(value);
		return *(char **)field ? 1 : -ENOMEM;
	case EXP_OPT_UINT:
	case EXP_OPT_MS:
		if ((o->type == EXP_OPT_UINT ? units_size(value, &v) : units_ms(value, &v)) < 0)
			return exp_errf(err, errlen, "%s=%s: not a %s", key, value,
				   o->type == EXP_OPT_UINT ? "count (e.g. 500, 64K, 16M)" : "duration (e.g. 250ms, 5s, 2m)");
		if (o->max && (v < o->min || v > o->max))
			return exp_errf(err, errlen, "%s=%s: must be between %" PRIu64 " and %" PRIu64 "%s", key, value, o->min,
				   o->max, o->type == EXP_OPT_MS ? " ms" : "");
		*(uint64_t *)field = v;
		return 1;
	case EXP_OPT_BOOL:
		if (!strcmp(value, "true") || !strcmp(value, "1"))
			*(bool *)field = true;
		else if (!strcmp(value, "false") || !strcmp(value, "0"))
			*(bool *)field = false;
		else
			return exp_errf(err, errlen, "%s=%s: expected true or false", key, value);
		return 1;
	case EXP_OPT_ENUM:
		i = choice(o->choices, value);
		if (i < 0)
			return exp_errf(err, errlen, "%s=%s: expected one of %s", key, value, o->choices);
		*(unsigned *)field = (unsigned)i;
		return 1;
	case EXP_OPT_PASS:
		if (!key[strlen(o->key)])
			return exp_errf(err, errlen, "%s: a property name must follow the prefix", key);
		return pass_add(field, key + strlen(o->key), value) < 0 ? -ENOMEM : 1;
	}
	return -EINVAL;
}

int exp_options_defaults(const struct exp_option *t, void *cfg, char *err, size_t errlen)
{
	for (const struct exp_option *o = t; o->key; o++) {
		int rc = o->def ? set(o, cfg, o->key, o->def, err, errlen) : 0;

		if (rc < 0)
			return rc;
	}
	return 0;
}

int exp_options_set(const struct exp_option *t, void *cfg, const char *key, const char *value, char *err,
		    size_t errlen)
{
	for (const struct exp_option *o = t; o->key; o++) {
		bool match = o->type == EXP_OPT_PASS ? !strncmp(key, o->key, strlen(o->key)) : !strcmp(key, o->key);

		if (match)
			return set(o, cfg, key, value, err, errlen);
	}
	return 0;
}

void exp_options_free(const struct exp_option *t, void *cfg)
{
	for (const struct exp_option *o = t; o->key; o++) {
		void *field = (char *)cfg + o->off;

		if (o->type == EXP_OPT_STR) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (o->type == EXP_OPT_PASS) {
			struct exp_pass_list *l = field;

			for (size_t i = 0; i < l->n; i++) {
				free(l->v[i].key);
				free(l->v[i].value);
			}
			free(l->v);
			*l = (struct exp_pass_list){ 0 };
		}
	}
}

void exp_options_help(const struct exp_option *t, FILE *f)
{
	for (const struct exp_option *o = t; o->key; o++) {
		char key[64];

		if (o->type == EXP_OPT_ENUM)
			snprintf(key, sizeof(key), "%s=%s", o->key, o->choices);
		else
			snprintf(key, sizeof(key), "%s%s", o->key, o->type == EXP_OPT_PASS ? "NAME=VALUE" : "=VALUE");
		fprintf(f, "      %-26s %s", key, o->help);
		if (o->def && *o->def)
			fprintf(f, " (default %s)", o->def);
		fputc('\n', f);
	}
}
