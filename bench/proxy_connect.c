/* proxy_connect: connection setup through HTTP proxies, one connection at a
 * time: from connect() to the proxy until a TLS handshake with HOST through
 * its CONNECT tunnel is done (the certificate verified against CAFILE, for
 * HOST).  That is when a client can send its request, whatever the proxy
 * does first: a proxy may answer 200 before it connects upstream (to read
 * the ClientHello's SNI first), so the 200 alone would not compare.
 * COUNT rounds of one connection through each proxy, each round starting
 * with the next proxy: the proxies compared meet the same moments of a
 * shared machine.  Prints "K MICROSECONDS" for each (K: the proxy's place
 * on the command line, from 0), one a line; exits 1 on the first
 * connection that fails, with the reason on stderr.
 *
 *   proxy_connect HOST:PORT CAFILE COUNT ADDR:PORT...
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

static int parse_proxy(const char *arg, struct sockaddr_in *proxy)
{
	const char *colon = strrchr(arg, ':');
	char addr[64];

	if (!colon || (size_t)(colon - arg) >= sizeof(addr))
		return -1;
	memcpy(addr, arg, colon - arg);
	addr[colon - arg] = 0;
	*proxy = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	return inet_pton(AF_INET, addr, &proxy->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in proxies[8];
	char req[512], head[4096], host[256];
	const char *hcolon;
	int reqlen, nproxies = argc - 4;
	long count;
	SSL_CTX *tls;

	if (argc < 5 || nproxies > 8 || !(hcolon = strrchr(argv[1], ':')) || (size_t)(hcolon - argv[1]) >= sizeof(host) ||
	    (count = strtol(argv[3], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: proxy_connect HOST:PORT CAFILE COUNT ADDR:PORT...\n");
		return 2;
	}
	for (int k = 0; k < nproxies; k++) {
		if (parse_proxy(argv[4 + k], &proxies[k]) < 0) {
			fprintf(stderr, "proxy_connect: %s: not an IPv4 ADDR:PORT\n", argv[4 + k]);
			return 2;
		}
	}
	memcpy(host, argv[1], hcolon - argv[1]);
	host[hcolon - argv[1]] = 0;
	tls = SSL_CTX_new(TLS_client_method());
	if (!tls || SSL_CTX_load_verify_locations(tls, argv[2], NULL) != 1) {
		fprintf(stderr, "proxy_connect: %s: no CA certificate\n", argv[2]);
		return 2;
	}
	SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, NULL);
	reqlen = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", argv[1], argv[1]);
	for (long i = 0; i < count; i++) {
		for (int j = 0; j < nproxies; j++) {
			int k = (int)((i + j) % nproxies);
			long long t0 = now_ns();
			int r = tunnel(&proxies[k], req, (size_t)reqlen, tls, host, head, sizeof(head));

			if (r < 0) {
				fprintf(stderr, "proxy_connect: %s, connection %ld: %s (answer: %.*s)\n", argv[4 + k], i,
					strerror(-r), (int)strcspn(head, "\r\n"), head);
				return 1;
			}
			printf("%d %lld\n", k, (now_ns() - t0) / 1000);
		}
	}
	SSL_CTX_free(tls);
	return 0;
}
