/* libFuzzer: the policy parser and the seccomp profile compiler on arbitrary
 * JSON.  The first byte picks the parser; neither may crash, leak or accept
 * a document and then fail to describe it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"
#include "seccomp_profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct seccomp_prog prog;

		if (seccomp_profile_compile((const char *)data + 1, size - 1, "fuzz.json", data[0] >> 1, &prog, NULL, err,
					    sizeof(err)) == 0)
			seccomp_profile_release(&prog);
		else if (!memchr(err, 0, sizeof(err)) || strchr(err, '\n'))
			__builtin_trap(); /* errors are one terminated line */
	} else {
		struct policy p;
		char digest[72];

		policy_init(&p);
		if (policy_load_json(&p, (const char *)data + 1, size - 1, "fuzz.json", "/", err, sizeof(err)) == 0) {
			if (policy_digest(&p, digest) < 0)
				__builtin_trap();
		} else if (strchr(err, '\n')) {
			__builtin_trap();
		}
		policy_free(&p);
	}
	return 0;
}
