/*
 * arxiv-harvest - an OAI-PMH 2.0 harvester for arXiv (ListRecords,
 * metadataPrefix=arXiv) writing JSON lines in the Kaggle dump's schema, so
 * arxiv-map and the rest of the toolchain run unchanged on new papers.
 * libcurl fetches each page; libxml2's xmlTextReader parses it while it
 * arrives. A page's records are written once the page is complete, the
 * state file (--state) only after the whole harvest is flushed.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/xmlreader.h>

#include "prog.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

#define DEFAULT_BASE "https://oaipmh.arxiv.org/oai"
#define NS_OAI "http://www.openarchives.org/OAI/2.0/"
#define NS_ARXIV "http://arxiv.org/OAI/arXiv/"
#define STATE_MAGIC "arxiv-harvest-state 1"
#define MAX_WAIT 600		/* longest Retry-After honoured, seconds */


enum { OPT_FROM = 256, OPT_UNTIL, OPT_SET, OPT_STATE, OPT_BASE, OPT_DELAY, OPT_RETRIES,
	OPT_TIMEOUT, OPT_DELETED, OPT_VERBOSE };

static const struct option longopts[] = {
	{ "from", required_argument, NULL, OPT_FROM },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "set", required_argument, NULL, OPT_SET },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "base-url", required_argument, NULL, OPT_BASE },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "deleted", no_argument, NULL, OPT_DELETED },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "from", "date", "harvest records changed on or after date (YYYY-MM-DD)", 0 },
	{ "until", "date", "... and on or before date (default with --state: yesterday)", 0 },
	{ "set", "spec", "only this OAI set (cs, math, physics:hep-th, ...)", 0 },
	{ "state", "file", "incremental: start where the last run ended, record the end", 0 },
	{ "base-url", "url", "the OAI-PMH endpoint (default: https://oaipmh.arxiv.org/oai)", 0 },
	{ "delay", "s", "seconds between requests (default: 3, arXiv's policy)", 0 },
	{ "retries", "n", "retries of a failed request (default: 5)", 0 },
	{ "timeout", "s", "seconds a request may take (default: 300)", 0 },
	{ "deleted", NULL, "write {\"id\",\"deleted\":true,\"datestamp\"} for deleted records", 0 },
	{ "keep-going", NULL, "skip malformed records (XML recovery), count them", 0 },
	{ "verbose", NULL, "each request, waits and the counts on stderr", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog P = {
	"arxiv-harvest", NULL,
	"Harvest arXiv metadata over OAI-PMH (metadataPrefix=arXiv) as JSON lines in the Kaggle dump's schema.",
	"hVk", longopts, help, NULL
};

struct opts {
	const char *from, *until, *set, *state, *base;
	double delay;
	long retries, timeout;
	int deleted, keep, verbose;
};

/* ------------------------------------------------------------ dates */

/* 0 when s is a valid YYYY-MM-DD date; *t gets its midnight UTC */
static int
parse_date(const char *s, time_t *t)
{
	struct tm tm = { 0 };
	int y, m, d;
	char c;

	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &c) != 3 ||
	    s[4] != '-' || s[7] != '-' || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[5]) || !isdigit((unsigned char)s[8]))
		return -1;
	time_t v;

	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	v = timegm(&tm);
	gmtime_r(&v, &tm);	/* 2026-02-30 comes back as 2026-03-02 */
	if (tm.tm_year != y - 1900 || tm.tm_mon != m - 1 || tm.tm_mday != d || y < 1991)
		return -1;
	if (t)
		*t = v;
	return 0;
}

static void
fmt_date(time_t t, char *buf, size_t n)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d", &tm);
}

/* ------------------------------------------------------------ state file */

struct state {
	char from[16];
	char base[2048];
	char set[256];
};

/* 1 loaded, 0 absent, -1 corrupt or unreadable (reported) */
static int
state_load(const char *path, struct state *st)
{
	char line[4096], why[256] = "";
	FILE *fp;
	int lineno = 0, have_from = 0, have_base = 0, have_set = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		warn("%s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t n = strlen(line);

		lineno++;
		if (n == 0 || line[n - 1] != '\n') {
			snprintf(why, sizeof(why), "line too long or not ended");
			break;
		}
		line[--n] = '\0';
		if (lineno == 1) {
			if (strcmp(line, STATE_MAGIC) != 0) {
				snprintf(why, sizeof(why), "not \"%s\"", STATE_MAGIC);
				break;
			}
		} else if (strncmp(line, "from ", 5) == 0 && !have_from) {
			if (parse_date(line + 5, NULL) < 0) {
				snprintf(why, sizeof(why), "bad date \"%.20s\"", line + 5);
				break;
			}
			memcpy(st->from, line + 5, 11);
			have_from = 1;
		} else if (strncmp(line, "base-url ", 9) == 0 && !have_base && n > 9 &&
		    n - 9 < sizeof(st->base)) {
			memcpy(st->base, line + 9, n - 9 + 1);
			have_base = 1;
		} else if (strncmp(line, "set ", 4) == 0 && !have_set && n > 4 &&
		    n - 4 < sizeof(st->set)) {
			memcpy(st->set, line + 4, n - 4 + 1);
			have_set = 1;
		} else {
			snprintf(why, sizeof(why), "unexpected line \"%.40s\"", line);
			break;
		}
	}
	if (!why[0] && ferror(fp))
		snprintf(why, sizeof(why), "%s", strerror(errno));
	fclose(fp);
	if (!why[0] && !(have_from && have_base && have_set)) {
		snprintf(why, sizeof(why), "missing %s", !have_from ? "\"from\"" : !have_base ?
		    "\"base-url\"" : "\"set\"");
		lineno = 0;
	}
	if (why[0]) {
		if (lineno)
			warnx("%s:%d: corrupt state file: %s; delete it to harvest from --from again "
			    "(or write the lines of arxiv-harvest(1) STATE FILE)", path, lineno, why);
		else
			warnx("%s: corrupt state file: %s; delete it to harvest from --from again "
			    "(or write the lines of arxiv-harvest(1) STATE FILE)", path, why);
		return -1;
	}
	return 1;
}

/* Write the state atomically (arxiv_atomic_write: a temporary beside it, fsync, rename). */
static int
state_save(const char *path, const struct state *st)
{
	struct arxiv_error e;
	char buf[4096];
	int n;

	n = snprintf(buf, sizeof(buf), "%s\nfrom %s\nbase-url %s\nset %s\n", STATE_MAGIC, st->from,
	    st->base, st->set);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		warnx("%s: state too long", path);
		return -1;
	}
	if (arxiv_atomic_write(path, NULL, buf, (size_t)n, &e) < 0) {
		prog_warnerr(&e);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ HTTP, pulled by the parser */

struct fetch {
	CURLM *multi;
	CURL *easy;
	char *buf;
	size_t len, off, cap;
	int done, checked, bad_status;
	CURLcode result;
	long status;
	long retry_after;	/* seconds, -1 none */
	char curl_err[CURL_ERROR_SIZE];
};

static size_t
on_data(char *p, size_t sz, size_t nm, void *ud)
{
	struct fetch *f = ud;
	size_t n = sz * nm;

	if (f->off == f->len)
		f->off = f->len = 0;
	if (f->len + n > f->cap) {
		size_t nc = f->cap ? f->cap : 65536;
		char *nb;

		while (nc < f->len + n)
			nc *= 2;
		if ((nb = realloc(f->buf, nc)) == NULL)
			return 0;
		f->buf = nb;
		f->cap = nc;
	}
	memcpy(f->buf + f->len, p, n);
	f->len += n;
	return n;
}

static size_t
on_header(char *p, size_t sz, size_t nm, void *ud)
{
	struct fetch *f = ud;
	size_t n = sz * nm;

	if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		char v[128];
		size_t k = n - 12;
		char *s = v, *end;
		long secs;

		if (k >= sizeof(v))
			k = sizeof(v) - 1;
		memcpy(v, p + 12, k);
		v[k] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		s[strcspn(s, "\r\n")] = '\0';
		secs = strtol(s, &end, 10);
		if (end != s && *end == '\0' && secs >= 0)
			f->retry_after = secs;
		else {
			time_t t = curl_getdate(s, NULL);

			if (t > 0)
				f->retry_after = t > time(NULL) ? (long)(t - time(NULL)) : 0;
		}
	} else if (n > 5 && strncmp(p, "HTTP/", 5) == 0)
		f->retry_after = -1;	/* a new response (after a redirect) */
	return n;
}

static void
fetch_pump(struct fetch *f)
{
	int running;
	CURLMsg *m;
	int q;

	curl_multi_perform(f->multi, &running);
	while ((m = curl_multi_info_read(f->multi, &q)) != NULL)
		if (m->msg == CURLMSG_DONE) {
			f->done = 1;
			f->result = m->data.result;
		}
	if (!f->done && running == 0) {
		f->done = 1;
		f->result = CURLE_OK;
	}
}

/* xmlInputReadCallback: the next bytes of the response body */
static int
fetch_read(void *ctx, char *out, int n)
{
	struct fetch *f = ctx;
	size_t k;

	while (f->off == f->len && !f->done) {
		fetch_pump(f);
		if (f->off == f->len && !f->done)
			curl_multi_poll(f->multi, NULL, 0, 1000, NULL);
	}
	if (f->off == f->len && f->done && f->result != CURLE_OK)
		return -1;	/* a transfer error: retried by the caller */
	if (!f->checked) {
		f->checked = 1;
		curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->status);
		if (f->status != 200) {
			f->bad_status = 1;
			return -1;
		}
	}
	if (f->off == f->len)
		return f->done && f->result != CURLE_OK ? -1 : 0;
	k = f->len - f->off;
	if (k > (size_t)n)
		k = (size_t)n;
	memcpy(out, f->buf + f->off, k);
	f->off += k;
	return (int)k;
}

static int
fetch_close(void *ctx)
{
	(void)ctx;
	return 0;
}

/* ------------------------------------------------------------ one page */

struct rec {
	int deleted, in_meta, bad, format_ok;
	struct arxiv_buf identifier, datestamp, id, created, updated, title, categories, comments,
	    journal, doi, report, license, abstract, authors, parsed;
	struct arxiv_buf keyname, forenames, suffix;
	int nauthors;
};

struct page {
	const struct opts *o;
	const char *url;
	long pageno, recno;		/* records in this page so far */
	struct arxiv_buf out;		/* the page's JSON lines */
	struct arxiv_buf token;		/* resumptionToken, "" = last page */
	int have_token;
	char response_date[32];
	char err_code[64];
	struct arxiv_buf err_text;
	char max_datestamp[32];
	/* counts of this page */
	long n, deleted, skipped, malformed;
	/* the first XML error */
	int xml_error, xml_line;
	char xml_msg[256];
	int in_record, rec_xml_error;
	struct rec r;
	char fatal[512];		/* a non-XML fatal problem (format) */
};

static void
rec_clear(struct rec *r)
{
	struct arxiv_buf *b[] = { &r->identifier, &r->datestamp, &r->id, &r->created, &r->updated,
		&r->title, &r->categories, &r->comments, &r->journal, &r->doi, &r->report, &r->license,
		&r->abstract, &r->authors, &r->parsed, &r->keyname, &r->forenames, &r->suffix };
	size_t i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		arxiv_buf_clear(b[i]);
	r->deleted = r->in_meta = r->bad = r->format_ok = 0;
	r->nauthors = 0;
}

static void
rec_free(struct rec *r)
{
	struct arxiv_buf *b[] = { &r->identifier, &r->datestamp, &r->id, &r->created, &r->updated,
		&r->title, &r->categories, &r->comments, &r->journal, &r->doi, &r->report, &r->license,
		&r->abstract, &r->authors, &r->parsed, &r->keyname, &r->forenames, &r->suffix };
	size_t i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		arxiv_buf_free(b[i]);
}

static void
on_xml_error(void *arg, const char *msg, xmlParserSeverities sev, xmlTextReaderLocatorPtr loc)
{
	struct page *p = arg;

	if (sev == XML_PARSER_SEVERITY_WARNING || sev == XML_PARSER_SEVERITY_VALIDITY_WARNING)
		return;
	if (p->in_record)
		p->rec_xml_error = 1;
	if (!p->xml_error) {
		size_t n;

		p->xml_error = 1;
		p->xml_line = loc ? xmlTextReaderLocatorLineNumber(loc) : 0;
		snprintf(p->xml_msg, sizeof(p->xml_msg), "%s", msg ? msg : "error");
		n = strlen(p->xml_msg);
		while (n > 0 && (p->xml_msg[n - 1] == '\n' || p->xml_msg[n - 1] == ' '))
			p->xml_msg[--n] = '\0';
	}
}

/* the text of the current element (entities decoded) into b */
static void
take_text(xmlTextReaderPtr r, struct arxiv_buf *b)
{
	xmlChar *s = xmlTextReaderReadString(r);

	arxiv_buf_clear(b);
	if (s) {
		arxiv_buf_append(b, s, strlen((char *)s));
		xmlFree(s);
	} else
		arxiv_buf_append(b, "", 0);
}

static void
put_key(struct arxiv_buf *o, const char *k, const struct arxiv_buf *v, int first)
{
	arxiv_buf_printf(o, "%s\"%s\":", first ? "" : ",", k);
	if (v == NULL || v->len == 0) {
		arxiv_buf_printf(o, "null");
		return;
	}
	arxiv_buf_putc(o, '"');
	arxiv_json_escape(v->data, v->len, o);
	arxiv_buf_putc(o, '"');
}

/* collapse white space runs of a one-line field (categories, dates) */
static void
squeeze(struct arxiv_buf *b)
{
	size_t i, k = 0;
	int sp = 1;

	for (i = 0; i < b->len; i++) {
		char c = b->data[i];

		if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
			if (!sp)
				b->data[k++] = ' ';
			sp = 1;
		} else {
			b->data[k++] = c;
			sp = 0;
		}
	}
	if (k > 0 && b->data[k - 1] == ' ')
		k--;
	b->len = k;
	if (b->data)
		b->data[k] = '\0';
}

static int
blank(const struct arxiv_buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if (!isspace((unsigned char)b->data[i]))
			return 0;
	return 1;
}

static void
rec_emit(struct page *p)
{
	struct rec *r = &p->r;
	const char *why = NULL;
	const char *id;

	squeeze(&r->datestamp);
	squeeze(&r->id);
	squeeze(&r->categories);
	squeeze(&r->created);
	squeeze(&r->updated);
	if (r->datestamp.len && strcmp(r->datestamp.data, p->max_datestamp) > 0)
		snprintf(p->max_datestamp, sizeof(p->max_datestamp), "%s", r->datestamp.data);
	id = r->id.len ? r->id.data : r->identifier.len ? r->identifier.data : "?";
	if (p->rec_xml_error || p->xml_error) {
		/* -k: from the first XML error on, libxml2's recovery cannot be trusted:
		 * every later record of the page is skipped too */
		warnx("%s: page %ld record %ld (%s): %s: skipped", p->url, p->pageno, p->recno, id,
		    p->rec_xml_error ? "malformed XML" : "after malformed XML");
		p->malformed++;
		return;
	}
	if (r->deleted) {
		p->deleted++;
		if (p->o->deleted) {
			const char *s = r->identifier.data ? r->identifier.data : "";

			if (strncmp(s, "oai:arXiv.org:", 14) == 0)
				s += 14;
			arxiv_buf_printf(&p->out, "{\"id\":\"");
			arxiv_json_escape(s, strlen(s), &p->out);
			arxiv_buf_printf(&p->out, "\",\"deleted\":true,");
			put_key(&p->out, "datestamp", &r->datestamp, 1);
			arxiv_buf_printf(&p->out, "}\n");
		}
		return;
	}
	if (!r->format_ok)
		why = "no arXiv metadata";
	else if (blank(&r->id))
		why = "no id";
	else if (blank(&r->title))
		why = "no title";
	else if (blank(&r->abstract))
		why = "no abstract";
	else if (blank(&r->categories))
		why = "no categories";
	if (why != NULL) {
		warnx("%s: page %ld record %ld (%s): %s: skipped", p->url, p->pageno, p->recno, id, why);
		p->skipped++;
		return;
	}
	arxiv_buf_printf(&p->out, "{");
	put_key(&p->out, "id", &r->id, 1);
	arxiv_buf_printf(&p->out, ",\"submitter\":null");
	put_key(&p->out, "authors", &r->authors, 0);
	put_key(&p->out, "title", &r->title, 0);
	put_key(&p->out, "comments", &r->comments, 0);
	put_key(&p->out, "journal-ref", &r->journal, 0);
	put_key(&p->out, "doi", &r->doi, 0);
	put_key(&p->out, "report-no", &r->report, 0);
	put_key(&p->out, "categories", &r->categories, 0);
	put_key(&p->out, "license", &r->license, 0);
	put_key(&p->out, "abstract", &r->abstract, 0);
	put_key(&p->out, "update_date", r->updated.len ? &r->updated : &r->created, 0);
	arxiv_buf_printf(&p->out, ",\"authors_parsed\":[%s]", r->parsed.data ? r->parsed.data : "");
	put_key(&p->out, "datestamp", &r->datestamp, 0);
	arxiv_buf_printf(&p->out, "}\n");
	p->n++;
}

static void
author_end(struct rec *r)
{
	struct arxiv_buf *parts[3] = { &r->keyname, &r->forenames, &r->suffix };
	int i;

	squeeze(&r->keyname);
	squeeze(&r->forenames);
	squeeze(&r->suffix);
	if (r->nauthors++)
		arxiv_buf_printf(&r->authors, ", ");
	if (r->forenames.len) {
		arxiv_buf_append(&r->authors, r->forenames.data, r->forenames.len);
		arxiv_buf_putc(&r->authors, ' ');
	}
	arxiv_buf_append(&r->authors, r->keyname.data ? r->keyname.data : "", r->keyname.len);
	if (r->suffix.len) {
		arxiv_buf_putc(&r->authors, ' ');
		arxiv_buf_append(&r->authors, r->suffix.data, r->suffix.len);
	}
	arxiv_buf_printf(&r->parsed, "%s[", r->nauthors > 1 ? "," : "");
	for (i = 0; i < 3; i++) {
		arxiv_buf_printf(&r->parsed, "%s\"", i ? "," : "");
		if (parts[i]->len)
			arxiv_json_escape(parts[i]->data, parts[i]->len, &r->parsed);
		arxiv_buf_putc(&r->parsed, '"');
	}
	arxiv_buf_putc(&r->parsed, ']');
	arxiv_buf_clear(&r->keyname);
	arxiv_buf_clear(&r->forenames);
	arxiv_buf_clear(&r->suffix);
}

static struct arxiv_buf *
field_buf(struct rec *r, const char *name)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
		{ "id", offsetof(struct rec, id) }, { "created", offsetof(struct rec, created) },
		{ "updated", offsetof(struct rec, updated) }, { "title", offsetof(struct rec, title) },
		{ "categories", offsetof(struct rec, categories) },
		{ "comments", offsetof(struct rec, comments) },
		{ "journal-ref", offsetof(struct rec, journal) }, { "doi", offsetof(struct rec, doi) },
		{ "report-no", offsetof(struct rec, report) },
		{ "license", offsetof(struct rec, license) },
		{ "abstract", offsetof(struct rec, abstract) },
		{ "keyname", offsetof(struct rec, keyname) },
		{ "forenames", offsetof(struct rec, forenames) },
		{ "suffix", offsetof(struct rec, suffix) },
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strcmp(f[i].name, name) == 0)
			return (struct arxiv_buf *)((char *)r + f[i].off);
	return NULL;
}

/*
 * Parse one response while it arrives. Returns 0 (page parsed; p->out, token,
 * error code set), -1 fatal (reported), 1 retry (HTTP status or transfer).
 */
static int
parse_page(struct page *p, struct fetch *f)
{
	xmlTextReaderPtr rd;
	int rc, opts = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT | XML_PARSE_HUGE;
	int meta_depth = -1;

	if (p->o->keep)
		opts |= XML_PARSE_RECOVER;
	rd = xmlReaderForIO(fetch_read, fetch_close, f, p->url, NULL, opts);
	if (rd == NULL) {
		if (f->bad_status || (f->done && f->result != CURLE_OK))
			return 1;
		warnx("%s: cannot start the XML reader", p->url);
		return -1;
	}
	xmlTextReaderSetErrorHandler(rd, on_xml_error, p);
	while ((rc = xmlTextReaderRead(rd)) == 1) {
		int type = xmlTextReaderNodeType(rd), depth = xmlTextReaderDepth(rd);
		const char *name = (const char *)xmlTextReaderConstLocalName(rd);
		const char *ns = (const char *)xmlTextReaderConstNamespaceUri(rd);
		int empty = xmlTextReaderIsEmptyElement(rd);

		if (type == XML_READER_TYPE_END_ELEMENT || (type == XML_READER_TYPE_ELEMENT && empty)) {
			if (strcmp(name, "record") == 0 && p->in_record) {
				if (type == XML_READER_TYPE_ELEMENT)
					p->recno++;
				rec_emit(p);
				p->in_record = 0;
			} else if (strcmp(name, "author") == 0 && p->in_record && p->r.in_meta)
				author_end(&p->r);
			else if (strcmp(name, "metadata") == 0)
				p->r.in_meta = 0, meta_depth = -1;
			if (type == XML_READER_TYPE_END_ELEMENT)
				continue;
			if (strcmp(name, "resumptionToken") == 0) {
				p->have_token = 1;
				arxiv_buf_clear(&p->token);
			}
			continue;
		}
		if (type != XML_READER_TYPE_ELEMENT)
			continue;
		if (depth == 1 && strcmp(name, "responseDate") == 0) {
			struct arxiv_buf b = { 0 };

			take_text(rd, &b);
			snprintf(p->response_date, sizeof(p->response_date), "%s", b.data ? b.data : "");
			arxiv_buf_free(&b);
		} else if (depth == 1 && strcmp(name, "error") == 0) {
			xmlChar *code = xmlTextReaderGetAttribute(rd, (const xmlChar *)"code");

			snprintf(p->err_code, sizeof(p->err_code), "%s", code ? (char *)code : "?");
			xmlFree(code);
			take_text(rd, &p->err_text);
			squeeze(&p->err_text);
		} else if (strcmp(name, "record") == 0 && ns && strcmp(ns, NS_OAI) == 0) {
			rec_clear(&p->r);
			p->in_record = 1;
			p->rec_xml_error = 0;
			p->recno++;
		} else if (strcmp(name, "resumptionToken") == 0) {
			p->have_token = 1;
			take_text(rd, &p->token);
			squeeze(&p->token);
		} else if (p->in_record && strcmp(name, "header") == 0) {
			xmlChar *st = xmlTextReaderGetAttribute(rd, (const xmlChar *)"status");

			p->r.deleted = st && strcmp((char *)st, "deleted") == 0;
			xmlFree(st);
		} else if (p->in_record && !p->r.in_meta && strcmp(name, "identifier") == 0)
			take_text(rd, &p->r.identifier);
		else if (p->in_record && !p->r.in_meta && strcmp(name, "datestamp") == 0)
			take_text(rd, &p->r.datestamp);
		else if (p->in_record && strcmp(name, "metadata") == 0 && !p->r.in_meta) {
			p->r.in_meta = 1;
			meta_depth = depth;
		} else if (p->in_record && p->r.in_meta && depth == meta_depth + 1) {
			if (strcmp(name, "arXiv") != 0 || ns == NULL || strcmp(ns, NS_ARXIV) != 0) {
				snprintf(p->fatal, sizeof(p->fatal), "%s: page %ld record %ld: unknown "
				    "metadata format <%s xmlns=\"%s\">: arxiv-harvest reads only "
				    "metadataPrefix=arXiv (" NS_ARXIV ")", p->url, p->pageno, p->recno,
				    name, ns ? ns : "");
				break;
			}
			p->r.format_ok = 1;
		} else if (p->in_record && p->r.in_meta && p->r.format_ok) {
			struct arxiv_buf *b = field_buf(&p->r, name);

			if (b != NULL && !empty)
				take_text(rd, b);
		}
	}
	xmlFreeTextReader(rd);
	if (p->fatal[0]) {
		warnx("%s", p->fatal);
		return -1;
	}
	if (f->bad_status || (f->done && f->result != CURLE_OK) || (!f->done && rc < 0))
		return 1;
	if (p->xml_error && !p->o->keep) {
		if (p->in_record || p->rec_xml_error)
			warnx("%s: page %ld record %ld, line %d: malformed XML: %s (-k skips the record)",
			    p->url, p->pageno, p->recno, p->xml_line, p->xml_msg);
		else
			warnx("%s: page %ld, line %d: malformed XML: %s", p->url, p->pageno, p->xml_line,
			    p->xml_msg);
		return -1;
	}
	if (rc < 0 && !p->o->keep) {
		warnx("%s: page %ld: malformed XML", p->url, p->pageno);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ the harvest */

static void
sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
add_param(CURL *c, struct arxiv_buf *u, const char *k, const char *v)
{
	char *e = curl_easy_escape(c, v, 0);

	arxiv_buf_printf(u, "&%s=%s", k, e ? e : "");
	curl_free(e);
}

struct totals {
	long pages, n, deleted, skipped, malformed, requests;
	char response_date[32], max_datestamp[32];
};

/* Fetch and parse one page with retries. 0 ok, -1 fatal. */
static int
get_page(const struct opts *o, CURL *easy, CURLM *multi, const char *url, struct page *p,
    struct totals *t)
{
	long attempt;

	for (attempt = 0;; attempt++) {
		struct fetch f = { 0 };
		double wait;
		int rc;

		f.multi = multi;
		f.easy = easy;
		f.retry_after = -1;
		curl_easy_setopt(easy, CURLOPT_URL, url);
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(easy, CURLOPT_WRITEDATA, &f);
		curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(easy, CURLOPT_HEADERDATA, &f);
		curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, f.curl_err);
		if (t->requests++ > 0)
			sleep_s(o->delay);
		if (o->verbose)
			warnx("GET %s", url);
		arxiv_buf_clear(&p->out);
		arxiv_buf_clear(&p->token);
		p->have_token = 0;
		p->recno = p->n = p->deleted = p->skipped = p->malformed = 0;
		p->xml_error = p->in_record = p->rec_xml_error = 0;
		p->err_code[0] = p->fatal[0] = p->response_date[0] = '\0';
		curl_multi_add_handle(multi, easy);
		rc = parse_page(p, &f);
		/* drain what is left (a rejected status), so the handle can be reused */
		while (!f.done && rc != 0) {
			fetch_pump(&f);
			if (!f.done)
				curl_multi_poll(multi, NULL, 0, 200, NULL);
		}
		curl_multi_remove_handle(multi, easy);
		if (!f.checked)
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &f.status);
		free(f.buf);
		if (rc <= 0) {
			if (rc == 0 && f.status != 200) {
				warnx("%s: HTTP %ld", url, f.status);
				return -1;
			}
			return rc;
		}
		/* rc 1: HTTP status or transfer error */
		if (f.done && f.result != CURLE_OK && (!f.bad_status || f.status == 0)) {
			warnx("%s: %s%s", url, f.curl_err[0] ? f.curl_err : curl_easy_strerror(f.result),
			    attempt < o->retries ? ": retrying" : "");
		} else if (f.status == 503 || f.status == 429 || f.status >= 500) {
			warnx("%s: HTTP %ld%s", url, f.status, attempt < o->retries ? ": retrying" : "");
		} else {
			warnx("%s: HTTP %ld", url, f.status);
			return -1;
		}
		if (attempt >= o->retries) {
			warnx("%s: giving up after %ld tries", url, attempt + 1);
			return -1;
		}
		if (f.retry_after >= 0) {
			wait = f.retry_after > MAX_WAIT ? MAX_WAIT : (double)f.retry_after;
			if (o->verbose)
				warnx("Retry-After: waiting %.0f s", wait);
		} else {
			wait = attempt < 6 ? (double)(1L << attempt) : 60;
			if (o->verbose)
				warnx("backing off %.0f s", wait);
		}
		sleep_s(wait);
	}
}

static int
harvest(const struct opts *o, const char *from, const char *until, struct totals *t)
{
	CURL *easy;
	CURLM *multi;
	struct page p = { 0 };
	struct arxiv_buf url = { 0 };
	int status = 0;

	p.o = o;
	if ((easy = curl_easy_init()) == NULL || (multi = curl_multi_init()) == NULL)
		errx(1, "cannot initialise libcurl");
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "arxiv-harvest/" VERSION);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT, o->timeout);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");

	arxiv_buf_printf(&url, "%s?verb=ListRecords", o->base);
	add_param(easy, &url, "metadataPrefix", "arXiv");
	if (from)
		add_param(easy, &url, "from", from);
	if (until)
		add_param(easy, &url, "until", until);
	if (o->set)
		add_param(easy, &url, "set", o->set);
	for (p.pageno = 1;; p.pageno++) {
		p.url = url.data;
		if (get_page(o, easy, multi, url.data, &p, t) < 0) {
			status = -1;
			break;
		}
		if (p.pageno == 1)
			snprintf(t->response_date, sizeof(t->response_date), "%s", p.response_date);
		if (p.err_code[0]) {
			if (strcmp(p.err_code, "noRecordsMatch") == 0 && p.pageno == 1) {
				if (o->verbose)
					warnx("no records match: nothing new");
				break;
			}
			if (strcmp(p.err_code, "cannotDisseminateFormat") == 0)
				warnx("%s: the server cannot give metadataPrefix=arXiv "
				    "(cannotDisseminateFormat: %s)", o->base, p.err_text.data ?
				    p.err_text.data : "");
			else if (strcmp(p.err_code, "badResumptionToken") == 0)
				warnx("%s: page %ld: the resumption token expired or is invalid (%s); "
				    "run again: the state file is unchanged", o->base, p.pageno,
				    p.err_text.data ? p.err_text.data : "");
			else
				warnx("%s: OAI-PMH error %s: %s", url.data, p.err_code,
				    p.err_text.data ? p.err_text.data : "");
			status = -1;
			break;
		}
		/* the page is complete: write it */
		if (p.out.len && fwrite(p.out.data, 1, p.out.len, stdout) != p.out.len) {
			status = -2;
			break;
		}
		t->pages++;
		t->n += p.n;
		t->deleted += p.deleted;
		t->skipped += p.skipped;
		t->malformed += p.malformed;
		if (strcmp(p.max_datestamp, t->max_datestamp) > 0)
			memcpy(t->max_datestamp, p.max_datestamp, sizeof(t->max_datestamp));
		if (!p.have_token || p.token.len == 0)
			break;
		arxiv_buf_clear(&url);
		arxiv_buf_printf(&url, "%s?verb=ListRecords", o->base);
		add_param(easy, &url, "resumptionToken", p.token.data);
	}
	rec_free(&p.r);
	arxiv_buf_free(&p.out);
	arxiv_buf_free(&p.token);
	arxiv_buf_free(&p.err_text);
	arxiv_buf_free(&url);
	curl_multi_cleanup(multi);
	curl_easy_cleanup(easy);
	return status;
}

int
main(int argc, char *argv[])
{
	struct opts o = { 0 };
	struct state st = { "", "", "" };
	struct totals t = { 0 };
	char until_buf[16], next[16];
	const char *from, *until;
	time_t tf = 0, tu = 0;
	int c, status = 0, have_state = 0, rc;

	o.base = DEFAULT_BASE;
	o.delay = 3;
	o.retries = 5;
	o.timeout = 300;
	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case OPT_FROM:
			o.from = optarg;
			break;
		case OPT_UNTIL:
			o.until = optarg;
			break;
		case OPT_SET:
			o.set = optarg;
			break;
		case OPT_STATE:
			o.state = optarg;
			break;
		case OPT_BASE:
			o.base = optarg;
			break;
		case OPT_DELAY:
			o.delay = prog_real(optarg, 0, 3600, "delay");
			break;
		case OPT_RETRIES:
			o.retries = prog_num(optarg, 0, 100, "retries");
			break;
		case OPT_TIMEOUT:
			o.timeout = prog_num(optarg, 1, 86400, "timeout");
			break;
		case OPT_DELETED:
			o.deleted = 1;
			break;
		case 'k':
			o.keep = 1;
			break;
		case OPT_VERBOSE:
			o.verbose = 1;
			break;
		}
	}
	if (optind != argc) {
		warnx("%s: no operands expected", argv[optind]);
		prog_usage(&P, stderr);
		return 2;
	}
	if ((o.from && parse_date(o.from, &tf) < 0) || (o.until && parse_date(o.until, &tu) < 0)) {
		warnx("%s: invalid date (expected YYYY-MM-DD)", o.from && parse_date(o.from, NULL) < 0 ?
		    o.from : o.until);
		prog_usage(&P, stderr);
		return 2;
	}
	if (o.from && o.until && tf > tu) {
		warnx("--from %s is after --until %s", o.from, o.until);
		return 2;
	}
	if (strncmp(o.base, "http://", 7) != 0 && strncmp(o.base, "https://", 8) != 0) {
		warnx("%s: the base URL must be http:// or https://", o.base);
		return 2;
	}

	from = o.from;
	until = o.until;
	if (o.state) {
		if ((rc = state_load(o.state, &st)) < 0)
			return 1;
		have_state = rc;
		if (have_state && strcmp(st.base, o.base) != 0) {
			warnx("%s: written for base URL %s, not %s: use another --state file", o.state,
			    st.base, o.base);
			return 1;
		}
		if (have_state && strcmp(st.set, o.set ? o.set : "-") != 0) {
			warnx("%s: written for set %s, not %s: use another --state file", o.state,
			    st.set, o.set ? o.set : "- (all)");
			return 1;
		}
		if (have_state && from == NULL) {
			from = st.from;
			parse_date(from, &tf);
		}
		if (until == NULL) {
			/* up to yesterday (UTC): days whose records are complete */
			time_t now = time(NULL);

			tu = now - now % 86400 - 86400;
			fmt_date(tu, until_buf, sizeof(until_buf));
			until = until_buf;
		}
		if (from && tf > tu) {
			if (o.verbose)
				warnx("nothing to harvest: %s is after %s (up to date)", from, until);
			return prog_fshut();
		}
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	LIBXML_TEST_VERSION;
	rc = harvest(&o, from, until, &t);
	if (rc == -2 || fflush(stdout) == EOF || ferror(stdout))
		status = 1;	/* reported by prog_fshut */
	else if (rc < 0)
		status = 1;
	if (status == 0 && fsync(fileno(stdout)) < 0 && errno != EINVAL && errno != EROFS &&
	    errno != EBADF) {
		warn("fsync");
		status = 1;
	}
	if (o.verbose || t.skipped || t.malformed)
		warnx("%ld records in %ld pages, %ld deleted, %ld skipped, %ld malformed", t.n, t.pages,
		    t.deleted, t.skipped, t.malformed);
	if (t.skipped + t.malformed)
		warnx("skipped %ld records", t.skipped + t.malformed);
	if (status == 0 && o.state) {
		/* the next run starts the day after the harvested window */
		fmt_date(tu + 86400, next, sizeof(next));
		snprintf(st.from, sizeof(st.from), "%s", next);
		snprintf(st.base, sizeof(st.base), "%s", o.base);
		snprintf(st.set, sizeof(st.set), "%s", o.set ? o.set : "-");
		if (state_save(o.state, &st) < 0)
			status = 1;
		else if (o.verbose)
			warnx("%s: next harvest from %s", o.state, st.from);
	}
	xmlCleanupParser();
	curl_global_cleanup();
	if (prog_fshut() != 0)
		status = 1;
	return status;
}
