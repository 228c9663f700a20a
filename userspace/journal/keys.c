#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libdeflate.h>

#include "clock.h"
#include "keys.h"

int keys_pub_path(const char *key_path, char *out, size_t len)
{
	size_t n = strlen(key_path);
	int w;

	if (n > 4 && strcmp(key_path + n - 4, ".key") == 0)
		w = snprintf(out, len, "%.*s.pub", (int)(n - 4), key_path);
	else
		w = snprintf(out, len, "%s.pub", key_path);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

static void encode(struct jf_key_file *f, const struct keys *k)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->magic, JF_KEY_MAGIC, sizeof(f->magic));
	f->version = htole32(JF_VERSION);
	f->epoch = htole32(k->epoch);
	f->start_seq = htole64(k->start_seq);
	f->created_ns = htole64(k->created_ns);
	memcpy(f->seed, k->seed, JF_SEED_LEN);
	memcpy(f->pub, k->pub, JOURNAL_PUB_LEN);
	memcpy(f->root_pub, k->root_pub, JOURNAL_PUB_LEN);
	memcpy(f->head, k->head, JF_HASH_LEN);
	memcpy(f->cert, k->cert, JF_SIG_LEN);
	f->crc = htole32(libdeflate_crc32(0, f, offsetof(struct jf_key_file, crc)));
}

static int decode(const struct jf_key_file *f, struct keys *k)
{
	static const uint8_t zero[sizeof(f->zero)];
	uint8_t pub[JOURNAL_PUB_LEN];

	if (memcmp(f->magic, JF_KEY_MAGIC, sizeof(f->magic)) != 0 || le32toh(f->version) != JF_VERSION ||
	    memcmp(f->zero, zero, sizeof(zero)) != 0 ||
	    le32toh(f->crc) != libdeflate_crc32(0, f, offsetof(struct jf_key_file, crc)))
		return -EBADMSG;
	k->epoch = le32toh(f->epoch);
	k->start_seq = le64toh(f->start_seq);
	k->created_ns = le64toh(f->created_ns);
	memcpy(k->seed, f->seed, JF_SEED_LEN);
	memcpy(k->pub, f->pub, JOURNAL_PUB_LEN);
	memcpy(k->root_pub, f->root_pub, JOURNAL_PUB_LEN);
	memcpy(k->head, f->head, JF_HASH_LEN);
	memcpy(k->cert, f->cert, JF_SIG_LEN);
	/* a seed that does not give the stored key is a damaged file */
	if (crypto_ed25519_public(k->seed, pub) < 0 || memcmp(pub, k->pub, JOURNAL_PUB_LEN) != 0 ||
	    (k->epoch == 0 && memcmp(k->pub, k->root_pub, JOURNAL_PUB_LEN) != 0)) {
		keys_wipe(k);
		return -EBADMSG;
	}
	return 0;
}

void keys_wipe(struct keys *k)
{
	explicit_bzero(k, sizeof(*k));
}

static int write_all(int fd, const void *p, size_t len)
{
	ssize_t n = write(fd, p, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int keys_write_pub(const char *path, const uint8_t pub[JOURNAL_PUB_LEN])
{
	char line[sizeof(JOURNAL_PUB_PREFIX) + 2 * JOURNAL_PUB_LEN + 1];
	int fd, rc, n;

	n = snprintf(line, sizeof(line), "%s", JOURNAL_PUB_PREFIX);
	for (int i = 0; i < JOURNAL_PUB_LEN; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", pub[i]);
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* whatever the umask (the unit's is 0077): verify runs as anyone */
	rc = fchmod(fd, 0644) < 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, line, (size_t)n);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		unlink(path);
	return rc;
}

int keys_read_pub(const char *path, uint8_t pub[JOURNAL_PUB_LEN])
{
	char buf[sizeof(JOURNAL_PUB_PREFIX) + 2 * JOURNAL_PUB_LEN + 2];
	size_t plen = strlen(JOURNAL_PUB_PREFIX);
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return errno == EISDIR ? -EISDIR : -errno;
	if ((size_t)n != plen + 2 * JOURNAL_PUB_LEN + 1 || memcmp(buf, JOURNAL_PUB_PREFIX, plen) != 0 || buf[n - 1] != '\n')
		return -EBADMSG;
	for (int i = 0; i < JOURNAL_PUB_LEN; i++) {
		unsigned v;
		char hex[3] = { buf[plen + 2 * i], buf[plen + 2 * i + 1], 0 };

		if (!((hex[0] >= '0' && hex[0] <= '9') || (hex[0] >= 'a' && hex[0] <= 'f')) ||
		    !((hex[1] >= '0' && hex[1] <= '9') || (hex[1] >= 'a' && hex[1] <= 'f')) ||
		    sscanf(hex, "%2x", &v) != 1)
			return -EBADMSG;
		pub[i] = (uint8_t)v;
	}
	return 0;
}

/* /etc/sandtrail may not exist on a fresh host: make the key's directory (0700). */
static int make_parent(const char *path)
{
	char *dup = strdup(path);
	int rc = 0;

	if (!dup)
		return -ENOMEM;
	if (mkdir(dirname(dup), 0700) < 0 && errno != EEXIST)
		rc = -errno;
	free(dup);
	return rc;
}

int keys_create(const char *key_path)
{
	struct jf_key_file f;
	struct keys k = { 0 };
	char pub_path[4096];
	int fd, rc;

	rc = keys_pub_path(key_path, pub_path, sizeof(pub_path));
	if (rc < 0)
		return rc;
	if (access(pub_path, F_OK) == 0)
		return -EEXIST;
	rc = crypto_ed25519_generate(k.seed, k.pub);
	if (rc < 0)
		return rc;
	memcpy(k.root_pub, k.pub, JOURNAL_PUB_LEN);
	k.created_ns = clock_ns(CLOCK_REALTIME);
	encode(&f, &k);
	rc = make_parent(key_path);
	if (rc < 0)
		goto out;
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, &f, sizeof(f));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0)
		rc = keys_write_pub(pub_path, k.root_pub);
	if (rc < 0)
		unlink(key_path);
out:
	explicit_bzero(&f, sizeof(f));
	keys_wipe(&k);
	return rc;
}

int keys_load(const char *key_path, struct keys *k)
{
	struct jf_key_file f;
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = open(key_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOKEY : -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != JF_KEY_FILE_SIZE) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EBADMSG;
	}
	/* as ssh with a private key: one that others could have read (or
	 * replaced, through a writable group) is no proof of anything */
	if (st.st_mode & 077) {
		close(fd);
		return -EPERM;
	}
	n = pread(fd, &f, sizeof(f), 0);
	rc = n < 0 ? -errno : (size_t)n != sizeof(f) ? -EBADMSG : decode(&f, k);
	close(fd);
	explicit_bzero(&f, sizeof(f));
	return rc;
}

int keys_store(const char *key_path, const struct keys *k)
{
	struct jf_key_file f;
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	fd = open(key_path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* In place, same size: the new sector lands on the old one's bytes. */
	if (fstat(fd, &st) < 0 || st.st_size != JF_KEY_FILE_SIZE) {
		close(fd);
		return -EBADMSG;
	}
	encode(&f, k);
	n = pwrite(fd, &f, sizeof(f), 0);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != sizeof(f))
		rc = -EIO;
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	close(fd);
	explicit_bzero(&f, sizeof(f));
	return rc;
}

void keys_epoch_record(const struct keys *k, struct seal_epoch *e)
{
	*e = (struct seal_epoch){ .ts_ns = k->created_ns, .epoch = k->epoch, .start_seq = k->start_seq };
	memcpy(e->head, k->head, JF_HASH_LEN);
	memcpy(e->pub, k->pub, JOURNAL_PUB_LEN);
	memcpy(e->cert, k->cert, JF_SIG_LEN);
}

int keys_evolve(const char *key_path, struct keys *k, uint64_t start_seq, const uint8_t head[JF_HASH_LEN],
		uint64_t ts_ns, struct seal_epoch *e)
{
	struct keys next = *k;
	int rc;

	next.epoch = k->epoch + 1;
	next.start_seq = start_seq;
	next.created_ns = ts_ns;
	memcpy(next.head, head, JF_HASH_LEN);
	rc = crypto_ed25519_generate(next.seed, next.pub);
	if (rc < 0)
		goto out;
	keys_epoch_record(&next, e);
	rc = seal_epoch_certify(e, k->seed);
	if (rc < 0)
		goto out;
	memcpy(next.cert, e->cert, JF_SIG_LEN);
	rc = keys_store(key_path, &next);
	if (rc < 0)
		goto out;
	keys_wipe(k);
	*k = next;
out:
	keys_wipe(&next);
	return rc;
}
