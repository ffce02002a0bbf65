/*
 * oai.h - arxiv-harvest's OAI-PMH page parser (oai.c): one ListRecords
 * response (metadataPrefix=arXiv) into JSON lines in the Kaggle dump's schema,
 * its resumption token and its OAI-PMH error, read with libxml2's
 * xmlTextReader while the response arrives. The HTTP side, paging and the
 * state file stay in ../arxiv-harvest.c. Not installed.
 */
#ifndef ARXIV_HARVEST_OAI_H
#define ARXIV_HARVEST_OAI_H

#include "../prog.h"

#define NS_OAI "http://www.openarchives.org/OAI/2.0/"
#define NS_ARXIV "http://arxiv.org/OAI/arXiv/"

struct rec {
	int deleted, in_meta, bad, format_ok;
	struct arxiv_buf identifier, datestamp, id, created, updated, title, categories, comments,
	    journal, doi, report, license, abstract, authors, parsed;
	struct arxiv_buf keyname, forenames, suffix;
	int nauthors;
};

struct page {
	int keep;			/* -k: skip the records that are not well-formed */
	int emit_deleted;		/* --deleted: a line for each deleted record */
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
	char other_format[512];		/* the record is in another format: fatal at its end */
	struct arxiv_buf warn;		/* messages, printed when the page is done */
};

int oai_parse_page(struct page *p, int (*read)(void *ctx, char *buf, int n),
    int (*input_failed)(void *ctx, int rc), void *ctx);
/* One document in memory into p (a fresh XML error state): 0, 1 an XML error, -1 fatal. */
int oai_parse_doc(struct page *p, const char *doc, size_t len);
/* A message about the page (printf-like), printed when the page is done. */
void page_warn(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * recover.c, -k: the page s[0..len) (read whole) has an XML error. Its
 * envelope (the page without its records) is parsed for the resumption token;
 * then each record on its own, inside the envelope: the well-formed ones are
 * written, the others skipped and counted with their position. 0, or -1
 * (reported in p->warn) when the envelope is not well-formed (the token
 * cannot be trusted) or a record is fatal (another metadata format).
 */
int oai_recover_page(struct page *p, const char *s, size_t len);
/* Free the page's buffers and its record's (at the end of a harvest). */
void oai_page_free(struct page *p);
/* Collapse the white space runs of a one-line field (categories, dates). */
void squeeze(struct arxiv_buf *b);

#endif
