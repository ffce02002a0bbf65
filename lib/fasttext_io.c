/*
 * fasttext_io.c - the fast model's storage (see fasttext.c for the model):
 * float32 <-> float16 conversion, ft_save (model/model.safetensors in F32 or
 * F16 and model/config.json, refusing non-finite weights) and ft_load (the
 * config's checks, then the tensors' shapes, dtypes and finiteness).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "fasttext.h"

uint16_t
ft_f32_to_f16(float x)
{
	union { float f; uint32_t u; } v = { x };
	uint32_t u = v.u, sign = (u >> 16) & 0x8000, mant;
	int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15;

	if (((u >> 23) & 0xff) == 0xff)	/* inf / nan */
		return (uint16_t)(sign | 0x7c00 | ((u & 0x7fffff) ? 0x200 : 0));
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00);
	mant = u & 0x7fffff;
	if (exp <= 0) {
		if (exp < -10)
			return (uint16_t)sign;
		mant |= 0x800000;
		uint32_t shift = (uint32_t)(14 - exp);
		uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;	/* may carry into the exponent: still correct */
	return (uint16_t)(sign | h);
}

float
ft_f16_to_f32(uint16_t h)
{
	union { float f; uint32_t u; } v;
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;

	if (exp == 0) {
		v.f = ldexpf((float)mant, -24);
		v.u |= sign;
		return v.f;
	}
	if (exp == 31)
		v.u = sign | 0x7f800000 | (mant << 13);
	else
		v.u = sign | ((exp - 15 + 127) << 23) | (mant << 13);
	return v.f;
}

static int
write_text(const char *path, const char *s, struct arxiv_error *err)
{
	struct arxiv_buf b = { 0 };
	int rc;

	if (arxiv_buf_printf(&b, "%s\n", s) < 0) {
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	rc = arxiv_atomic_write(path, NULL, b.data, b.len, err);
	arxiv_buf_free(&b);
	return rc;
}

int
ft_save(const struct ft_model *m, const char *dir, int half, struct arxiv_error *err)
{
	struct arxiv_st_tensor t[4];
	const struct ft_config *c = &m->c;
	const char *meta[] = { "format", "arxiv-fast" };
	char path[4096], *js = NULL;
	void *bufs[4] = { NULL, NULL, NULL, NULL };
	const float *src[4];
	size_t n[4], i, k, nt = 0;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/model", dir);
	if (mkdir(path, 0777) < 0 && errno != EEXIST) {
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		return -1;
	}
	src[0] = m->in;
	n[0] = (size_t)c->buckets * ft_row_width(c);
	t[0] = (struct arxiv_st_tensor){ "input.weight", 0, 2,
	    { c->buckets, (int64_t)ft_row_width(c) }, NULL, 0 };
	nt = 1;
	if (c->dim) {
		src[nt] = m->out;
		n[nt] = (size_t)c->n_labels * (size_t)c->dim;
		t[nt] = (struct arxiv_st_tensor){ "output.weight", 0, 2, { c->n_labels, c->dim },
		    NULL, 0 };
		nt++;
	}
	src[nt] = m->bias;
	n[nt] = (size_t)c->n_labels;
	t[nt] = (struct arxiv_st_tensor){ "output.bias", 0, 1, { c->n_labels }, NULL, 0 };
	nt++;
	if (m->idf) {
		src[nt] = m->idf;
		n[nt] = c->buckets;
		t[nt] = (struct arxiv_st_tensor){ "idf.weight", 0, 1, { c->buckets }, NULL, 0 };
		nt++;
	}
	for (i = 0; i < nt; i++) {
		if (half) {
			uint16_t *h = malloc(n[i] * sizeof(*h));
			if ((bufs[i] = h) == NULL)
				goto nomem;
			for (k = 0; k < n[i]; k++)
				if (((h[k] = ft_f32_to_f16(src[i][k])) & 0x7c00) == 0x7c00) {
					arxiv_error_set(err, "", 0, "training diverged (weight %s[%zu] "
					    "= %g does not fit half precision); lower the learning rate",
					    t[i].name, k, (double)src[i][k]);
					goto out;
				}
			t[i].dtype = ARXIV_F16;
			t[i].data = h;
			t[i].nbytes = n[i] * 2;
		} else {
			for (k = 0; k < n[i]; k++)
				if (!isfinite(src[i][k])) {
					arxiv_error_set(err, "", 0, "training diverged (weight %s[%zu] "
					    "is not finite); lower the learning rate", t[i].name, k);
					goto out;
				}
			t[i].dtype = ARXIV_F32;
			t[i].data = src[i];
			t[i].nbytes = n[i] * 4;
		}
	}
	snprintf(path, sizeof(path), "%s/model/model.safetensors", dir);
	if (arxiv_st_save(path, t, nt, meta, 1, err) < 0)
		goto out;
	{
		json_t *o = json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:b,s:s,s:s,s:s,s:s,s:f}",
		    "model_type", "fast", "n_labels", c->n_labels, "dim", c->dim,
		    "word_ngrams", c->word_ngrams, "char_minn", c->char_minn,
		    "char_maxn", c->char_maxn, "buckets", (json_int_t)c->buckets,
		    "idf", m->idf != NULL, "input", c->ids ? "wordpiece" : "text",
		    "hash", "fnv1a64-mix-v1", "dtype", half ? "F16" : "F32",
		    "loss", c->loss == FT_LOSS_HINGE ? "hinge" : "softmax",
		    "temperature", (double)c->temperature);
		if (o == NULL)
			goto nomem;
		js = json_dumps(o, JSON_INDENT(2));
		json_decref(o);
		if (js == NULL)
			goto nomem;
	}
	snprintf(path, sizeof(path), "%s/model/config.json", dir);
	if (write_text(path, js, err) < 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	arxiv_error_set(err, dir, 0, "out of memory");
out:
	free(js);
	for (i = 0; i < 4; i++)
		free(bufs[i]);
	return rc;
}

static int
load_tensor(const struct arxiv_st *st, const char *name, int64_t d0, int64_t d1, int ndim,
    float *dst, const char *src, struct arxiv_error *err)
{
	struct arxiv_st_tensor t;
	size_t i, n = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);

	if (arxiv_st_find(st, name, &t) < 0) {
		arxiv_error_set(err, src, 0, "missing tensor '%s'", name);
		return -1;
	}
	if (t.ndim != ndim || t.shape[0] != d0 || (ndim == 2 && t.shape[1] != d1)) {
		arxiv_error_set(err, src, 0, "tensor '%s': shape does not match config.json", name);
		return -1;
	}
	if (t.dtype == ARXIV_F32)
		memcpy(dst, t.data, n * sizeof(float));
	else if (t.dtype == ARXIV_F16) {
		const uint16_t *h = t.data;
		for (i = 0; i < n; i++)
			dst[i] = ft_f16_to_f32(h[i]);
	} else {
		arxiv_error_set(err, src, 0, "tensor '%s': dtype must be F32 or F16", name);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!isfinite(dst[i])) {
			arxiv_error_set(err, src, 0, "tensor '%s': non-finite value (%s) at index %zu; "
			    "the model is damaged (retrain it)", name, isnan(dst[i]) ? "NaN" : "Inf", i);
			return -1;
		}
	return 0;
}

static int
cfg_int(json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *v,
    const char *src, struct arxiv_error *err)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi) {
		arxiv_error_set(err, src, 0, "'%s' missing or out of range", key);
		return -1;
	}
	*v = json_integer_value(x);
	return 0;
}

struct ft_model *
ft_load(const char *dir, struct arxiv_error *err)
{
	char path[4096];
	const char *src = path;
	struct ft_config c = {0};
	struct ft_model *m = NULL;
	struct arxiv_st *st = NULL;
	json_error_t je;
	json_t *o;
	json_int_t v[6];
	const char *input, *hash, *loss;
	json_t *temp;

	snprintf(path, sizeof(path), "%s/model/config.json", dir);
	if ((o = json_load_file(path, 0, &je)) == NULL) {
		arxiv_error_set(err, src, je.line > 0 ? je.line : 0, "%s", je.text);
		return NULL;
	}
	if (cfg_int(o, "n_labels", 2, 64, &v[0], src, err) ||
	    cfg_int(o, "dim", 0, 1024, &v[1], src, err) ||
	    cfg_int(o, "word_ngrams", 1, FT_MAX_NGRAM, &v[2], src, err) ||
	    cfg_int(o, "char_minn", 0, 16, &v[3], src, err) ||
	    cfg_int(o, "char_maxn", 0, 16, &v[4], src, err) ||
	    cfg_int(o, "buckets", 1, 1 << 30, &v[5], src, err))
		goto fail;
	input = json_string_value(json_object_get(o, "input"));
	hash = json_string_value(json_object_get(o, "hash"));
	loss = json_string_value(json_object_get(o, "loss"));
	temp = json_object_get(o, "temperature");
	if (loss == NULL || ft_loss_of(loss) < 0) {
		arxiv_error_set(err, src, 0, "'loss' must be \"hinge\" or \"softmax\"");
		goto fail;
	}
	if (!json_is_number(temp) || !(json_number_value(temp) >= 1e-3 &&
	    json_number_value(temp) <= 1e3)) {
		arxiv_error_set(err, src, 0, "'temperature' must be a number in [0.001, 1000]");
		goto fail;
	}
	c.loss = ft_loss_of(loss);
	c.temperature = (float)json_number_value(temp);
	if (input == NULL || (strcmp(input, "text") && strcmp(input, "wordpiece"))) {
		arxiv_error_set(err, src, 0, "'input' must be \"text\" or \"wordpiece\"");
		goto fail;
	}
	if (hash == NULL || strcmp(hash, "fnv1a64-mix-v1")) {
		arxiv_error_set(err, src, 0, "unsupported feature hash '%s'", hash ? hash : "");
		goto fail;
	}
	c.n_labels = (int)v[0];
	c.dim = (int)v[1];
	c.word_ngrams = (int)v[2];
	c.char_minn = (int)v[3];
	c.char_maxn = (int)v[4];
	c.buckets = (uint32_t)v[5];
	c.ids = strcmp(input, "wordpiece") == 0;
	c.idf = json_is_true(json_object_get(o, "idf"));
	if (c.idf && c.dim) {
		arxiv_error_set(err, src, 0, "\"idf\" needs dim 0");
		goto fail;
	}
	if (c.char_maxn && (c.char_minn < 1 || c.char_minn > c.char_maxn)) {
		arxiv_error_set(err, src, 0, "char_minn/char_maxn out of range");
		goto fail;
	}
	json_decref(o);
	o = NULL;
	snprintf(path, sizeof(path), "%s/model/model.safetensors", dir);
	if ((st = arxiv_st_open(path, err)) == NULL)
		goto fail;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto nomem;
	m->c = c;
	m->in = malloc((size_t)c.buckets * ft_row_width(&c) * sizeof(float));
	m->bias = malloc((size_t)c.n_labels * sizeof(float));
	if (c.dim)
		m->out = malloc((size_t)c.n_labels * (size_t)c.dim * sizeof(float));
	if (c.idf)
		m->idf = malloc((size_t)c.buckets * sizeof(float));
	if (!m->in || !m->bias || (c.dim && !m->out) || (c.idf && !m->idf))
		goto nomem;
	if (load_tensor(st, "input.weight", c.buckets, (int64_t)ft_row_width(&c), 2, m->in, src, err) ||
	    (c.dim && load_tensor(st, "output.weight", c.n_labels, c.dim, 2, m->out, src, err)) ||
	    load_tensor(st, "output.bias", c.n_labels, 0, 1, m->bias, src, err) ||
	    (c.idf && load_tensor(st, "idf.weight", c.buckets, 0, 1, m->idf, src, err)))
		goto fail;
	if (arxiv_st_count(st) != 2u + (c.dim != 0) + (c.idf != 0)) {
		arxiv_error_set(err, src, 0, "unexpected tensors (expected %d)",
		    2 + (c.dim != 0) + (c.idf != 0));
		goto fail;
	}
	arxiv_st_close(st);
	return m;
nomem:
	arxiv_error_set(err, dir, 0, "out of memory");
fail:
	json_decref(o);
	arxiv_st_close(st);
	ft_free(m);
	return NULL;
}
