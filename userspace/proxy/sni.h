/* The TLS ClientHello a client sends first, read from untrusted bytes: the
 * server name (SNI), the ALPN protocols and the highest TLS version offered.
 * The parse is strict (RFC 8446 4.1.2, RFC 6066 3, RFC 7301 3.1): every
 * length must add up, no extension twice, exactly one host_name.  The hello
 * may span records and arrive in pieces: call again with more bytes. */
#ifndef SANDTRAIL_SNI_H
#define SANDTRAIL_SNI_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Largest ClientHello (handshake bytes) read; a larger one is -E2BIG. */
#define SNI_HELLO_MAX 16384
#define SNI_HOST_MAX 253
#define SNI_ALPN_LEN 256

/* Negative answers, one per reason (library style: -errno). */
#define SNI_NOT_TLS   (-EPROTONOSUPPORT) /* not a TLS handshake record: try plain HTTP */
#define SNI_MALFORMED (-EBADMSG)         /* lengths that lie, a field out of range */
#define SNI_NO_NAME   (-ENOENT)          /* a well-formed ClientHello without SNI */
#define SNI_TOO_LARGE (-E2BIG)           /* ClientHello above SNI_HELLO_MAX */
#define SNI_BAD_NAME  (-EINVAL)          /* SNI that is no DNS host name (IP literal, bytes) */
#define SNI_NO_SPACE  (-ENOSPC)          /* the caller's buffer is too small for the name */

struct sni_hello {
	char name[SNI_HOST_MAX + 1]; /* lower-cased, NUL-terminated */
	size_t namelen;
	uint16_t version;            /* highest offered (supported_versions, else legacy) */
	char alpn[SNI_ALPN_LEN];     /* offered protocols, comma-separated, odd bytes as \xHH */
	unsigned nalpn;              /* protocols offered (some may not fit in alpn) */
	size_t consumed;             /* bytes of buf the hello's records took */
	const char *why;             /* on a negative answer: what was wrong */
	size_t at;                   /* ... and at which byte of buf */
};

/* >0: length of the host name written to out (NUL-terminated); 0: need more
 * bytes; <0: one of SNI_* above. */
int sni_parse(const uint8_t *buf, size_t len, char *out, size_t outlen);
/* The same answers, with everything the hello says in *h. */
int sni_client_hello(const uint8_t *buf, size_t len, struct sni_hello *h);
/* "TLSv1.3" for 0x0304 and so on; NULL for a version it does not know. */
const char *sni_version_name(uint16_t version);

#endif
