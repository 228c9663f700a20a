/* libFuzzer: the first bytes a client in the sandbox sends, read as a TLS
 * ClientHello.  The parser may refuse, never crash, never read past the
 * bytes it is given; a name it returns is a lower-case DNS host name, and
 * every prefix of an accepted hello is "need more". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sni_hello h, p;
	int r = sni_client_hello(data, size, &h);

	if (r > 0) {
		if ((size_t)r != h.namelen || strlen(h.name) != h.namelen ||
		    strspn(h.name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != h.namelen ||
		    h.consumed == 0 || h.consumed > size)
			__builtin_trap();
		/* the same hello cut short by one byte asks for more */
		if (sni_client_hello(data, h.consumed - 1, &p) != 0)
			__builtin_trap();
	} else if (r < 0) {
		if (!h.why || h.at > size)
			__builtin_trap();
	}
	if (strlen(h.alpn) >= sizeof(h.alpn))
		__builtin_trap();
	return 0;
}
