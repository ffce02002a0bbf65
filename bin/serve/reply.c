/*
 * arxiv-serve's responses (see serve.h): a body queued on the request's
 * httpd response with the headers every answer carries; JSON errors
 * {"error":...,"detail":...}, 405 with Allow, 503 while no model is loaded.
 */
#include <stdarg.h>

#include "serve.h"

/* Copy s into dst as printable ASCII (other bytes as \xHH), truncated. */
void
copy_clean(char *dst, size_t n, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 5 < n; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch >= 0x21 && ch < 0x7f && ch != '\\' && ch != '"')
			dst[o++] = (char)ch;
		else
			o += (size_t)snprintf(dst + o, n - o, "\\x%02x", ch);
	}
	if (s && *s && o + 4 <= n) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

char *
dump_line(json_t *j)
{
	char *t, *u;
	size_t n;

	if (j == NULL || (t = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return NULL;
	}
	json_decref(j);
	n = strlen(t);
	if ((u = realloc(t, n + 2)) == NULL) {
		free(t);
		return NULL;
	}
	u[n] = '\n';
	u[n + 1] = '\0';
	return u;
}

void
release_free(void *p)
{
	free(p);
}

/* Queue body (malloc'd, ownership taken; NULL for an empty body). */
int
reply(struct server *s, struct req *r, unsigned status, char *body,
    const char *ctype, const char *allow)
{
	struct httpd_resp *resp = r->resp;

	resp->status = status;
	resp->body = body ? body : "";
	resp->len = body ? strlen(body) : 0;
	resp->release = body ? release_free : NULL;
	resp->release_arg = body;
	if (ctype)
		arxiv_httpd_resp_header(resp, "Content-Type", ctype);
	arxiv_httpd_resp_header(resp, "Cache-Control", "no-store");
	arxiv_httpd_resp_header(resp, "X-Content-Type-Options", "nosniff");
	if (allow)
		arxiv_httpd_resp_header(resp, "Allow", allow);
	if (atomic_load(&s->draining))
		resp->close = 1;
	r->status = status;
	return 0;
}

int
reply_json(struct server *s, struct req *r, unsigned status, char *body)
{
	if (body == NULL)
		return -1;
	return reply(s, r, status, body, "application/json", NULL);
}

/* {"error":...,"detail":...} with printf-style detail. */
int __attribute__((format(printf, 5, 6)))
reply_err(struct server *s, struct req *r, unsigned status,
    const char *error, const char *fmt, ...)
{
	char detail[1024];
	char *body;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (arxiv_utf8_check(detail, strlen(detail)) >= 0) {
		char tmp[sizeof(detail)];

		copy_clean(tmp, sizeof(tmp), detail);
		memcpy(detail, tmp, sizeof(detail));
	}
	body = dump_line(json_pack("{s:s,s:s}", "error", error, "detail", detail));
	return reply(s, r, status, body, "application/json", NULL);
}

int
reply_405(struct server *s, struct req *r, const char *allow)
{
	char *body = dump_line(json_pack("{s:s,s:s++++}", "error", "method not allowed", "detail",
	    r->method, " is not allowed on ", route_name(r->route), "; allowed: ", allow));

	if (body == NULL)
		return -1;
	return reply(s, r, HTTP_METHOD_NOT_ALLOWED, body, "application/json", allow);
}

int
reply_503(struct server *s, struct req *r, int ready_field)
{
	char why[sizeof(s->why)];
	json_t *j;

	pthread_mutex_lock(&s->lock);
	memcpy(why, s->why, sizeof(why));
	pthread_mutex_unlock(&s->lock);
	if (ready_field)
		j = json_pack("{s:b,s:s,s:s}", "ready", 0, "error", "model not loaded", "detail", why);
	else
		j = json_pack("{s:s,s:s}", "error", "model not loaded", "detail", why);
	return reply_json(s, r, HTTP_SERVICE_UNAVAILABLE, dump_line(j));
}
