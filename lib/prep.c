/*
 * prep.c - tokenizer/preprocess.json of an artifacts directory: the one reader
 * and writer for every model kind (the fast model, train.c and model.c; the
 * transformer plugin, bert.cpp).
 *
 * Written (one schema):
 *   {"input":"text"|"wordpiece","prep":<cleaning signature, "" none>,
 *    "map":{"abstract_only":false},
 *    "tok":{"seq_len":N,"lowercase":true,"vocab_hash":"<16 hex>","vocab_size":N}}
 * with "tok" only for wordpiece input, its hash and size only when known.
 * Read: that, and the transformer's older flat schema
 *   {"model_type":"bert","seq_len":N,"lowercase":b,"prep":..,"vocab_hash":..,
 *    "vocab_size":N}
 * (wordpiece input; a missing "lowercase" is true, as before).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arxiv.h"
#include "internal.h"

struct arxiv_prep
arxiv_prep_default(void)
{
	struct arxiv_prep p;

	memset(&p, 0, sizeof(p));
	snprintf(p.input, sizeof(p.input), "text");
	p.lowercase = 1;
	return p;
}

int
arxiv_prep_read(const char *path, struct arxiv_prep *p, struct arxiv_error *err)
{
	json_error_t je;
	json_t *o, *tok, *v;
	const char *s;
	int flat;

	*p = arxiv_prep_default();
	if ((o = json_load_file(path, 0, &je)) == NULL) {
		arxiv_error_set(err, path, je.line > 0 ? je.line : 0, "%s", je.text);
		return -1;
	}
	if (!json_is_object(o))
		goto bad;
	/* the flat schema of the transformer's artifacts before this module */
	flat = json_object_get(o, "input") == NULL && json_object_get(o, "seq_len") != NULL;
	tok = flat ? o : json_object_get(o, "tok");
	s = flat ? "wordpiece" : json_string_value(json_object_get(o, "input"));
	if (s == NULL || (strcmp(s, "text") != 0 && strcmp(s, "wordpiece") != 0))
		goto bad;
	snprintf(p->input, sizeof(p->input), "%s", s);
	v = json_object_get(o, "prep");
	if (v != NULL && !json_is_string(v))
		goto bad;
	if (!flat && v == NULL)
		goto bad;
	if (v && snprintf(p->prep, sizeof(p->prep), "%s", json_string_value(v)) >= (int)sizeof(p->prep))
		goto bad;
	p->abstract_only = json_is_true(json_object_get(json_object_get(o, "map"), "abstract_only"));
	if (strcmp(p->input, "wordpiece") == 0) {
		json_int_t sl = json_integer_value(json_object_get(tok, "seq_len"));

		if (!json_is_object(tok) || sl < 2 || sl > 65536) {
			arxiv_error_set(err, path, 0, "bad \"tok\" settings (seq_len)");
			json_decref(o);
			return -1;
		}
		p->seq_len = (size_t)sl;
		v = json_object_get(tok, "lowercase");
		p->lowercase = v == NULL || json_is_true(v);
		if ((s = json_string_value(json_object_get(tok, "vocab_hash"))) != NULL) {
			p->vocab_hash = strtoull(s, NULL, 16);
			p->has_vocab_hash = 1;
		}
		p->vocab_size = (size_t)json_integer_value(json_object_get(tok, "vocab_size"));
	}
	json_decref(o);
	return 0;
bad:
	arxiv_error_set(err, path, 0, "\"input\" and \"prep\" missing or malformed");
	json_decref(o);
	return -1;
}

int
arxiv_prep_write(const char *path, const struct arxiv_prep *p, struct arxiv_error *err)
{
	struct arxiv_atomic *a;
	json_t *o, *tok;
	char h[24];
	int wp = strcmp(p->input, "wordpiece") == 0;

	o = json_pack("{s:s,s:s,s:{s:b}}", "input", wp ? "wordpiece" : "text", "prep", p->prep,
	    "map", "abstract_only", p->abstract_only ? 1 : 0);
	if (o && wp) {
		tok = json_pack("{s:I,s:b}", "seq_len", (json_int_t)p->seq_len, "lowercase",
		    p->lowercase ? 1 : 0);
		if (tok && p->has_vocab_hash) {
			snprintf(h, sizeof(h), "%016llx", (unsigned long long)p->vocab_hash);
			json_object_set_new(tok, "vocab_hash", json_string(h));
		}
		if (tok && p->vocab_size)
			json_object_set_new(tok, "vocab_size", json_integer((json_int_t)p->vocab_size));
		if (tok == NULL || json_object_set_new(o, "tok", tok) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o == NULL) {
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	if ((a = arxiv_atomic_open(path, NULL, err)) == NULL) {
		json_decref(o);
		return -1;
	}
	if (json_dumpf(o, arxiv_atomic_file(a), JSON_INDENT(2)) < 0 ||
	    fputc('\n', arxiv_atomic_file(a)) == EOF) {
		arxiv_error_set(err, path, 0, "write error: %s", strerror(errno ? errno : EIO));
		arxiv_atomic_abort(a);
		json_decref(o);
		return -1;
	}
	json_decref(o);
	return arxiv_atomic_commit(a, err);
}
