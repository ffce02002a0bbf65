/*
 * fuzz_jsonl.c - libFuzzer harness for the JSONL record reader: bytes go
 * through the line reader (arxiv_lines) and arxiv_map_line; every mapped
 * record must be valid compact JSON with the documented keys, its label one
 * of the table's, and arxiv_split_of of its id in 0..2.
 *   make fuzz BUILD=build-x   (runs with ARXIV_DATADIR=data)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"

static struct arxiv_domains *dom;

/* Fallback when data/domains.tsv is not found: a small table of the same shape. */
static const char table[] =
    "cs\tComputer Science\nhep\tPhysics\nphysics\tPhysics\nmath\tMathematics\n"
    "q-bio\tBiology\nq-fin\tEconomics\neess\tEngineering\n*\tOther\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct arxiv_error e;
	char path[4096];
	FILE *fp;
	int fd;

	(void)argc;
	(void)argv;
	if ((dom = arxiv_domains_load(arxiv_data_path("domains.tsv", path, sizeof(path)), &e)))
		return 0;
	snprintf(path, sizeof(path), "/tmp/fuzz_jsonl.XXXXXX");
	if ((fd = mkstemp(path)) < 0 || (fp = fdopen(fd, "w")) == NULL)
		abort();
	fputs(table, fp);
	fclose(fp);
	dom = arxiv_domains_load(path, &e);
	unlink(path);
	if (dom == NULL)
		abort();
	return 0;
}

static int
is_label(const char *s)
{
	size_t i;

	for (i = 0; i < arxiv_domains_nlabels(dom); i++)
		if (strcmp(arxiv_domains_label(dom, i), s) == 0)
			return 1;
	return 0;
}

/* The invariants of a mapped record. */
static void
check(const struct arxiv_buf *out, const char *label)
{
	json_t *o, *v, *a;
	json_error_t je;
	size_t i;
	const char *id;

	if (memchr(out->data, '\n', out->len) != NULL)
		__builtin_trap();	/* one record, one line */
	if ((o = json_loadb(out->data, out->len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		__builtin_trap();
	if (json_object_size(o) != 5 || !json_is_string(v = json_object_get(o, "id")) ||
	    json_string_length(v) == 0)
		__builtin_trap();
	id = json_string_value(v);
	if (arxiv_split_of(id, strlen(id), 42, NULL) > 2 || arxiv_split_of(id, strlen(id), 42, NULL) < 0)
		__builtin_trap();
	if (!json_is_string(json_object_get(o, "text")) ||
	    !json_is_string(v = json_object_get(o, "label")) ||
	    strcmp(json_string_value(v), label) != 0 || !is_label(label))
		__builtin_trap();
	if (!json_is_array(a = json_object_get(o, "categories")) || json_array_size(a) == 0)
		__builtin_trap();
	if (!json_is_array(a = json_object_get(o, "fields")) || json_array_size(a) == 0 ||
	    strcmp(json_string_value(json_array_get(a, 0)), label) != 0)
		__builtin_trap();
	for (i = 0; i < json_array_size(a); i++)
		if (!is_label(json_string_value(json_array_get(a, i))))
			__builtin_trap();
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arxiv_map_params p = arxiv_map_default_params();
	struct arxiv_buf out = { 0 };
	struct arxiv_lines *r;
	struct arxiv_error e;
	const char *line, *label;
	size_t len;
	FILE *fp;
	int rc;

	if (size == 0 || (fp = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	p.abstract_only = size & 1;
	/* a short line limit so the too-long path is reached too */
	if ((r = arxiv_lines_new(fp, "<fuzz>", 2048)) == NULL)
		abort();
	while ((rc = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		if (rc < 0) {
			if (arxiv_lines_ioerr(r))
				break;
			continue;
		}
		if (memchr(line, '\0', len) != NULL || line[len] != '\0')
			__builtin_trap();	/* the reader hands out NUL-free, terminated lines */
		if (arxiv_map_line(dom, &p, line, len, &out, &label, &e) == 0)
			check(&out, label);
		else if (out.len != 0 || e.text[0] == '\0')
			__builtin_trap();	/* an error has a reason and no output */
	}
	arxiv_lines_free(r);
	fclose(fp);
	arxiv_buf_free(&out);
	return 0;
}
