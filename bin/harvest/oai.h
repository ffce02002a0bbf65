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
	int keep;			/* -k: recover from malformed XML, skip its records */
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
};

int oai_parse_page(struct page *p, int (*read)(void *ctx, char *buf, int n),
    int (*input_failed)(void *ctx, int rc), void *ctx);
/* Free a record's buffers (a page's p->r, at the end). */
void rec_free(struct rec *r);
/* Collapse the white space runs of a one-line field (categories, dates). */
void squeeze(struct arxiv_buf *b);

#endif
