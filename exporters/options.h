/* Option tables: one per sink, and one the loop shares (exporter.c).  A table
 * drives the parsing of a URL's query, the defaults and --help. */
#ifndef SANDTRAIL_EXP_OPTIONS_H
#define SANDTRAIL_EXP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum exp_opt_type {
	EXP_OPT_STR,   /* char *, malloc'd */
	EXP_OPT_UINT,  /* uint64_t; K, M, G suffixes (binary) */
	EXP_OPT_MS,    /* uint64_t milliseconds; ms, s, m suffixes (bare: ms) */
	EXP_OPT_BOOL,  /* bool; true|false|1|0 */
	EXP_OPT_ENUM,  /* unsigned: the index of the value in choices "a|b|c" */
	EXP_OPT_PASS,  /* a prefix ("rdkafka."): key=value pairs kept for the sink as they are */
};

/* A key=value kept by an EXP_OPT_PASS entry. */
struct exp_pass {
	char *key, *value;
};

struct exp_pass_list {
	struct exp_pass *v;
	size_t n;
};

struct exp_option {
	const char *key;
	enum exp_opt_type type;
	size_t off;           /* of the field in the struct the table fills */
	const char *def;      /* default, as it would be written in the URL; NULL: none */
	const char *help;
	const char *choices;  /* EXP_OPT_ENUM: "msgpack|json" */
	uint64_t min, max;    /* EXP_OPT_UINT, EXP_OPT_MS: bounds when max != 0 */
};

/* Sets every option of the table to its default. */
int exp_options_defaults(const struct exp_option *t, void *cfg, char *err, size_t errlen);
/* Sets key=value if the table has the key: 1 set, 0 not this table's key,
 * -EINVAL with a one-line reason in err. */
int exp_options_set(const struct exp_option *t, void *cfg, const char *key, const char *value, char *err,
		    size_t errlen);
void exp_options_free(const struct exp_option *t, void *cfg);
/* Writes a one-line reason into err; returns -EINVAL. */
__attribute__((format(printf, 3, 4))) int exp_errf(char *err, size_t errlen, const char *fmt, ...);
/* The table as --help lines. */
void exp_options_help(const struct exp_option *t, FILE *f);

#endif
