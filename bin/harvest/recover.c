/*
 * recover.c - arxiv-harvest -k on a page that is not well-formed XML (see
 * oai.h, oai_recover_page): a scanner finds the page's records by their
 * tags, then the envelope (the page without them: responseDate, the error,
 * the resumption token) and each record inside the envelope are parsed again
 * by oai.c's reader, so a bad record costs only itself.
 *
 * The scanner reads the page as a malformed page can look: a stray '<' in
 * text ("x<y", "a < b") is text; a tag ends at '>' outside a quoted
 * attribute value, or where a '<' shows it was cut (a '<' is never part of a
 * tag or an attribute value), so a quote cannot swallow the following
 * records; comments, CDATA sections, processing instructions and a DOCTYPE
 * are skipped whole (a "<record>" inside them is not a tag), unless they are
 * never closed (then their "<" is text). Inside <ListRecords>:
 *   - every <record> start tag (any prefix) starts a record: the previous one
 *     ends there, closed or not (arXiv's metadata has no element "record");
 *   - </record> ends the current record;
 *   - <resumptionToken>, </ListRecords> or </OAI-PMH> end the list (and an
 *     unclosed record);
 *   - anything else outside a record but white space, comments and
 *     processing instructions (stray markup or text) is a piece of its own
 *     (not added to a record, which may be good): it is parsed like a
 *     record, and skipped and counted as malformed when it is not
 *     well-formed (a record whose start tag is broken looks like this).
 * The head of the page (up to the end of <ListRecords>) and its tail (from
 * the end of the list) make the envelope; newlines are put between them and
 * a record so that libxml2's line numbers are the page's.
 */
#include <ctype.h>

#include "oai.h"

enum { T_TEXT, T_START, T_END, T_MISC };

struct tok {
	int kind, empty, blank;
	const char *name;	/* T_START, T_END: the qualified name */
	size_t nlen;
};

struct item {
	size_t start, end;	/* bytes of the page */
	int rec;		/* a record, or stray text or markup between records */
};

struct scan {
	/* no "-->", "]]>", "?>", DOCTYPE end after some point: looked for once
	 * (a page full of unclosed "<!--" stays linear) */
	int no_end[4];
	int have_list;
	size_t list_start, list_end;	/* after <ListRecords ...>, at the list's end */
	struct item *items;
	size_t n, cap;
};

static const char *
find(const char *s, size_t len, size_t from, const char *what)
{
	size_t k = strlen(what);

	for (; from + k <= len; from++)
		if (s[from] == what[0] && memcmp(s + from, what, k) == 0)
			return s + from;
	return NULL;
}

static int
starts(const char *s, size_t len, size_t i, const char *what)
{
	size_t k = strlen(what);

	return len - i >= k && memcmp(s + i, what, k) == 0;
}

static int
name_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c == ':' || c >= 0x80;
}

/* is the token's local name (after a prefix) name? */
static int
is(const struct tok *t, const char *name)
{
	const char *l = t->name, *c;
	size_t n = t->nlen, k = strlen(name);

	if ((c = memchr(l, ':', n)) != NULL) {
		n -= (size_t)(c + 1 - l);
		l = c + 1;
	}
	return n == k && memcmp(l, name, k) == 0;
}

/* A DOCTYPE's end (its internal subset in [...]), or 0 when it has none. */
static size_t
doctype_end(const char *s, size_t len, size_t i)
{
	int sub = 0;
	char q = 0;

	for (i += 9; i < len; i++) {
		if (q) {
			if (s[i] == q)
				q = 0;
		} else if (s[i] == '"' || s[i] == '\'')
			q = s[i];
		else if (s[i] == '[')
			sub = 1;
		else if (s[i] == ']')
			sub = 0;
		else if (s[i] == '>' && !sub)
			return i + 1;
	}
	return 0;
}

/* the end of what starts at s[i] with open (close its end), or 0 */
static size_t
skip_to(struct scan *sc, int which, const char *s, size_t len, size_t i, const char *open,
    const char *close)
{
	const char *e;
	size_t j;

	if (sc->no_end[which] || !starts(s, len, i, open))
		return 0;
	if (close == NULL)
		j = doctype_end(s, len, i);
	else
		j = (e = find(s, len, i + strlen(open), close)) ? (size_t)(e - s) + strlen(close) : 0;
	if (j == 0)
		sc->no_end[which] = 1;
	return j;
}

/* The token at s[i] (i < len) into t; returns the offset after it. */
static size_t
next_tok(struct scan *sc, const char *s, size_t len, size_t i, struct tok *t)
{
	size_t j;
	int eq = 0;

	t->empty = 0;
	t->blank = 1;
	t->name = NULL;
	t->nlen = 0;
	if (s[i] != '<') {
		t->kind = T_TEXT;
		for (j = i; j < len && s[j] != '<'; j++)
			if (!isspace((unsigned char)s[j]))
				t->blank = 0;
		return j;
	}
	t->blank = 0;
	t->kind = T_MISC;
	if ((j = skip_to(sc, 0, s, len, i, "<!--", "-->")) != 0 ||
	    (j = skip_to(sc, 1, s, len, i, "<![CDATA[", "]]>")) != 0 ||
	    (j = skip_to(sc, 2, s, len, i, "<?", "?>")) != 0 ||
	    (j = skip_to(sc, 3, s, len, i, "<!DOCTYPE", NULL)) != 0)
		return j;
	j = i + 1;
	t->kind = T_START;
	if (j < len && s[j] == '/') {
		t->kind = T_END;
		j++;
	}
	if (j >= len || !name_start((unsigned char)s[j])) {
		t->kind = T_TEXT;	/* a stray '<' */
		return i + 1;
	}
	t->name = s + j;
	while (j < len && !isspace((unsigned char)s[j]) && !strchr("/><=\"'", s[j]))
		j++;
	t->nlen = (size_t)(s + j - t->name);
	while (j < len) {
		char c = s[j];

		if (c == '<')
			return j;	/* cut short: the next token starts here */
		if (c == '>') {
			t->empty = t->kind == T_START && s[j - 1] == '/';
			return j + 1;
		}
		if ((c == '"' || c == '\'') && eq) {
			size_t k = j + 1;

			while (k < len && s[k] != c && s[k] != '<')
				k++;
			if (k >= len || s[k] == '<')
				return k;	/* a value cut short */
			j = k + 1;
			eq = 0;
			continue;
		}
		if (c == '=')
			eq = 1;
		else if (!isspace((unsigned char)c))
			eq = 0;
		j++;
	}
	return j;
}

static int
add_item(struct scan *sc, size_t start)
{
	if (sc->n == sc->cap &&
	    arxiv_grow(&sc->items, &sc->cap, sc->n + 1, sizeof(*sc->items), 64) < 0)
		return -1;
	sc->items[sc->n].start = sc->items[sc->n].end = start;
	sc->items[sc->n].rec = 1;
	sc->n++;
	return 0;
}

/* Find the list and its records (see the top of the file). 0, -1 out of memory. */
static int
scan_page(const char *s, size_t len, struct scan *sc)
{
	size_t i = 0, at;
	struct tok t;
	int in_rec = 0, junk = 0;	/* junk: the last item is stray markup, still open */

	while (i < len) {
		at = i;
		i = next_tok(sc, s, len, i, &t);
		if (!sc->have_list) {
			if (t.kind == T_START && !t.empty && is(&t, "ListRecords")) {
				sc->have_list = 1;
				sc->list_start = i;
			}
			continue;
		}
		if (t.kind == T_START && is(&t, "record")) {
			if (in_rec)
				sc->items[sc->n - 1].end = at;
			if (add_item(sc, at) < 0)
				return -1;
			sc->items[sc->n - 1].end = i;
			in_rec = !t.empty;
			junk = 0;
			continue;
		}
		if ((t.kind == T_START && is(&t, "resumptionToken")) ||
		    (t.kind == T_END && (is(&t, "ListRecords") || is(&t, "OAI-PMH")))) {
			if (in_rec)
				sc->items[sc->n - 1].end = at;
			sc->list_end = at;
			return 0;
		}
		if (in_rec) {
			if (t.kind == T_END && is(&t, "record")) {
				in_rec = 0;
				sc->items[sc->n - 1].end = i;
			}
			continue;
		}
		if ((t.kind == T_TEXT && t.blank) || t.kind == T_MISC)
			continue;	/* white space, a comment, a processing instruction */
		/* stray text or markup between records: an item of its own */
		if (!junk) {
			if (add_item(sc, at) < 0)
				return -1;
			sc->items[sc->n - 1].rec = 0;
			junk = 1;
		}
		sc->items[sc->n - 1].end = i;
	}
	if (in_rec)
		sc->items[sc->n - 1].end = len;
	sc->list_end = len;
	return 0;
}

static size_t
count_nl(const char *s, size_t from, size_t to)
{
	size_t n = 0;
	const char *p = s + from, *end = s + to;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* doc = head, newlines up to line (0-based newlines before) of the body, body, tail */
static int
build(struct arxiv_buf *doc, const char *s, const struct scan *sc, size_t nl_head, size_t nl_body,
    size_t from, size_t to)
{
	arxiv_buf_clear(doc);
	if (nl_body < nl_head || arxiv_buf_reserve(doc, sc->list_start + (nl_body - nl_head) +
	    (to - from)) < 0)
		return -1;
	if (arxiv_buf_append(doc, s, sc->list_start) < 0)
		return -1;
	if (nl_body > nl_head) {
		if (arxiv_buf_reserve(doc, nl_body - nl_head) < 0)
			return -1;
		memset(doc->data + doc->len, '\n', nl_body - nl_head);
		doc->len += nl_body - nl_head;
		doc->data[doc->len] = '\0';
	}
	return arxiv_buf_append(doc, s + from, to - from);
}

/* The record's identifier from its text, when the reader did not get to it. */
static void
raw_identifier(const char *s, size_t from, size_t to, char *out, size_t n)
{
	const char *p = s + from, *e;

	out[0] = '\0';
	while ((p = find(s, to, (size_t)(p - s), "identifier>")) != NULL) {
		if (p > s + from && (p[-1] == '<' || p[-1] == ':')) {
			p += 11;
			for (e = p; e < s + to && *e != '<' && *e != '&' && e - p < 200; e++)
				;
			if (e < s + to && *e == '<' && e > p) {
				while (p < e && isspace((unsigned char)*p))
					p++;
				while (e > p && isspace((unsigned char)e[-1]))
					e--;
				if (e - p > 14 && memcmp(p, "oai:arXiv.org:", 14) == 0)
					p += 14;
				snprintf(out, n, "%.*s", (int)(e - p), p);
			}
			return;
		}
		p++;
	}
}

/* the line of the page's last character that is not white space */
static size_t
last_line(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return count_nl(s, 0, n) + 1;
}

/*
 * Does the page end with the end tag of its root, </OAI-PMH> (or
 * </prefix:OAI-PMH>)? If not, it was cut short (a connection closed early).
 */
static int
page_whole(const char *s, size_t n)
{
	size_t i;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n < 10 || s[n - 1] != '>')
		return 0;
	n--;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n < 9 || memcmp(s + n - 7, "OAI-PMH", 7) != 0)
		return 0;
	n -= 7;
	if (s[n - 1] == ':') {	/* a prefix */
		for (i = n - 1; i > 0 && s[i - 1] != '<' && s[i - 1] != '/'; i--)
			;
		n = i;
	}
	return n >= 2 && s[n - 2] == '<' && s[n - 1] == '/';
}

int
oai_recover_page(struct page *p, const char *s, size_t len)
{
	struct scan sc = { 0 };
	struct arxiv_buf doc = { 0 };
	size_t nl_head, nl_at, pos, k, line0, line1;
	long nrec = 0;
	int rc = -1, line;

	if (scan_page(s, len, &sc) < 0)
		goto oom;
	if (!sc.have_list)
		sc.list_start = sc.list_end = len;	/* no list: the envelope is the page */
	nl_head = count_nl(s, 0, sc.list_start);
	/* the envelope: head, tail */
	if (build(&doc, s, &sc, nl_head, nl_head + count_nl(s, sc.list_start, sc.list_end),
	    sc.list_end, len) < 0)
		goto oom;
	if ((rc = oai_parse_doc(p, doc.data, doc.len)) != 0) {
		if (!page_whole(s, len))
			page_warn(p, "%s: page %ld, line %zu: malformed XML: the page ends before "
			    "</OAI-PMH> (cut short): its later records and resumption token are lost, "
			    "even with -k", p->url, p->pageno, last_line(s, len));
		else if (rc < 0)
			page_warn(p, "%s", p->fatal);
		else
			page_warn(p, "%s: page %ld, line %d: malformed XML outside the records: %s: the "
			    "resumption token cannot be trusted, even with -k", p->url, p->pageno,
			    p->xml_line, p->xml_msg);
		rc = -1;
		goto done;
	}
	/* each record inside the envelope: head, (newlines), the record, tail */
	nl_at = nl_head;
	pos = sc.list_start;
	for (k = 0; k < sc.n; k++) {
		const struct item *it = &sc.items[k];
		size_t out0 = p->out.len, warn0 = p->warn.len;
		long n0 = p->n, del0 = p->deleted, skip0 = p->skipped;
		char max0[sizeof(p->max_datestamp)], id[256];

		nl_at += count_nl(s, pos, it->start);
		pos = it->start;
		if (build(&doc, s, &sc, nl_head, nl_at, it->start, it->end) < 0 ||
		    arxiv_buf_append(&doc, s + sc.list_end, len - sc.list_end) < 0)
			goto oom;
		memcpy(max0, p->max_datestamp, sizeof(max0));
		p->recno = nrec;
		rc = oai_parse_doc(p, doc.data, doc.len);
		p->recno = nrec += it->rec;
		if (rc < 0) {
			page_warn(p, "%s", p->fatal);
			goto done;
		}
		if (rc == 0)
			continue;
		/* not well-formed: undo what it wrote, say where it is */
		p->out.len = out0;
		if (p->out.data)
			p->out.data[out0] = '\0';
		p->warn.len = warn0;
		if (p->warn.data)
			p->warn.data[warn0] = '\0';
		p->n = n0, p->deleted = del0, p->skipped = skip0;
		memcpy(p->max_datestamp, max0, sizeof(max0));
		if (p->r.id.len)
			snprintf(id, sizeof(id), "%s", p->r.id.data);
		else
			raw_identifier(s, it->start, it->end, id, sizeof(id));
		line0 = nl_at + 1;
		line1 = line0 + count_nl(s, it->start, it->end);
		line = p->xml_line;
		if (line < 0 || (size_t)line > line1)
			line = (int)line1;	/* found at the envelope's tail: the record is not closed */
		if ((size_t)line < line0)
			line = (int)line0;
		if (it->rec)
			page_warn(p, "%s: page %ld record %ld (%s) at line %zu, byte %zu: malformed XML "
			    "at line %d: %s: skipped", p->url, p->pageno, nrec, id[0] ? id : "?", line0,
			    it->start, line, p->xml_msg);
		else
			page_warn(p, "%s: page %ld, after record %ld, at line %zu, byte %zu: malformed "
			    "XML between records at line %d: %s: skipped", p->url, p->pageno, nrec,
			    line0, it->start, line, p->xml_msg);
		p->malformed++;
	}
	rc = 0;
	goto done;
oom:
	page_warn(p, "%s: page %ld: out of memory", p->url, p->pageno);
	rc = -1;
done:
	free(sc.items);
	arxiv_buf_free(&doc);
	return rc;
}
