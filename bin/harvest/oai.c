/*
 * oai.c - arxiv-harvest's OAI-PMH page parser: see oai.h. A record becomes one
 * line in the Kaggle dump's schema (authors joined and parsed, dates and
 * categories squeezed) or is counted as deleted, skipped (a field missing) or
 * malformed (with -k: a page with an XML error is parsed again record by
 * record by recover.c, and only the records that are not well-formed are
 * skipped). Messages are kept in p->warn and printed when the page is done.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>

#include <libxml/xmlreader.h>

#include "oai.h"

/* xmlInputCloseCallback: the caller owns the input */
static int
reader_close(void *ctx)
{
	(void)ctx;
	return 0;
}

/* A message about the page, printed (warnx) when the page is done. */
void
page_warn(struct page *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	arxiv_buf_printf(&p->warn, "%s\n", msg);
}

/* Print the page's messages and forget them. */
static void
warn_flush(struct page *p)
{
	const char *s = p->warn.data, *nl;

	while (s && *s && (nl = strchr(s, '\n')) != NULL) {
		warnx("%.*s", (int)(nl - s), s);
		s = nl + 1;
	}
	arxiv_buf_free(&p->warn);
}

#define REC_NBUF 18

/* A record's buffers, every one. */
static void
rec_bufs(struct rec *r, struct arxiv_buf *b[REC_NBUF])
{
	struct arxiv_buf *all[REC_NBUF] = { &r->identifier, &r->datestamp, &r->id, &r->created,
		&r->updated, &r->title, &r->categories, &r->comments, &r->journal, &r->doi, &r->report,
		&r->license, &r->abstract, &r->authors, &r->parsed, &r->keyname, &r->forenames,
		&r->suffix };

	memcpy(b, all, sizeof(all));
}

static void
rec_clear(struct rec *r)
{
	struct arxiv_buf *b[REC_NBUF];
	size_t i;

	rec_bufs(r, b);
	for (i = 0; i < REC_NBUF; i++)
		arxiv_buf_clear(b[i]);
	r->deleted = r->in_meta = r->bad = r->format_ok = 0;
	r->nauthors = 0;
}

void
oai_page_free(struct page *p)
{
	struct arxiv_buf *b[REC_NBUF];
	size_t i;

	rec_bufs(&p->r, b);
	for (i = 0; i < REC_NBUF; i++)
		arxiv_buf_free(b[i]);
	arxiv_buf_free(&p->out);
	arxiv_buf_free(&p->token);
	arxiv_buf_free(&p->err_text);
	arxiv_buf_free(&p->warn);
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
void
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
	if (p->xml_error)
		return;	/* the document failed: its records are not written (-k: recover.c) */
	if (p->other_format[0]) {
		memcpy(p->fatal, p->other_format, sizeof(p->fatal));
		return;
	}
	if (r->deleted) {
		p->deleted++;
		if (p->emit_deleted) {
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
		page_warn(p, "%s: page %ld record %ld (%s): %s: skipped", p->url, p->pageno, p->recno, id,
		    why);
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

/* A document in memory (recover.c's pieces of a page), handed to the reader as it asks. */
struct mem {
	const char *data;
	size_t len, off;
};

static int
mem_read(void *ctx, char *buf, int n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->off;

	if (n <= 0)
		return 0;
	if (k > (size_t)n)
		k = (size_t)n;
	memcpy(buf, m->data + m->off, k);
	m->off += k;
	return (int)k;
}

/*
 * -k: the bytes handed to the reader are kept (copy), so that a page with an
 * XML error can be parsed again record by record (recover.c).
 */
struct tee {
	int (*read)(void *ctx, char *buf, int n);
	void *ctx;
	struct arxiv_buf *copy;	/* NULL: not kept (without -k) */
	int oom;
};

static int
tee_read(void *ctx, char *buf, int n)
{
	struct tee *t = ctx;
	int k = t->read(t->ctx, buf, n);

	if (k > 0 && t->copy && arxiv_buf_append(t->copy, buf, (size_t)k) < 0) {
		t->oom = 1;
		return -1;
	}
	return k;
}

#define READER_OPTS (XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT | XML_PARSE_HUGE)

/* Read one document through rd into p; returns the reader's last result
 * (0 end, -1 error); stops early when p->fatal is set. */
static int
read_doc(struct page *p, xmlTextReaderPtr rd)
{
	int rc, meta_depth = -1;

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
				if (p->fatal[0])
					break;
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
			p->other_format[0] = '\0';
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
				/* fatal at the record's end, if it is well-formed (else it
				 * is a malformed record, whatever libxml2 had read ahead) */
				snprintf(p->other_format, sizeof(p->other_format), "%s: page %ld record "
				    "%ld: unknown metadata format <%s xmlns=\"%s\">: arxiv-harvest reads "
				    "only metadataPrefix=arXiv (" NS_ARXIV ")", p->url, p->pageno,
				    p->recno, name, ns ? ns : "");
				continue;
			}
			p->r.format_ok = 1;
		} else if (p->in_record && p->r.in_meta && p->r.format_ok) {
			struct arxiv_buf *b = field_buf(&p->r, name);

			if (b != NULL && !empty)
				take_text(rd, b);
		}
	}
	return rc;
}

/*
 * Parse doc[0..len), a document in memory (recover.c: a page's envelope, or
 * one of its records inside the envelope's head and tail), into p with a
 * fresh XML error state. 0 well-formed, 1 an XML error (p->xml_line,
 * p->xml_msg), -1 fatal (p->fatal).
 */
int
oai_parse_doc(struct page *p, const char *doc, size_t len)
{
	struct mem m = { doc, len, 0 };
	xmlTextReaderPtr rd;
	int rc;

	p->xml_error = p->xml_line = p->in_record = p->rec_xml_error = 0;
	p->xml_msg[0] = p->other_format[0] = '\0';
	rec_clear(&p->r);
	if ((rd = xmlReaderForIO(mem_read, reader_close, &m, p->url, NULL, READER_OPTS)) == NULL) {
		snprintf(p->fatal, sizeof(p->fatal), "%s: cannot start the XML reader", p->url);
		return -1;
	}
	rc = read_doc(p, rd);
	xmlFreeTextReader(rd);
	if (p->fatal[0])
		return -1;
	if (rc < 0 && !p->xml_error) {
		p->xml_error = 1;
		snprintf(p->xml_msg, sizeof(p->xml_msg), "not well-formed");
	}
	return p->xml_error ? 1 : 0;
}

/*
 * Parse one response while it arrives, pulled through read (an
 * xmlInputReadCallback over ctx). Returns 0 (page parsed; p->out, token,
 * error code set), -1 fatal (reported), 1 retry: input_failed(ctx, rc) said
 * the input, not the XML, failed (rc: the reader's last result, 0 when the
 * reader could not start).
 */
int
oai_parse_page(struct page *p, int (*read)(void *ctx, char *buf, int n),
    int (*input_failed)(void *ctx, int rc), void *ctx)
{
	xmlTextReaderPtr rd;
	struct arxiv_buf whole = { 0 };
	struct tee tee = { read, ctx, NULL, 0 };
	/* what the page had added, undone before -k parses it again */
	size_t out0 = p->out.len;
	long n0 = p->n, del0 = p->deleted, skip0 = p->skipped, bad0 = p->malformed;
	char max0[sizeof(p->max_datestamp)];
	int rc;

	memcpy(max0, p->max_datestamp, sizeof(max0));
	arxiv_buf_clear(&p->warn);
	if (p->keep)
		tee.copy = &whole;
	rd = xmlReaderForIO(tee_read, reader_close, &tee, p->url, NULL, READER_OPTS);
	if (rd == NULL) {
		if (input_failed(ctx, 0))
			return 1;
		warnx("%s: cannot start the XML reader", p->url);
		return -1;
	}
	rc = read_doc(p, rd);
	xmlFreeTextReader(rd);
	if (tee.oom) {
		page_warn(p, "%s: page %ld: out of memory", p->url, p->pageno);
		rc = -1;
		goto out;
	}
	if (p->fatal[0] && !p->keep) {
		page_warn(p, "%s", p->fatal);
		rc = -1;
		goto out;
	}
	if (input_failed(ctx, rc)) {
		arxiv_buf_clear(&p->warn);	/* the page is asked for again */
		rc = 1;
		goto out;
	}
	if (p->keep && (p->xml_error || rc < 0 || p->fatal[0])) {
		/*
		 * -k: the page is not well-formed. Its records are parsed again
		 * one by one from the whole page (the rest read first), and only
		 * those that are not well-formed are skipped (recover.c). A fatal
		 * record (another format) is decided there too, on the whole page:
		 * libxml2 may have read the record's end before an error after it.
		 */
		char chunk[65536];
		int k;

		while ((k = tee_read(&tee, chunk, (int)sizeof(chunk))) > 0)
			;
		if (tee.oom) {
			page_warn(p, "%s: page %ld: out of memory", p->url, p->pageno);
			rc = -1;
			goto out;
		}
		if (k < 0 && input_failed(ctx, k)) {
			arxiv_buf_clear(&p->warn);
			rc = 1;
			goto out;
		}
		p->out.len = out0;
		if (p->out.data)
			p->out.data[out0] = '\0';
		p->n = n0, p->deleted = del0, p->skipped = skip0, p->malformed = bad0;
		memcpy(p->max_datestamp, max0, sizeof(max0));
		p->recno = 0;
		p->fatal[0] = '\0';
		p->have_token = 0;
		p->err_code[0] = p->response_date[0] = '\0';
		arxiv_buf_clear(&p->err_text);
		arxiv_buf_clear(&p->token);
		arxiv_buf_clear(&p->warn);
		rc = oai_recover_page(p, whole.data ? whole.data : "", whole.len);
		goto out;
	}
	if (p->xml_error) {
		if (p->in_record || p->rec_xml_error)
			page_warn(p, "%s: page %ld record %ld, line %d: malformed XML: %s (-k skips the "
			    "record)", p->url, p->pageno, p->recno, p->xml_line, p->xml_msg);
		else
			page_warn(p, "%s: page %ld, line %d: malformed XML: %s", p->url, p->pageno,
			    p->xml_line, p->xml_msg);
		rc = -1;
	} else if (rc < 0) {
		page_warn(p, "%s: page %ld: malformed XML", p->url, p->pageno);
		rc = -1;
	} else
		rc = 0;
out:
	arxiv_buf_free(&whole);
	warn_flush(p);
	return rc;
}
