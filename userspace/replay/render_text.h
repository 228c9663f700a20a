/* Text rendering of records for a terminal: what one record did, on one
 * line.  Every str/bin value is escaped (escape.h) and quoted where a word
 * boundary would be ambiguous; no byte from a record reaches the output raw. */
#ifndef SANDTRAIL_RENDER_TEXT_H
#define SANDTRAIL_RENDER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <msgpack.h>

/* ANSI colours, used only when the caller decided the output is a terminal. */
#define RENDER_TEXT_RED "\033[31m"
#define RENDER_TEXT_BOLD_RED "\033[1;31m"
#define RENDER_TEXT_YELLOW "\033[33m"
#define RENDER_TEXT_BOLD "\033[1m"
#define RENDER_TEXT_DIM "\033[2m"
#define RENDER_TEXT_RESET "\033[0m"

/* Bytes as one word: escaped, and in double quotes (a quote inside as \")
 * unless every byte is a plain path or argument character.  0 or -ENOMEM. */
int render_text_word(FILE *f, const void *p, size_t len);
/* A str or bin value as a word; "?" for any other type. */
int render_text_value(FILE *f, const msgpack_object *v);
/* A labels map as "k=v k2=v2" (each side a word). */
int render_text_labels(FILE *f, const msgpack_object *labels);
/* The str/bin field key of rec as a word; "?" when missing or not bytes. */
int render_text_field(FILE *f, const msgpack_object *rec, const char *key);
/* What rec did, without a newline: "exec /bin/ls ls -l", "write /tmp/out",
 * "connect 10.0.0.1:443 deny (failed: EPERM)", ...  0 or -ENOMEM. */
int render_text_event(FILE *f, const msgpack_object *rec, bool colour);

#endif
