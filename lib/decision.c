/*
 * decision.c - what a model decides besides its top k: the threshold of the
 * fields list, and the domain check behind abstaining. Both are fitted on the
 * validation set at training time (dec_train) and stored in the artifacts:
 *
 *   metadata/decision.json   {"fields_threshold":..,"domain":{"threshold":..,
 *                             "coef":[5 numbers],"probes":4,"bits":..},"val":{..}}
 *   model/domain.safetensors  "bloom": a bloom filter (U8, a power of two bytes)
 *                             of the cleaned words and adjacent word pairs seen
 *                             at least twice in the training texts
 *
 * Fields: a label is listed when its calibrated probability reaches the
 * threshold (the primary answer always is); the threshold is the one of
 * 0.05, 0.06, .., 0.95 with the best F1 of the listed set against the paper's
 * field set, averaged over the validation papers.
 *
 * Domain: a text's share of known words, share of known adjacent word pairs
 * (shuffling an abstract keeps its words but breaks its pairs) and length go
 * into a logistic model of P(in domain), fitted on the validation texts (and
 * short windows of them) against seeded negatives made from them: random
 * letter strings of the same lengths, and the same words shuffled. The OOD
 * threshold is 0.5, lowered where needed so that at most 0.5% of the
 * validation abstracts fall below it (in-domain text keeps its answer).
 *
 * Artifacts without decision.json (older ones): fields threshold 0.5 and no
 * domain check.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "answer.h"

#define PROBES 4
#define ONCE_BITS ((uint64_t)1 << 27)	/* 16 MiB while training */
#define TWICE_BITS ((uint64_t)1 << 25)	/* 4 MiB at most in the artifacts */
#define FALSE_ABSTAIN_BUDGET 0.005

static inline uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t
word_hash(const char *s, size_t n)
{
	return mix64(arxiv_hash64(s, n, 0x776f7264ULL));
}

static inline uint64_t
pair_hash(uint64_t a, uint64_t b)
{
	return mix64(a * 0x9e3779b97f4a7c15ULL + (b ^ 0x70616972ULL));
}

static inline int
bloom_has(const uint8_t *bits, uint64_t nbits, uint64_t h)
{
	uint64_t step = mix64(h ^ 0x5bd1e995ULL) | 1, i;
	int k;

	for (k = 0; k < PROBES; k++) {
		i = (h + (uint64_t)k * step) & (nbits - 1);
		if (!(bits[i >> 3] >> (i & 7) & 1))
			return 0;
	}
	return 1;
}

/* Set h; 1 when it was not there before. */
static inline int
bloom_set(uint8_t *bits, uint64_t nbits, uint64_t h)
{
	uint64_t step = mix64(h ^ 0x5bd1e995ULL) | 1, i;
	int k, added = 0;

	for (k = 0; k < PROBES; k++) {
		i = (h + (uint64_t)k * step) & (nbits - 1);
		if (!(bits[i >> 3] >> (i & 7) & 1)) {
			bits[i >> 3] |= (uint8_t)(1u << (i & 7));
			added = 1;
		}
	}
	return added;
}

static inline int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void
dec_count(const struct dec *d, const char *s, size_t n, struct dec_counts *c)
{
	size_t i = 0, st;
	uint64_t h, prev = 0;

	memset(c, 0, sizeof(*c));
	while (i < n) {
		while (i < n && blank(s[i]))
			i++;
		if (i >= n)
			break;
		st = i;
		while (i < n && !blank(s[i]))
			i++;
		h = word_hash(s + st, i - st);
		c->words++;
		if (d && d->have_domain)
			c->known_words += (size_t)bloom_has(d->bloom, d->bloom_bits, h);
		if (c->words > 1) {
			c->pairs++;
			if (d && d->have_domain)
				c->known_pairs += (size_t)bloom_has(d->bloom, d->bloom_bits,
				    pair_hash(prev, h));
		}
		prev = h;
	}
}

static void
features(const struct dec_counts *c, double x[DEC_NFEAT])
{
	double ws = c->words ? (double)c->known_words / (double)c->words : 0;
	double ps = c->pairs ? (double)c->known_pairs / (double)c->pairs : ws;
	double len = log1p((double)c->words) / 6;

	if (len > 1)
		len = 1;
	x[0] = 1;
	x[1] = ws;
	x[2] = ps;
	x[3] = len;
	x[4] = ps * len;
}

static double
logistic(const double coef[DEC_NFEAT], const double x[DEC_NFEAT])
{
	double z = 0;
	int j;

	for (j = 0; j < DEC_NFEAT; j++)
		z += coef[j] * x[j];
	if (z > 40)
		z = 40;
	if (z < -40)
		z = -40;
	return 1 / (1 + exp(-z));
}

double
dec_in_domain(const struct dec *d, const struct dec_counts *c)
{
	double x[DEC_NFEAT];

	if (d == NULL || !d->have_domain)
		return -1;
	if (c->words == 0)
		return 0;
	features(c, x);
	return logistic(d->coef, x);
}

/* ------------------------------------------------------------ storage */

void
dec_free(struct dec *d)
{
	if (d == NULL)
		return;
	arxiv_st_close(d->st);
	free(d);
}

static int
num_in(json_t *v, double lo, double hi, double *out)
{
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return *out >= lo && *out <= hi ? 0 : -1;
}

struct dec *
dec_load(const char *dir, struct arxiv_error *err)
{
	char path[4200];
	struct dec *d;
	json_error_t je;
	json_t *o = NULL, *dom, *coef;
	struct arxiv_st_tensor t;
	size_t j;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		arxiv_error_set(err, dir, 0, "out of memory");
		return NULL;
	}
	d->fields_threshold = DEC_DEFAULT_FIELDS_THRESHOLD;
	d->ood_threshold = -1;
	snprintf(path, sizeof(path), "%s/metadata/decision.json", dir);
	errno = 0;
	if ((o = json_load_file(path, 0, &je)) == NULL) {
		if (je.line < 0 && errno == ENOENT)
			return d;	/* older artifacts: the defaults */
		arxiv_error_set(err, path, je.line > 0 ? je.line : 0, "%s", je.text);
		goto fail;
	}
	if (num_in(json_object_get(o, "fields_threshold"), 0, 1, &d->fields_threshold) < 0) {
		arxiv_error_set(err, path, 0, "\"fields_threshold\" must be a number in [0, 1]");
		goto fail;
	}
	dom = json_object_get(o, "domain");
	if (dom != NULL && !json_is_null(dom)) {
		coef = json_object_get(dom, "coef");
		if (num_in(json_object_get(dom, "threshold"), 0, 1, &d->ood_threshold) < 0 ||
		    json_array_size(coef) != DEC_NFEAT ||
		    json_integer_value(json_object_get(dom, "probes")) != PROBES) {
			arxiv_error_set(err, path, 0, "\"domain\" needs \"threshold\" in [0, 1], "
			    "%d \"coef\" and \"probes\": %d", DEC_NFEAT, PROBES);
			goto fail;
		}
		for (j = 0; j < DEC_NFEAT; j++)
			if (num_in(json_array_get(coef, j), -1e6, 1e6, &d->coef[j]) < 0) {
				arxiv_error_set(err, path, 0, "\"coef\" must be finite numbers");
				goto fail;
			}
		snprintf(path, sizeof(path), "%s/model/domain.safetensors", dir);
		if ((d->st = arxiv_st_open(path, err)) == NULL)
			goto fail;
		if (arxiv_st_find(d->st, "bloom", &t) < 0 || t.dtype != ARXIV_U8 || t.ndim != 1 ||
		    t.nbytes < 8 || (t.nbytes & (t.nbytes - 1)) != 0) {
			arxiv_error_set(err, path, 0, "\"bloom\" must be a U8 vector of a power of "
			    "two bytes");
			goto fail;
		}
		d->bloom = t.data;
		d->bloom_bits = (uint64_t)t.nbytes * 8;
		d->have_domain = 1;
	}
	json_decref(o);
	return d;
fail:
	json_decref(o);
	dec_free(d);
	return NULL;
}

/* ------------------------------------------------------------ training */

static uint64_t
rng(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix64(*s);
}

/* Mean over papers of the F1 of {primary} + {labels >= t} against the field set. */
static double
fields_f1(const struct arxiv_dataset *val, const struct arxiv_prediction *pred, double t)
{
	double sum = 0;
	size_t i, j, n = 0;

	for (i = 0; i < val->n; i++) {
		uint64_t truth, set = 0, inter;
		int a, b, c;
		if (val->label[i] < 0 || val->label[i] >= 64 || pred[i].k == 0)
			continue;
		truth = (val->fields ? val->fields[i] : 0) | (uint64_t)1 << val->label[i];
		for (j = 0; j < pred[i].k; j++)
			if (j == 0 || pred[i].score[j] >= t)
				set |= (uint64_t)1 << pred[i].label[j];
		inter = set & truth;
		a = __builtin_popcountll(inter);
		b = __builtin_popcountll(set);
		c = __builtin_popcountll(truth);
		sum += 2.0 * a / (b + c);
		n++;
	}
	return n ? sum / (double)n : 0;
}

/* Tokens of a cleaned text as (start, length) pairs. */
struct toks {
	size_t *v;		/* 2 per token */
	size_t n, cap;
};

static int
split(const char *s, size_t n, struct toks *t)
{
	size_t i = 0, st;

	t->n = 0;
	while (i < n) {
		while (i < n && blank(s[i]))
			i++;
		if (i >= n)
			break;
		st = i;
		while (i < n && !blank(s[i]))
			i++;
		if (t->n + 1 > t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 256;
			size_t *p = realloc(t->v, cap * 2 * sizeof(*p));
			if (p == NULL)
				return -1;
			t->v = p;
			t->cap = cap;
		}
		t->v[2 * t->n] = st;
		t->v[2 * t->n + 1] = i - st;
		t->n++;
	}
	return 0;
}

struct sample {
	double x[DEC_NFEAT];
	double y, w;
	int kind;		/* 0 val abstract, 1 val window, 2 random text, 3 shuffled */
};

/* Weighted L2-regularised logistic regression by Newton's method. */
static void
fit_logistic(const struct sample *s, size_t n, double coef[DEC_NFEAT])
{
	double g[DEC_NFEAT], H[DEC_NFEAT][DEC_NFEAT + 1], lambda = 1e-3;
	size_t i;
	int it, a, b, r;

	memset(coef, 0, sizeof(double) * DEC_NFEAT);
	for (it = 0; it < 50; it++) {
		double step = 0;
		for (a = 0; a < DEC_NFEAT; a++) {
			g[a] = lambda * coef[a];
			for (b = 0; b < DEC_NFEAT; b++)
				H[a][b] = a == b ? lambda : 0;
		}
		for (i = 0; i < n; i++) {
			double p = logistic(coef, s[i].x), q = s[i].w * p * (1 - p);
			for (a = 0; a < DEC_NFEAT; a++) {
				g[a] += s[i].w * (p - s[i].y) * s[i].x[a];
				for (b = 0; b < DEC_NFEAT; b++)
					H[a][b] += q * s[i].x[a] * s[i].x[b];
			}
		}
		/* solve H d = g (Gauss-Jordan with partial pivoting) */
		for (a = 0; a < DEC_NFEAT; a++)
			H[a][DEC_NFEAT] = g[a];
		for (a = 0; a < DEC_NFEAT; a++) {
			int piv = a;
			for (r = a + 1; r < DEC_NFEAT; r++)
				if (fabs(H[r][a]) > fabs(H[piv][a]))
					piv = r;
			if (piv != a)
				for (b = 0; b <= DEC_NFEAT; b++) {
					double tmp = H[a][b];
					H[a][b] = H[piv][b];
					H[piv][b] = tmp;
				}
			if (fabs(H[a][a]) < 1e-12)
				return;
			for (r = 0; r < DEC_NFEAT; r++) {
				double f;
				if (r == a)
					continue;
				f = H[r][a] / H[a][a];
				for (b = a; b <= DEC_NFEAT; b++)
					H[r][b] -= f * H[a][b];
			}
		}
		for (a = 0; a < DEC_NFEAT; a++) {
			double d = H[a][DEC_NFEAT] / H[a][a];
			coef[a] -= d;
			step += fabs(d);
		}
		if (step < 1e-8)
			break;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
write_file_json(const char *dir, const char *name, json_t *o, struct arxiv_error *err)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (o == NULL) {
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	if (json_dump_file(o, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) < 0) {
		arxiv_error_set(err, path, 0, "write error: %s", strerror(errno ? errno : EIO));
		json_decref(o);
		return -1;
	}
	json_decref(o);
	return 0;
}

/* The domain check: bloom filter from train, logistic model from val. */
static int
fit_domain(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, json_t *out, json_t *valrep,
    struct arxiv_error *err)
{
	uint8_t *once = NULL, *twice = NULL;
	uint64_t entries = 0, bits = TWICE_BITS, seed = p->seed ^ 0x6f6f64ULL, h, prev;
	struct toks tk = {0};
	struct arxiv_buf b = {0};
	struct sample *s = NULL;
	struct dec d = {0};
	struct dec_counts c;
	double *pos = NULL, thr, coef[DEC_NFEAT];
	size_t i, j, ns = 0, npos = 0, hit[4] = {0}, tot[4] = {0};
	int rc = -1;
	char path[4200];

	once = calloc(ONCE_BITS / 8, 1);
	twice = calloc(TWICE_BITS / 8, 1);
	s = calloc(val->n * 4 + 1, sizeof(*s));
	pos = calloc(val->n + 1, sizeof(*pos));
	if (!once || !twice || !s || !pos)
		goto nomem;
	for (i = 0; i < train->n; i++) {
		const char *t = train->text[i];
		if (split(t, strlen(t), &tk) < 0)
			goto nomem;
		prev = 0;
		for (j = 0; j < tk.n; j++) {
			h = word_hash(t + tk.v[2 * j], tk.v[2 * j + 1]);
			if (!bloom_set(once, ONCE_BITS, h))
				entries += (uint64_t)bloom_set(twice, TWICE_BITS, h);
			if (j > 0) {
				uint64_t ph = pair_hash(prev, h);
				if (!bloom_set(once, ONCE_BITS, ph))
					entries += (uint64_t)bloom_set(twice, TWICE_BITS, ph);
			}
			prev = h;
		}
	}
	free(once);
	once = NULL;
	/* fold to about 16 bits per entry: bit i of the half is bit i | bit i + half */
	while (bits > 4096 && bits / 2 >= 16 * entries) {
		size_t half = (size_t)(bits / 16);
		for (i = 0; i < half; i++)
			twice[i] |= twice[i + half];
		bits /= 2;
	}
	d.have_domain = 1;
	d.bloom = twice;
	d.bloom_bits = bits;

	/* samples: val abstracts and windows (in domain), random text and shuffled words */
	for (i = 0; i < val->n; i++) {
		const char *t = val->text[i];
		size_t n = strlen(t), len, st;
		if (split(t, n, &tk) < 0)
			goto nomem;
		if (tk.n == 0)
			continue;
		dec_count(&d, t, n, &c);
		features(&c, s[ns].x);
		s[ns].y = 1;
		s[ns++].kind = 0;
		/* a window of 3..15 words */
		len = 3 + (size_t)(rng(&seed) % 13);
		if (tk.n >= len) {
			st = (size_t)(rng(&seed) % (tk.n - len + 1));
			dec_count(&d, t + tk.v[2 * st], tk.v[2 * (st + len - 1)] +
			    tk.v[2 * (st + len - 1) + 1] - tk.v[2 * st], &c);
			features(&c, s[ns].x);
			s[ns].y = 1;
			s[ns++].kind = 1;
		}
		/* random letters: as many words as the abstract, or 1..15 */
		arxiv_buf_clear(&b);
		len = rng(&seed) & 1 ? tk.n : 1 + (size_t)(rng(&seed) % 15);
		for (j = 0; j < len; j++) {
			size_t wl = 3 + (size_t)(rng(&seed) % 8), q;
			for (q = 0; q < wl; q++)
				arxiv_buf_putc(&b, 'a' + (int)(rng(&seed) % 26));
			arxiv_buf_putc(&b, ' ');
		}
		dec_count(&d, b.data ? b.data : "", b.len, &c);
		features(&c, s[ns].x);
		s[ns].y = 0;
		s[ns++].kind = 2;
		/* the same words shuffled */
		if (tk.n >= 2) {
			for (j = tk.n - 1; j > 0; j--) {
				size_t r = (size_t)(rng(&seed) % (j + 1)), a0 = tk.v[2 * j],
				    a1 = tk.v[2 * j + 1];
				tk.v[2 * j] = tk.v[2 * r];
				tk.v[2 * j + 1] = tk.v[2 * r + 1];
				tk.v[2 * r] = a0;
				tk.v[2 * r + 1] = a1;
			}
			arxiv_buf_clear(&b);
			for (j = 0; j < tk.n; j++) {
				arxiv_buf_append(&b, t + tk.v[2 * j], tk.v[2 * j + 1]);
				arxiv_buf_putc(&b, ' ');
			}
			dec_count(&d, b.data, b.len, &c);
			features(&c, s[ns].x);
			s[ns].y = 0;
			s[ns++].kind = 3;
		}
	}
	if (b.data == NULL && ns > 0)
		goto nomem;
	/* equal total weight for the two classes */
	for (i = 0; i < ns; i++)
		tot[s[i].kind]++;
	for (i = 0; i < ns; i++) {
		double np = (double)(tot[0] + tot[1]), nn = (double)(tot[2] + tot[3]);
		s[i].w = s[i].y > 0 ? (np > 0 ? 0.5 / np : 0) : (nn > 0 ? 0.5 / nn : 0);
		s[i].w *= (double)ns;
	}
	fit_logistic(s, ns, coef);
	memcpy(d.coef, coef, sizeof(coef));
	for (i = 0; i < ns; i++)
		if (s[i].kind == 0)
			pos[npos++] = logistic(coef, s[i].x);
	qsort(pos, npos, sizeof(*pos), cmp_double);
	thr = 0.5;
	if (npos > 0 && pos[(size_t)(FALSE_ABSTAIN_BUDGET * (double)npos)] < thr)
		thr = pos[(size_t)(FALSE_ABSTAIN_BUDGET * (double)npos)];
	for (i = 0; i < ns; i++)
		hit[s[i].kind] += logistic(coef, s[i].x) < thr;

	/* into the artifacts */
	{
		struct arxiv_st_tensor t = { "bloom", ARXIV_U8, 1, { (int64_t)(bits / 8) }, twice,
		    (size_t)(bits / 8) };
		const char *meta[] = { "format", "arxiv-domain", "hash", "fnv1a64-mix-words-pairs-v1" };
		snprintf(path, sizeof(path), "%s/model/domain.safetensors", tmp_dir);
		if (arxiv_st_save(path, &t, 1, meta, 2, err) < 0)
			goto out;
	}
	json_object_set_new(out, "domain", json_pack("{s:f,s:[f,f,f,f,f],s:i,s:I,s:I}",
	    "threshold", thr, "coef", coef[0], coef[1], coef[2], coef[3], coef[4],
	    "probes", PROBES, "bits", (json_int_t)bits, "entries", (json_int_t)entries));
#define RATE(k) (tot[k] ? (double)hit[k] / (double)tot[k] : 0.0)
	json_object_set_new(valrep, "false_abstain", json_real(RATE(0)));
	json_object_set_new(valrep, "false_abstain_windows", json_real(RATE(1)));
	json_object_set_new(valrep, "abstain_random_text", json_real(RATE(2)));
	json_object_set_new(valrep, "abstain_shuffled_words", json_real(RATE(3)));
#undef RATE
	arxiv_log(ARXIV_LOG_DEBUG, "domain check: threshold %.4g, %llu bloom entries in %llu bits",
	    thr, (unsigned long long)entries, (unsigned long long)bits);
	rc = 0;
	goto out;
nomem:
	arxiv_error_set(err, "", 0, "out of memory");
out:
	free(once);
	free(twice);
	free(s);
	free(pos);
	free(tk.v);
	arxiv_buf_free(&b);
	return rc;
}

int
dec_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train_clean,
    const struct arxiv_dataset *val, const struct arxiv_prediction *val_pred,
    const char *tmp_dir, struct arxiv_error *err)
{
	json_t *o, *valrep;
	double best = -1, bt = DEC_DEFAULT_FIELDS_THRESHOLD, f;
	int i;

	for (i = 5; i <= 95; i++) {
		f = fields_f1(val, val_pred, i / 100.0);
		if (f > best + 1e-12) {
			best = f;
			bt = i / 100.0;
		}
	}
	o = json_object();
	valrep = json_object();
	if (o == NULL || valrep == NULL) {
		json_decref(o);
		json_decref(valrep);
		arxiv_error_set(err, "", 0, "out of memory");
		return -1;
	}
	json_object_set_new(o, "fields_threshold", json_real(bt));
	json_object_set_new(valrep, "fields_f1", json_real(best < 0 ? 0 : best));
	json_object_set_new(valrep, "fields_f1_primary_only", json_real(fields_f1(val, val_pred, 2)));
	if (train_clean && train_clean->text && val->text &&
	    fit_domain(p, train_clean, val, tmp_dir, o, valrep, err) < 0) {
		json_decref(o);
		json_decref(valrep);
		return -1;
	}
	json_object_set_new(o, "val", valrep);
	return write_file_json(tmp_dir, "metadata/decision.json", o, err);
}
