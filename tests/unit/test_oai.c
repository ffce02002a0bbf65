/*
 * test_oai.c - arxiv-harvest's OAI-PMH page parser (bin/harvest/oai.c) on the
 * fixtures of tests/fixtures/oai/, read in small pieces as if arriving: the
 * Kaggle schema line, deleted records, resumption token, OAI-PMH errors,
 * another metadata format, malformed XML with and without -k (the bad records
 * skipped, the others and the token kept), a failed input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bin/harvest/oai.h"
#include "tap.h"

#define FIX "tests/fixtures/oai/"

struct src {
	FILE *fp;
	int chunk;		/* bytes a read, to cut records across reads */
	int fail_at;		/* fail the read after this many bytes (-1 never) */
	long off;
	int failed;
};

static int
src_read(void *ctx, char *buf, int n)
{
	struct src *s = ctx;
	size_t k;

	if (n > s->chunk)
		n = s->chunk;
	if (s->fail_at >= 0 && s->off >= s->fail_at) {
		s->failed = 1;
		return -1;
	}
	k = fread(buf, 1, (size_t)n, s->fp);
	s->off += (long)k;
	return (int)k;
}

static int
src_failed(void *ctx, int rc)
{
	struct src *s = ctx;

	(void)rc;
	return s->failed;
}

/* Parse FIX/name into p (cleared first); returns oai_parse_page's result. */
static int
parse(const char *name, struct page *p, int keep, int emit_deleted, int fail_at, int chunk)
{
	char path[256];
	struct src s = { NULL, chunk, fail_at, 0, 0 };
	int rc;

	snprintf(path, sizeof(path), FIX "%s", name);
	if ((s.fp = fopen(path, "rb")) == NULL) {
		perror(path);
		exit(1);
	}
	oai_page_free(p);
	memset(p, 0, sizeof(*p));
	p->url = name;
	p->pageno = 1;
	p->keep = keep;
	p->emit_deleted = emit_deleted;
	rc = oai_parse_page(p, src_read, src_failed, &s);
	fclose(s.fp);
	return rc;
}

/* the ids of the page's lines, each followed by a space, into b */
static int
ids(const struct page *p, struct arxiv_buf *b)
{
	const char *s = p->out.data, *e;

	arxiv_buf_clear(b);
	arxiv_buf_append(b, "", 0);
	while (s && (s = strstr(s, "{\"id\":\"")) != NULL) {
		s += 7;
		if ((e = strchr(s, '"')) == NULL)
			return 0;
		arxiv_buf_append(b, s, (size_t)(e - s));
		arxiv_buf_putc(b, ' ');
		s = e;
	}
	return 1;
}

static size_t
lines(const struct page *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->out.len; i++)
		n += p->out.data[i] == '\n';
	return n;
}

int
main(void)
{
	struct page p, q;
	const char *first = "{\"id\":\"2612.00001\",\"submitter\":null,\"authors\":\"C. Balázs, "
	    "E. L. Berger, C. -P. Yuan Jr\",\"title\":\"Graph neural networks for\\n  scalable "
	    "\\\"semi-supervised\\\" learning\",\"comments\":\"12 pages, 3 figures\","
	    "\"journal-ref\":\"J. Mach. Learn. 1 (2026) 1-12\",\"doi\":\"10.1000/xyz.1\","
	    "\"report-no\":null,\"categories\":\"cs.LG stat.ML\",\"license\":"
	    "\"http://creativecommons.org/licenses/by/4.0/\",\"abstract\":\"  We propose a "
	    "scalable approach to semi-supervised learning on\\ngraph-structured data with "
	    "$O(n \\\\log n)$ cost & a <tiny> memory footprint.\\n\",\"update_date\":\"2026-12-01\","
	    "\"authors_parsed\":[[\"Balázs\",\"C.\",\"\"],[\"Berger\",\"E. L.\",\"\"],"
	    "[\"Yuan\",\"C. -P.\",\"Jr\"]],\"datestamp\":\"2026-12-02\"}\n";
	const char *nl;
	struct arxiv_buf b = { 0 };

	memset(&p, 0, sizeof(p));

	CHECK(parse("pages/page1.xml", &p, 0, 0, -1, 7) == 0, "a page parses");
	CHECK(p.n == 2 && p.deleted == 1 && p.skipped == 0 && p.malformed == 0,
	    "2 records, 1 deleted (got %ld, %ld deleted)", p.n, p.deleted);
	CHECK(lines(&p) == 2, "one line a record");
	nl = p.out.data ? strchr(p.out.data, '\n') : NULL;
	CHECK(nl && strncmp(p.out.data, first, (size_t)(nl - p.out.data + 1)) == 0,
	    "the first record in the Kaggle schema: entities decoded, authors joined and parsed");
	CHECK(strstr(p.out.data, "\"id\":\"cs/9901001\"") &&
	    strstr(p.out.data, "\"update_date\":\"2026-12-03\""), "update_date is <updated> when given");
	CHECK(p.have_token && p.token.data && strcmp(p.token.data, "tok2") == 0, "resumption token");
	CHECK_STR(p.response_date, "2026-12-06T03:15:02Z", "responseDate");
	CHECK_STR(p.max_datestamp, "2026-12-03", "the newest datestamp");
	CHECK(p.err_code[0] == '\0', "no OAI-PMH error");

	CHECK(parse("pages/page1.xml", &p, 0, 1, -1, 7) == 0 && lines(&p) == 3 &&
	    strstr(p.out.data, "{\"id\":\"2612.00002\",\"deleted\":true,\"datestamp\":\"2026-12-02\"}\n"),
	    "--deleted: a marker line for the deleted record");

	CHECK(parse("pages/tok2.xml", &p, 0, 0, -1, 7) == 0 && p.skipped == 1,
	    "a record without an abstract is skipped and counted");
	CHECK(parse("pages/tok3.xml", &p, 0, 0, -1, 7) == 0 && p.have_token && p.token.len == 0,
	    "the last page has an empty resumption token");

	CHECK(parse("empty/page1.xml", &p, 0, 0, -1, 7) == 0 && strcmp(p.err_code, "noRecordsMatch") == 0
	    && p.n == 0, "OAI-PMH error code noRecordsMatch");
	CHECK(parse("badformat/page1.xml", &p, 0, 0, -1, 7) == 0 &&
	    strcmp(p.err_code, "cannotDisseminateFormat") == 0 && p.err_text.data &&
	    strcmp(p.err_text.data, "Format 'arXiv' is not supported by this repository") == 0,
	    "cannotDisseminateFormat with its text");
	CHECK(parse("otherformat/page1.xml", &p, 0, 0, -1, 7) == -1 &&
	    strstr(p.fatal, "unknown metadata format <dc xmlns=\"http://www.openarchives.org/OAI/2.0/oai_dc/\">"),
	    "another metadata format is fatal: %s", p.fatal);

	CHECK(parse("malformed/page1.xml", &p, 0, 0, -1, 7) == -1 && p.xml_error && p.xml_line == 12 &&
	    p.recno == 2, "malformed XML is fatal without -k, at record 2 line 12 (got line %d, record %ld)",
	    p.xml_line, p.recno);
	/*
	 * -k: a page with an XML error is parsed again record by record: only
	 * the records that are not well-formed are skipped, those before and
	 * after them are written, the resumption token is followed. The answer
	 * must not depend on how the bytes arrive (7-byte reads as from a slow
	 * network, or one piece).
	 */
	CHECK(parse("malformed/page1.xml", &p, 1, 0, -1, 65536) == 0 && p.n == 2 && p.malformed == 1 &&
	    lines(&p) == 2 && strstr(p.out.data, "\"id\":\"2612.00008\"") &&
	    strstr(p.out.data, "\"id\":\"2612.00010\"") && !strstr(p.out.data, "2612.00009"),
	    "-k: the records before and after a bad one are written, it is skipped and counted "
	    "(got %ld written, %ld malformed)", p.n, p.malformed);
	CHECK(parse("badrecords/page1.xml", &p, 1, 0, -1, 65536) == 0, "-k: a page with two bad records");
	CHECK(p.n == 3 && p.malformed == 2 && p.skipped == 0 && lines(&p) == 3,
	    "-k: 3 written, 2 malformed (got %ld, %ld)", p.n, p.malformed);
	CHECK(ids(&p, &b) && strcmp(b.data, "2612.00011 2612.00013 2612.00015 ") == 0,
	    "-k: the good records in order, around a bad one and after one cut off: %s", b.data);
	CHECK(strstr(p.out.data, "\"abstract\":\"The text </record><record> and x<y is not markup.\"") != NULL,
	    "-k: a CDATA section's </record><record> is text, not a record boundary");
	CHECK(p.have_token && p.token.data && strcmp(p.token.data, "tok2") == 0,
	    "-k: the page's resumption token is followed");
	CHECK_STR(p.response_date, "2026-12-06T03:15:02Z", "-k: responseDate");
	CHECK_STR(p.max_datestamp, "2026-12-05", "-k: the newest datestamp of the written records");
	memcpy(&q, &p, sizeof(p));
	memset(&p, 0, sizeof(p));
	CHECK(parse("badrecords/page1.xml", &p, 1, 0, -1, 7) == 0 && p.n == q.n &&
	    p.malformed == q.malformed && p.out.len == q.out.len &&
	    memcmp(p.out.data, q.out.data, q.out.len) == 0 && strcmp(p.token.data, "tok2") == 0,
	    "-k in 7-byte reads: the same lines, counts and token");
	oai_page_free(&q);
	CHECK(parse("badrecords/tok2.xml", &p, 1, 0, -1, 7) == 0 && p.n == 1 && p.malformed == 2 &&
	    ids(&p, &b) && strcmp(b.data, "2612.00017 ") == 0 && p.have_token && p.token.len == 0,
	    "-k: a bad first and a bad last record are skipped, the one between written, the last "
	    "page's empty token kept (got %ld, %ld: %s)", p.n, p.malformed, b.data);
	CHECK(parse("badrecords/tok2.xml", &p, 0, 0, -1, 7) == -1 && p.xml_line == 6 && p.n == 0,
	    "without -k: the first bad record stops the page (line %d)", p.xml_line);
	CHECK(parse("badtail/page1.xml", &p, 1, 0, -1, 7) == 0 && p.n == 2 && p.malformed == 2 &&
	    ids(&p, &b) && strcmp(b.data, "2612.00021 2612.00022 ") == 0 && p.token.data &&
	    strcmp(p.token.data, "tok9") == 0,
	    "-k: stray markup between two good records is skipped alone, a last record cut off "
	    "before the token too; the token is kept; each record is parsed with the page's "
	    "DOCTYPE (2612.00021 uses its entity) (got %ld, %ld: %s)", p.n, p.malformed, b.data);
	CHECK(parse("badenvelope/page1.xml", &p, 1, 0, -1, 7) == -1 && p.xml_error && p.xml_line == 7,
	    "-k: malformed XML outside the records (the token) is an error (line %d)", p.xml_line);
	CHECK(parse("cut/page1.xml", &p, 1, 0, -1, 7) == -1 && p.xml_error,
	    "-k: a page cut short (no end of <OAI-PMH>) is an error, not a last page");
	CHECK(parse("cut/page1.xml", &p, 0, 0, -1, 7) == -1, "a page cut short is an error");
	CHECK(parse("pages/page1.xml", &p, 1, 0, 300, 7) == 1, "-k: a failed input is a retry (1)");

	CHECK(parse("pages/page1.xml", &p, 0, 0, 300, 7) == 1, "a failed input is a retry (1), not an error");

	arxiv_buf_clear(&b);
	arxiv_buf_printf(&b, "  cs.LG \n\t stat.ML  ");
	squeeze(&b);
	CHECK_STR(b.data, "cs.LG stat.ML", "squeeze collapses white space runs");
	arxiv_buf_free(&b);

	oai_page_free(&p);
	return tap_done();
}
