/*
 * httpd_parse.c - the request side of arxiv-serve's HTTP/1.1 server
 * (httpd.c, see httpd.h), with no socket in sight: the end of a request head,
 * the strict parse of its request line and header fields (RFC 9112), header
 * lookup, response header lines, and chunked body framing. Also what
 * tests/fuzz/fuzz_httpd.c feeds.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"

static int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A line ends at LF, optionally preceded by CR; a CR elsewhere is refused by the parser. */
long
arxiv_httpd_scan_head(const char *b, size_t n, const char **why)
{
	size_t i = 0, s, j, k;
	int part = 0;	/* 0 method, 1 target, 2 version */
	size_t plen = 0;
	static const char ver[] = "HTTP/d.d";

	/* empty lines before the request line are ignored (RFC 9112 2.2) */
	while (i < n && (b[i] == '\n' || (b[i] == '\r' && (i + 1 >= n || b[i + 1] == '\n'))))
		i++;
	if (i >= HTTPD_LINE_MAX) {
		*why = "too many empty lines before the request line";
		return -HTTP_BAD_REQUEST;
	}
	s = i;
	if (i < n && (unsigned char)b[i] == 0x16) {
		*why = "a TLS handshake on a plain-HTTP port: use http://, not https://";
		return -HTTP_BAD_REQUEST;
	}
	/* the request line, checked as far as it has arrived */
	for (; i < n && b[i] != '\r' && b[i] != '\n'; i++) {
		unsigned char c = (unsigned char)b[i];

		if (i - s >= HTTPD_LINE_MAX) {
			*why = "the request line is longer than 8192 bytes";
			return -HTTP_URI_TOO_LONG;
		}
		if (part == 0) {
			if (c == ' ' && plen > 0) {
				part = 1, plen = 0;
				continue;
			}
			if (!tchar(c) || ++plen > HTTPD_METHOD_MAX) {
				*why = "not an HTTP request";
				return -HTTP_BAD_REQUEST;
			}
		} else if (part == 1) {
			if (c == ' ' && plen > 0) {
				part = 2, plen = 0;
				continue;
			}
			if ((plen == 0 && c != '/' && c != '*') || c <= 0x20 || c >= 0x7f) {
				*why = "not an HTTP request (the target must be a path such as /healthz)";
				return -HTTP_BAD_REQUEST;
			}
			plen++;
		} else {
			if (plen >= sizeof(ver) - 1 || (ver[plen] == 'd' ? !isdigit(c) : c != (unsigned char)ver[plen])) {
				*why = "not an HTTP request (the version must be HTTP/1.1 or HTTP/1.0)";
				return -HTTP_BAD_REQUEST;
			}
			plen++;
		}
	}
	if (i >= n)
		return 0;
	if (part != 2 || plen != sizeof(ver) - 1) {
		*why = "not an HTTP request (expected: METHOD /path HTTP/1.1)";
		return -HTTP_BAD_REQUEST;
	}
	/* then header lines up to an empty one */
	for (j = i;;) {
		/* j is at the CR or LF ending a line */
		k = j;
		if (b[k] == '\r')
			k++;
		if (k >= n)
			break;
		if (b[k] != '\n') {
			*why = "a CR not followed by LF";
			return -HTTP_BAD_REQUEST;
		}
		k++;
		if (k < n && b[k] == '\n')
			return (long)(k + 1);
		if (k + 1 < n && b[k] == '\r' && b[k + 1] == '\n')
			return (long)(k + 2);
		if (k + 1 == n && b[k] == '\r')
			break;
		/* the next line's end */
		{
			const char *e = memchr(b + k, '\n', n - k), *r = memchr(b + k, '\r', n - k);

			if (r && (e == NULL || r < e))
				e = r;
			if (e == NULL)
				break;
			j = (size_t)(e - b);
		}
		if (j >= HTTPD_HEAD_MAX)
			break;
	}
	if (n >= HTTPD_HEAD_MAX) {
		*why = "the header section is larger than 32768 bytes";
		return -HTTP_HEADERS_TOO_LARGE;
	}
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode the path in place; -1 when it decodes to a NUL. */
static int
unescape_path(char *p)
{
	char *o = p;

	for (; *p; p++) {
		if (*p == '%' && hexval((unsigned char)p[1]) >= 0 && hexval((unsigned char)p[2]) >= 0) {
			int v = hexval((unsigned char)p[1]) * 16 + hexval((unsigned char)p[2]);

			if (v == 0)
				return -1;
			*o++ = (char)v;
			p += 2;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return 0;
}

/* Does the comma-separated list v contain the token t (case-insensitive)? */
static int
has_token(const char *v, const char *t)
{
	size_t n = strlen(t);

	while (*v) {
		size_t k;

		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		k = strcspn(v, ",");
		while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t'))
			k--;
		if (k == n && strncasecmp(v, t, n) == 0)
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

#define FAIL(st, msg) do { *why = (msg); return (st); } while (0)

int
arxiv_httpd_parse_head(char *b, size_t len, struct httpd_req *r, const char **why)
{
	char *p = b, *end = b + len, *sp, *q, *eol;
	int n_cl = 0, n_te = 0, n_host = 0, close = 0, ka = 0;
	const char *cl = NULL;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->body = "";
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	/* request line */
	if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
		FAIL(HTTP_BAD_REQUEST, "not an HTTP request");
	q = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
	*q = '\0';
	if (strchr(p, '\r'))
		FAIL(HTTP_BAD_REQUEST, "a CR not followed by LF");
	if ((sp = strchr(p, ' ')) == NULL || sp == p)
		FAIL(HTTP_BAD_REQUEST, "not an HTTP request (expected: METHOD /path HTTP/1.1)");
	*sp = '\0';
	r->method = p;
	for (q = p; *q; q++)
		if (!tchar((unsigned char)*q))
			FAIL(HTTP_BAD_REQUEST, "not an HTTP request");
	if (q - p > HTTPD_METHOD_MAX)
		FAIL(HTTP_BAD_REQUEST, "not an HTTP request (method too long)");
	p = sp + 1;
	if ((sp = strchr(p, ' ')) == NULL || sp == p)
		FAIL(HTTP_BAD_REQUEST, "not an HTTP request (expected: METHOD /path HTTP/1.1)");
	*sp = '\0';
	r->target = p;
	q = sp + 1;	/* the version, checked before the target so that HTTP/2's preface gets 505 */
	if (strlen(q) != 8 || strncmp(q, "HTTP/", 5) != 0 || !isdigit((unsigned char)q[5]) || q[6] != '.' ||
	    !isdigit((unsigned char)q[7]))
		FAIL(HTTP_BAD_REQUEST, "not an HTTP request (the version must be HTTP/1.1 or HTTP/1.0)");
	if (q[5] != '1' || (q[7] != '0' && q[7] != '1'))
		FAIL(HTTP_VERSION_NOT_SUPPORTED, "only HTTP/1.1 and HTTP/1.0 are spoken here");
	for (q = p; *q; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			FAIL(HTTP_BAD_REQUEST, "a control or non-ASCII byte in the target");
	if (strcmp(p, "*") == 0) {
		if (strcmp(r->method, "OPTIONS") != 0)
			FAIL(HTTP_BAD_REQUEST, "the target * is for OPTIONS only");
	} else if (p[0] != '/')
		FAIL(HTTP_BAD_REQUEST, "the target must be a path such as /healthz (origin-form)");
	p = sp + 1;
	r->minor = p[7] - '0';
	r->head = strcmp(r->method, "HEAD") == 0;
	/* the path: the target before '?', percent-decoded in place */
	{
		size_t pl = strcspn(r->target, "?");

		if (r->target[pl] == '?')
			r->query = r->target + pl + 1;
		((char *)r->target)[pl] = '\0';
		r->path = r->target;
		if (unescape_path((char *)r->path) < 0)
			FAIL(HTTP_BAD_REQUEST, "a NUL byte (%00) in the path");
	}
	/* header fields */
	for (p = eol + 1; p < end; p = eol + 1) {
		char *name, *val, *ve;

		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			FAIL(HTTP_BAD_REQUEST, "an unterminated header line");
		q = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		if (q == p)
			break;	/* the empty line */
		*q = '\0';
		if (*p == ' ' || *p == '\t')
			FAIL(HTTP_BAD_REQUEST, "a folded header line (obs-fold) is not accepted");
		name = p;
		while (tchar((unsigned char)*p))
			p++;
		if (*p != ':') {
			if (strchr(p, ':') == NULL)
				FAIL(HTTP_BAD_REQUEST, "a header line without a colon");
			FAIL(HTTP_BAD_REQUEST, p == name ? "a header line without a name" :
			    "an invalid character in a header name (or space before the colon)");
		}
		if (p == name)
			FAIL(HTTP_BAD_REQUEST, "a header line without a name");
		*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		val = p;
		for (ve = p; *p; p++) {
			unsigned char c = (unsigned char)*p;

			if (c == '\t' || (c >= 0x20 && c != 0x7f))
				ve = c == ' ' || c == '\t' ? ve : p + 1;
			else
				FAIL(HTTP_BAD_REQUEST, "a control byte in a header value");
		}
		*ve = '\0';
		if (p != q)	/* a NUL inside the line */
			FAIL(HTTP_BAD_REQUEST, "a control byte in a header value");
		if (r->nheaders == HTTPD_MAX_HEADERS)
			FAIL(HTTP_HEADERS_TOO_LARGE, "more than 100 header fields");
		r->name[r->nheaders] = name;
		r->value[r->nheaders++] = val;
		if (strcasecmp(name, "Content-Length") == 0) {
			if (n_cl++ && strcmp(cl, val) != 0)
				FAIL(HTTP_BAD_REQUEST, "Content-Length headers with different values");
			cl = val;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
			if (n_te++ || strcasecmp(val, "chunked") != 0)
				FAIL(HTTP_BAD_REQUEST, "Transfer-Encoding other than one \"chunked\"");
		} else if (strcasecmp(name, "Host") == 0) {
			n_host++;
		} else if (strcasecmp(name, "Connection") == 0) {
			close |= has_token(val, "close");
			ka |= has_token(val, "keep-alive");
		} else if (strcasecmp(name, "Expect") == 0) {
			if (strcasecmp(val, "100-continue") == 0)
				r->expect_continue = 1;
		}
	}
	if (r->minor == 1 && n_host != 1)
		FAIL(HTTP_BAD_REQUEST, n_host ? "more than one Host header" : "no Host header (required in HTTP/1.1)");
	if (n_cl && n_te)
		FAIL(HTTP_BAD_REQUEST, "both Content-Length and Transfer-Encoding; send one of them");
	if (n_te && r->minor == 0)
		FAIL(HTTP_BAD_REQUEST, "Transfer-Encoding in an HTTP/1.0 request");
	if (cl) {
		uint64_t v = 0;

		if (*cl == '\0')
			FAIL(HTTP_BAD_REQUEST, "an empty Content-Length");
		for (q = (char *)cl; *q; q++) {
			if (!isdigit((unsigned char)*q))
				FAIL(HTTP_BAD_REQUEST, "Content-Length is not a number of bytes (digits only)");
			if (v > (UINT64_C(1) << 62) / 10)
				FAIL(HTTP_BAD_REQUEST, "Content-Length is too large to be a length");
			v = v * 10 + (uint64_t)(*q - '0');
		}
		r->content_length = (int64_t)v;
	}
	r->chunked = n_te > 0;
	r->keep_alive = !close && (r->minor == 1 || ka);
	if (r->minor == 0)
		r->keep_alive = 0;	/* HTTP/1.0: one request per connection */
	return 0;
}

const char *
arxiv_httpd_header(const struct httpd_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->name[i], name) == 0)
			return r->value[i];
	return NULL;
}

int
arxiv_httpd_resp_header(struct httpd_resp *resp, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	if (resp->hlen + nl + vl + 4 >= sizeof(resp->hdr))
		return -1;
	memcpy(resp->hdr + resp->hlen, name, nl);
	resp->hlen += nl;
	memcpy(resp->hdr + resp->hlen, ": ", 2);
	memcpy(resp->hdr + resp->hlen + 2, value, vl);
	resp->hlen += 2 + vl;
	memcpy(resp->hdr + resp->hlen, "\r\n", 2);
	resp->hlen += 2;
	resp->hdr[resp->hlen] = '\0';
	return 0;
}

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LF, CH_DONE };

/* Chunked framing (RFC 9112 7.1), strictly: CRLF line ends, at most 16 hex digits. */
int
arxiv_httpd_chunked_feed(struct httpd_chunked *c, const char *in, size_t n, size_t *used,
    int (*out)(void *, const char *, size_t), void *arg, const char **why)
{
	size_t i = 0;

	while (i < n && c->state != CH_DONE) {
		unsigned char ch = (unsigned char)in[i];

		switch (c->state) {
		case CH_SIZE:
			if (hexval(ch) >= 0) {
				if (++c->ndig > 15) {
					*why = "a chunk size with more than 15 hex digits";
					goto bad;
				}
				c->left = c->left * 16 + (uint64_t)hexval(ch);
				i++;
				break;
			}
			if (c->ndig == 0) {
				*why = "a chunk size that is not hexadecimal";
				goto bad;
			}
			if (ch == ';') {
				c->state = CH_EXT;
				c->line = 0;
			} else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else {
				*why = "a chunk size that is not hexadecimal";
				goto bad;
			}
			i++;
			break;
		case CH_EXT:	/* chunk extensions: ignored, visible bytes, bounded */
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\t' || (ch >= 0x20 && ch != 0x7f)) {
				if (++c->line > 1024) {
					*why = "a chunk extension longer than 1024 bytes";
					goto bad;
				}
			} else {
				*why = "a control byte in a chunk extension";
				goto bad;
			}
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n') {
				*why = "a chunk size line not ended by CRLF";
				goto bad;
			}
			i++;
			c->ndig = 0;
			if (c->left == 0) {
				c->state = CH_TRAILER;
				c->line = 0;
			} else
				c->state = CH_DATA;
			break;
		case CH_DATA: {
			size_t k = n - i < c->left ? n - i : (size_t)c->left;

			if (out(arg, in + i, k) < 0) {
				*used = i;
				return -2;
			}
			i += k;
			c->left -= k;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
		case CH_DATA_LF:
			if (ch != (c->state == CH_DATA_CR ? '\r' : '\n')) {
				*why = "chunk data not followed by CRLF";
				goto bad;
			}
			c->state = c->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
			i++;
			break;
		case CH_TRAILER:	/* trailer fields: checked for shape, dropped */
			if (ch == '\r') {
				c->state = CH_TRAILER_LF;
			} else if (ch == '\t' || (ch >= 0x20 && ch != 0x7f) || ch >= 0x80) {
				if (c->line == 0 && (ch == ' ' || ch == '\t')) {
					*why = "a folded trailer line";
					goto bad;
				}
				c->line++;
			} else {
				*why = "a control byte in a trailer field";
				goto bad;
			}
			if (++c->trailer > HTTPD_HEAD_MAX) {
				*why = "a trailer section larger than 32768 bytes";
				goto bad;
			}
			i++;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n') {
				*why = "a trailer line not ended by CRLF";
				goto bad;
			}
			i++;
			c->state = c->line == 0 ? CH_DONE : CH_TRAILER;
			c->line = 0;
			break;
		}
	}
	*used = i;
	return c->state == CH_DONE;
bad:
	*used = i;
	return -1;
}
