#include <stdio.h>
#include <string.h>

#include "labels.h"

int labels_check(const char *key, const char *value, char *err, size_t errlen)
{
	size_t klen = strlen(key);

	if (klen == 0 || klen > LABEL_KEY_MAX) {
		snprintf(err, errlen, "label key must be 1 to %d characters", LABEL_KEY_MAX);
		return -1;
	}
	if (strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") != klen) {
		snprintf(err, errlen, "label key '%s' may hold only letters, digits and . _ / -", key);
		return -1;
	}
	if (strlen(value) > LABEL_VALUE_MAX) {
		snprintf(err, errlen, "label '%s': value longer than %d bytes", key, LABEL_VALUE_MAX);
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "label '%s': control byte 0x%02x in value", key, *p);
			return -1;
		}
	}
	return 0;
}

int labels_parse(json_t *labels, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	char key[LABEL_KEY_MAX + 2];
	size_t klen;

	if (!eq) {
		snprintf(err, errlen, "'%s': expected k=v", kv);
		return -1;
	}
	klen = (size_t)(eq - kv);
	if (klen > LABEL_KEY_MAX)
		klen = LABEL_KEY_MAX + 1; /* labels_check rejects it */
	memcpy(key, kv, klen);
	key[klen] = 0;
	if (labels_check(key, eq + 1, err, errlen) < 0)
		return -1;
	if (json_object_get(labels, key)) {
		snprintf(err, errlen, "label '%s' given twice", key);
		return -1;
	}
	if (json_object_set_new(labels, key, json_string(eq + 1)) < 0) {
		snprintf(err, errlen, "label '%s': value is not valid UTF-8", key);
		return -1;
	}
	return 0;
}
