/*
 * fuzz_jsonscan.c - libFuzzer harness for the fast JSON scanner
 * (arxiv_json_scan) against jansson, which the filters fall back to. The first
 * input byte picks the flags, the rest is the line. Checked:
 *  - plain => jansson accepts the line (with the same duplicate rule), "text"
 *    decodes (arxiv_json_unescape) to jansson's value, the optional "id" too or
 *    is absent in both, "clean" is absent, and "compact" is right;
 *  - jansson accepts a line the scanner is meant to take (no backslash, no
 *    exponent, short numbers, each asked key named once) => plain;
 *  - arxiv_json_escape of jansson's decoded "text" equals json_dumps.
 *   make fuzz BUILD=build-x
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same(const struct arxiv_json_key *k, json_t *v)
{
	struct arxiv_buf b = { 0 };
	int ok;

	ok = json_is_string(v) && arxiv_json_unescape(k->val, k->len, &b) == 0 &&
	    b.len == json_string_length(v) &&
	    memcmp(b.data ? b.data : "", json_string_value(v), b.len) == 0;
	arxiv_buf_free(&b);
	return ok;
}

/* Count of the quoted word w ("\"text\"") in s. */
static int
count(const char *s, size_t n, const char *w)
{
	size_t wn = strlen(w), i;
	int c = 0;

	for (i = 0; i + wn <= n; i++)
		if (memcmp(s + i, w, wn) == 0)
			c++;
	return c;
}

/* Is s free of what the scanner leaves to jansson on purpose? */
static int
ordinary(const char *s, size_t n)
{
	size_t i, digits = 0, depth = 0;
	int instr = 0;

	/* a raw NUL byte: jansson's reader takes it for the end of its buffer and
	 * may accept the line; the line reader refuses NULs before either */
	if (memchr(s, '\0', n) != NULL)
		return 0;
	if (memchr(s, '\\', n) != NULL || count(s, n, "\"text\"") != 1 ||
	    count(s, n, "\"id\"") > 1 || count(s, n, "\"clean\"") > 0 || count(s, n, ":") > 30)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			instr = !instr;
		if (instr)
			continue;
		if (s[i] == 'e' || s[i] == 'E') {
			if (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
				return 0;
		}
		digits = (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' ? digits + 1 : 0;
		if (digits > 18)
			return 0;
		if (s[i] == '[' || s[i] == '{')
			if (++depth > 60)
				return 0;
		if (s[i] == ']' || s[i] == '}')
			depth--;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arxiv_json_key k[3];
	const char *s = (const char *)data + 1;
	size_t n, i;
	unsigned flags;
	json_error_t je;
	json_t *o, *t;
	int plain, compact = -1, instr;

	if (size < 1)
		return 0;
	flags = data[0] & 1 ? ARXIV_JSON_NODUP : 0;
	n = size - 1;
	memset(k, 0, sizeof(k));
	k[0].name = "text";
	k[1].name = "id";
	k[1].want = ARXIV_JSON_OPTIONAL;
	k[2].name = "clean";
	k[2].want = ARXIV_JSON_ABSENT;
	plain = arxiv_json_scan(s, n, k, 3, flags, &compact);
	o = json_loadb(s, n, flags ? JSON_REJECT_DUPLICATES : 0, &je);
	if (plain) {
		if (o == NULL || !json_is_object(o))
			abort();	/* accepted what jansson refuses */
		if (!same(&k[0], json_object_get(o, "text")))
			abort();
		if (k[1].val ? !same(&k[1], json_object_get(o, "id")) :
		    json_object_get(o, "id") != NULL)
			abort();
		if (json_object_get(o, "clean") != NULL)
			abort();
		for (i = 0, instr = 0; i < n; i++) {
			if (s[i] == '\\' && instr)
				i++;
			else if (s[i] == '"')
				instr = !instr;
			else if (!instr && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
			    s[i] == '\r') && compact)
				abort();	/* a blank outside strings, yet "compact" */
		}
	} else {
		if (k[0].val != NULL || k[1].val != NULL)
			abort();
		if (o != NULL && json_is_object(o) && json_is_string(json_object_get(o, "text")) &&
		    (json_object_get(o, "id") == NULL || json_is_string(json_object_get(o, "id"))) &&
		    json_object_get(o, "clean") == NULL && ordinary(s, n))
			abort();	/* an ordinary record refused */
	}
	if (o != NULL && json_is_string(t = json_object_get(o, "text"))) {
		struct arxiv_buf b = { 0 };
		char *d = json_dumps(t, JSON_ENCODE_ANY);

		arxiv_buf_putc(&b, '"');
		arxiv_json_escape(json_string_value(t), json_string_length(t), &b);
		arxiv_buf_putc(&b, '"');
		if (d == NULL || strcmp(d, b.data) != 0)
			abort();
		free(d);
		arxiv_buf_free(&b);
	}
	json_decref(o);
	return 0;
}
