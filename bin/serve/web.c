/*
 * arxiv-serve's pages (see serve.h): the web page, read at start and on
 * SIGHUP and shared by reference with the responses that send it (GET /), and
 * arxiv-report's files from -R's directory (GET /report/).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "serve.h"

void
page_put(void *arg)
{
	struct page *p = arg;

	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	free(p->data);
	free(p);
}

/* Read the web page; keep the old one on failure. */
void
load_page(struct server *s)
{
	struct page *pg = NULL, *old;
	char *data = NULL, why[sizeof(s->page_why)] = "out of memory";
	struct stat st;
	size_t n = 0;
	int fd, had;

	if ((fd = open(s->page_path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		snprintf(why, sizeof(why), "web page not available: %s: %s", s->page_path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_PAGE) {
		snprintf(why, sizeof(why), "web page not available: %s: not a regular file under 4 MiB",
		    s->page_path);
		goto out;
	}
	if ((data = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	while (n < (size_t)st.st_size) {
		ssize_t k = read(fd, data + n, (size_t)st.st_size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		free(data);
		goto out;
	}
	atomic_init(&pg->refs, 1);
	pg->data = data;
	pg->len = n;
out:
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&s->lock);
	had = s->page != NULL;
	old = pg ? s->page : NULL;
	if (pg)
		s->page = pg;
	else if (!had)
		memcpy(s->page_why, why, sizeof(why));
	pthread_mutex_unlock(&s->lock);
	page_put(old);
	if (pg == NULL)
		warnx("%s%s", why, had ? "; keeping the current page" : "");
}

/* GET /report/ (index.html) and /report/NAME.svg|.html from -R's directory:
 * plain names only, regular files, no symbolic links. */
int
reply_report(struct server *s, struct req *r)
{
	const char *name = r->path + strlen("/report");
	struct httpd_resp *resp;
	char path[4096], *data;
	struct stat st;
	size_t n, k, got = 0;
	int fd;

	if (s->report_dir == NULL)
		return reply_err(s, r, HTTP_NOT_FOUND, "not found",
		    "no report: start the server with -R DIR (arxiv-report -o DIR)");
	if (*name == '/')
		name++;
	if (*name == '\0')
		name = "index.html";
	n = strlen(name);
	k = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.");
	if (k != n || name[0] == '.' || n > 128 || (!(n > 4 && strcmp(name + n - 4, ".svg") == 0) &&
	    !(n > 5 && strcmp(name + n - 5, ".html") == 0)))
		return reply_err(s, r, HTTP_NOT_FOUND, "not found", "no such report file: %s",
		    r->path);
	snprintf(path, sizeof(path), "%s/%s", s->report_dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return reply_err(s, r, HTTP_NOT_FOUND, "not found", "no such report file: %s",
		    r->path);
	}
	if ((size_t)st.st_size > MAX_PAGE) {
		close(fd);
		return reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "internal error",
		    "report file over 4 MiB: %s", r->path);
	}
	if ((data = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t rd = read(fd, data + got, (size_t)st.st_size - got);

		if (rd < 0 && errno == EINTR)
			continue;
		if (rd <= 0)
			break;
		got += (size_t)rd;
	}
	close(fd);
	resp = r->resp;
	resp->status = HTTP_OK;
	resp->body = data;
	resp->len = got;
	resp->release = release_free;
	resp->release_arg = data;
	arxiv_httpd_resp_header(resp, "Content-Type", name[n - 1] == 'g' ? "image/svg+xml" :
	    "text/html; charset=utf-8");
	arxiv_httpd_resp_header(resp, "Cache-Control", "no-cache");
	arxiv_httpd_resp_header(resp, "X-Content-Type-Options", "nosniff");
	arxiv_httpd_resp_header(resp, "Content-Security-Policy",
	    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'");
	if (atomic_load(&s->draining))
		resp->close = 1;
	r->status = HTTP_OK;
	return 0;
}

int
reply_page(struct server *s, struct req *r)
{
	struct httpd_resp *resp = r->resp;
	struct page *pg;
	char why[sizeof(s->page_why)];

	pthread_mutex_lock(&s->lock);
	if ((pg = s->page) != NULL)
		atomic_fetch_add(&pg->refs, 1);
	else
		memcpy(why, s->page_why, sizeof(why));
	pthread_mutex_unlock(&s->lock);
	if (pg == NULL)
		return reply_err(s, r, HTTP_NOT_FOUND, "not found", "%s", why);
	resp->status = HTTP_OK;
	resp->body = pg->data;
	resp->len = pg->len;
	resp->release = page_put;
	resp->release_arg = pg;
	arxiv_httpd_resp_header(resp, "Content-Type", "text/html; charset=utf-8");
	arxiv_httpd_resp_header(resp, "Cache-Control", "no-cache");
	arxiv_httpd_resp_header(resp, "X-Content-Type-Options", "nosniff");
	arxiv_httpd_resp_header(resp, "Referrer-Policy", "no-referrer");
	arxiv_httpd_resp_header(resp, "Content-Security-Policy",
	    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
	    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
	    "frame-ancestors 'none'");
	if (atomic_load(&s->draining))
		resp->close = 1;
	r->status = HTTP_OK;
	return 0;
}
