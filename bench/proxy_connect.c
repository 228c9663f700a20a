/* proxy_connect: connection setup through an HTTP proxy, one connection at a
 * time: from connect() to the proxy until a TLS handshake with HOST through
 * its CONNECT tunnel is done (the certificate verified against CAFILE, for
 * HOST).  That is when a client can send its request, whatever the proxy
 * does first: a proxy may answer 200 before it connects upstream (to read
 * the ClientHello's SNI first), so the 200 alone would not compare.
 * Prints the microseconds of each, one a line; exits 1 on the first
 * connection that fails, with the reason on stderr.
 *
 *   proxy_connect ADDR:PORT HOST:PORT CAFILE COUNT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* one CONNECT, then TLS through it; the proxy's answer's head in head */
static int tunnel(const struct sockaddr_in *proxy, const char *req, size_t reqlen, SSL_CTX *tls, const char *host,
		  char *head, size_t cap)
{
	SSL *ssl;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	size_t n = 0;
	ssize_t r;

	head[0] = 0;
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)proxy, sizeof(*proxy)) < 0 || write(fd, req, reqlen) != (ssize_t)reqlen) {
		r = -errno;
		close(fd);
		return (int)r;
	}
	while (!strstr(head, "\r\n\r\n") && n < cap - 1) {
		r = read(fd, head + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += r;
		head[n] = 0;
	}
	if (strncmp(head, "HTTP/1.1 200", 12) && strncmp(head, "HTTP/1.0 200", 12)) {
		close(fd);
		return -EPROTO;
	}
	ssl = SSL_new(tls);
	r = ssl && SSL_set_fd(ssl, fd) == 1 && SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1 &&
		    SSL_connect(ssl) == 1
		    ? 0
		    : -ECONNABORTED;
	if (r < 0)
		snprintf(head, cap, "TLS: %s", ERR_reason_error_string(ERR_get_error()));
	SSL_free(ssl);
	close(fd);
	return (int)r;
}

int main(int argc, char **argv)
{
	struct sockaddr_in proxy = { .sin_family = AF_INET };
	char addr[64], req[512], head[4096], host[256];
	const char *colon, *hcolon;
	long count;
	int reqlen;
	SSL_CTX *tls;

	if (argc != 5 || !(colon = strrchr(argv[1], ':')) || (size_t)(colon - argv[1]) >= sizeof(addr) ||
	    !(hcolon = strrchr(argv[2], ':')) || (size_t)(hcolon - argv[2]) >= sizeof(host) ||
	    (count = strtol(argv[4], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: proxy_connect ADDR:PORT HOST:PORT CAFILE COUNT\n");
		return 2;
	}
	memcpy(host, argv[2], hcolon - argv[2]);
	host[hcolon - argv[2]] = 0;
	tls = SSL_CTX_new(TLS_client_method());
	if (!tls || SSL_CTX_load_verify_locations(tls, argv[3], NULL) != 1) {
		fprintf(stderr, "proxy_connect: %s: no CA certificate\n", argv[3]);
		return 2;
	}
	SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, NULL);
	memcpy(addr, argv[1], colon - argv[1]);
	addr[colon - argv[1]] = 0;
	proxy.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, addr, &proxy.sin_addr) != 1) {
		fprintf(stderr, "proxy_connect: %s: not an IPv4 address\n", addr);
		return 2;
	}
	reqlen = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", argv[2], argv[2]);
	for (long i = 0; i < count; i++) {
		long long t0 = now_ns();
		int r = tunnel(&proxy, req, (size_t)reqlen, tls, host, head, sizeof(head));

		if (r < 0) {
			fprintf(stderr, "proxy_connect: connection %ld: %s (answer: %.*s)\n", i, strerror(-r),
				(int)strcspn(head, "\r\n"), head);
			return 1;
		}
		printf("%lld\n", (now_ns() - t0) / 1000);
	}
	SSL_CTX_free(tls);
	return 0;
}
