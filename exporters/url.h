/* --export URLs: scheme://[user[:password]@]authority[/path][?key=value&...]
 * split into the target a sink reads (struct exp_url) and its options. */
#ifndef SANDTRAIL_EXP_URL_H
#define SANDTRAIL_EXP_URL_H

#include <stddef.h>

#include "sink.h"

struct exp_url_parts {
	struct exp_url url;
	char *buf;              /* owns every string */
	struct exp_pass *query; /* percent-decoded key=value pairs, in order */
	size_t nquery;
};

/* 0, or -EINVAL with a one-line reason in err (-ENOMEM). */
int exp_url_parse(const char *text, struct exp_url_parts *out, char *err, size_t errlen);
void exp_url_free(struct exp_url_parts *p);
/* The URL as it may be shown (logs, ps): the password and the values of
 * options that hold secrets replaced by "***".  malloc'd. */
char *exp_url_redact(const char *text);

#endif
