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
#include <libxml/parser.h>

#include "harvest/oai.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

#define DEFAULT_BASE "https://oaipmh.arxiv.org/oai"
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
	{ "keep-going", NULL, "skip the records that are not well-formed XML, count them", 0 },
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

/* The input, not the XML, failed (oai_parse_page's input_failed): an HTTP
 * status or a transfer error, retried by the caller; rc the reader's result. */
static int
fetch_failed(void *ctx, int rc)
{
	struct fetch *f = ctx;

	return f->bad_status || (f->done && f->result != CURLE_OK) || (!f->done && rc < 0);
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
		rc = oai_parse_page(p, fetch_read, fetch_failed, &f);
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

	p.keep = o->keep;
	p.emit_deleted = o->deleted;
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
	oai_page_free(&p);
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
