/*
 * atomic.c - replace a file as a whole: write a temporary file beside it, then
 * rename() it over the old one, so a reader sees the old or the new content,
 * never a half-written file.
 *
 * The temporary is created with mkstemps (O_CREAT|O_EXCL: it never opens an
 * existing file, so a symbolic link planted at a predictable name cannot make
 * us write through it) in the target's directory ("<path>.XXXXXX.tmp"), or in
 * a caller-given directory of the same file system (".<base>.XXXXXX.tmp"). It
 * gets the mode a plain creat() would give (0666 & ~umask), not mkstemp's 0600.
 * A target that exists and is not a regular file (a symbolic link, FIFO,
 * device, socket, directory) is refused: rename() would silently replace the
 * node itself (a FIFO a reader waits on, /dev/null, a link the user made).
 * Before the rename the data is flushed and fsync()ed, so a crash cannot leave
 * an empty file under the final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arxiv.h"
#include "internal.h"

struct arxiv_atomic {
	FILE *fp;
	int flushed;
	char *path;
	char *tmp;
};

/*
 * The process's umask without changing it: /proc/self/status has it since
 * Linux 4.7; elsewhere the classic umask(0)/umask(old) pair, under a lock so
 * two threads of ours do not race on it.
 */
mode_t
arxiv_umask(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	char line[128];
	FILE *fp;
	mode_t m;

	if ((fp = fopen("/proc/self/status", "re")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, "Umask:", 6) == 0) {
				m = (mode_t)strtoul(line + 6, NULL, 8);
				fclose(fp);
				return m & 0777;
			}
		fclose(fp);
	}
	pthread_mutex_lock(&lock);
	m = umask(022);
	umask(m);
	pthread_mutex_unlock(&lock);
	return m & 0777;
}

/* 0 when path may be replaced (absent or a regular file), else -1 with err. */
static int
check_target(const char *path, struct arxiv_error *err)
{
	struct stat st;
	const char *what;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	what = S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a directory" :
	    S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket" :
	    S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "not a regular file";
	arxiv_error_set(err, path, 0, "is %s, not a regular file; refusing to replace it "
	    "(write to a new name)", what);
	return -1;
}

struct arxiv_atomic *
arxiv_atomic_open(const char *path, const char *tmpdir, struct arxiv_error *err)
{
	struct arxiv_atomic *a;
	struct arxiv_buf b = { 0 };
	const char *base;
	int fd, e;

	if (path == NULL || path[0] == '\0') {
		arxiv_error_set(err, "", 0, "empty output path");
		return NULL;
	}
	if (check_target(path, err) < 0)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL || (a->path = strdup(path)) == NULL)
		goto nomem;
	if (tmpdir != NULL) {
		base = strrchr(path, '/');
		base = base ? base + 1 : path;
		if (arxiv_buf_printf(&b, "%s/.%s.XXXXXX.tmp", tmpdir, base) < 0)
			goto nomem;
	} else if (arxiv_buf_printf(&b, "%s.XXXXXX.tmp", path) < 0)
		goto nomem;
	a->tmp = b.data;
	b.data = NULL;
	if ((fd = mkostemps(a->tmp, 4, O_CLOEXEC)) < 0) {
		arxiv_error_set(err, a->tmp, 0, "%s", strerror(errno));
		goto fail;
	}
	if (fchmod(fd, 0666 & ~arxiv_umask()) < 0 || (a->fp = fdopen(fd, "w")) == NULL) {
		e = errno;
		close(fd);
		unlink(a->tmp);
		arxiv_error_set(err, a->tmp, 0, "%s", strerror(e));
		goto fail;
	}
	return a;
nomem:
	arxiv_error_set(err, path, 0, "out of memory");
fail:
	arxiv_buf_free(&b);
	if (a) {
		free(a->path);
		free(a->tmp);
		free(a);
	}
	return NULL;
}

FILE *
arxiv_atomic_file(struct arxiv_atomic *a)
{
	return a->fp;
}

const char *
arxiv_atomic_tmpname(const struct arxiv_atomic *a)
{
	return a->tmp;
}

int
arxiv_atomic_flush(struct arxiv_atomic *a, struct arxiv_error *err)
{
	int e;

	if (a->flushed)
		return 0;
	errno = 0;
	if (fflush(a->fp) == EOF || ferror(a->fp) || fsync(fileno(a->fp)) < 0) {
		e = errno ? errno : EIO;
		arxiv_error_set(err, a->path, 0, "write error: %s", strerror(e));
		return -1;
	}
	a->flushed = 1;
	return 0;
}

static void
atomic_free(struct arxiv_atomic *a)
{
	free(a->path);
	free(a->tmp);
	free(a);
}

int
arxiv_atomic_commit(struct arxiv_atomic *a, struct arxiv_error *err)
{
	FILE *fp = a->fp;
	int rc = -1;

	if (arxiv_atomic_flush(a, err) < 0) {
		fclose(fp);
		a->fp = NULL;
		goto out;
	}
	a->fp = NULL;
	if (fclose(fp) == EOF) {
		arxiv_error_set(err, a->path, 0, "write error: %s", strerror(errno));
		goto out;
	}
	/* the target may have been replaced by something else meanwhile */
	if (check_target(a->path, err) < 0)
		goto out;
	if (rename(a->tmp, a->path) < 0) {
		arxiv_error_set(err, a->path, 0, "%s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		unlink(a->tmp);
	atomic_free(a);
	return rc;
}

void
arxiv_atomic_abort(struct arxiv_atomic *a)
{
	if (a == NULL)
		return;
	if (a->fp)
		fclose(a->fp);
	unlink(a->tmp);
	atomic_free(a);
}

int
arxiv_atomic_write(const char *path, const char *tmpdir, const void *data, size_t n,
    struct arxiv_error *err)
{
	struct arxiv_atomic *a;

	if ((a = arxiv_atomic_open(path, tmpdir, err)) == NULL)
		return -1;
	if (n > 0 && fwrite(data, 1, n, a->fp) != n) {
		arxiv_error_set(err, path, 0, "write error: %s", strerror(errno ? errno : EIO));
		arxiv_atomic_abort(a);
		return -1;
	}
	return arxiv_atomic_commit(a, err);
}
