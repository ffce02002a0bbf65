/*
 * decision.c - what a model decides besides its top k: the threshold of the
 * fields list, and the domain check behind abstaining. Both are fitted on the
 * validation set at training time (dec_train) and stored in the artifacts:
 *
 *   metadata/decision.json   {"fields_threshold":..,"domain":{"threshold":..,
 *                             "coef":[5 numbers],"sketch":..,"tokens":..},"val":{..}}
 *   model/domain.safetensors  "words", "pairs": count-min sketches (U8 [slots, 2]:
 *                             two rows, interleaved, of 8-bit log counts) of the
 *                             raw words (letters and digits, lowercased) and
 *                             adjacent word pairs of the training texts
 *
 * Fields: a label is listed when its calibrated probability reaches the
 * threshold (the primary answer always is); the threshold is the one of
 * 0.05, 0.06, .., 0.95 with the best F1 of the listed set against the paper's
 * field set, averaged over the validation papers.
 *
 * Domain: a text's share of known words (seen twice or more), the mean
 * smoothed pointwise mutual information of its adjacent words (shuffling an
 * abstract keeps its words but loses the pairs that go together) and its
 * length go into a logistic model of P(in domain), fitted on the validation
 * texts (and short windows of them) against seeded negatives made from them:
 * random letter strings of the same lengths, and the same words shuffled.
 * The OOD threshold is 0.5, lowered where needed so that at most 0.5% of the
 * validation abstracts fall below it (in-domain text keeps its answer).
 *
 * Training sets of fewer than 1000 texts or validation sets of fewer than 200
 * get no domain check (too few to calibrate it). Artifacts without
 * decision.json (older ones): fields threshold 0.5 and no domain check.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "answer.h"

#define WORD_SLOTS ((size_t)1 << 20)	/* per row, before folding */
#define PAIR_SLOTS ((size_t)1 << 23)
#define ROWS 2
#define FALSE_ABSTAIN_BUDGET 0.005
#define DOMAIN_MIN_TRAIN 1000	/* fewer texts: no domain check (not calibrated) */
#define DOMAIN_MIN_VAL 200
#define PMI_CLIP 10.0
#define SKETCH "cms2-blocked-log8-fnv1a-raw-words-v2"	/* the tables' format, in decision.json */

static inline uint64_t
pair_hash(uint64_t a, uint64_t b)
{
	return arxiv_mix64(a * 0x9e3779b97f4a7c15ULL + (b ^ 0x70616972ULL));
}

/* Slot of hash h in row r of a table of size slots (a power of two >= 32):
 * row 1's slot is in the same block of 32 as row 0's, and the table is stored
 * interleaved (slot i of row r at 2 i + r), so a lookup of both rows reads one
 * 64-byte cache line. Folding (slot mod a smaller power of two) keeps this. */
static inline size_t
slot(uint64_t h, int r, size_t size)
{
	size_t i = (size_t)h & (size - 1);

	return r == 0 ? i : (i & ~(size_t)31) | (size_t)(arxiv_mix64(h ^ 0x726f7731ULL) & 31);
}

/* A count stored in 8 bits: q = round(8 log2(1 + c)), so c ~ 2^(q/8) - 1. */
static uint8_t
quant(uint32_t c)
{
	double q = 8 * log2(1.0 + c) + 0.5;

	return (uint8_t)(q > 255 ? 255 : q);
}

static double dequant_tab[256];

static void
dequant_init(void)
{
	int i;

	for (i = 0; i < 256; i++)
		dequant_tab[i] = exp2(i / 8.0) - 1;
}

static inline double
count_of(const uint8_t *t, size_t size, uint64_t h)
{
	uint8_t a = t[2 * slot(h, 0, size)], b = t[2 * slot(h, 1, size) + 1];

	return dequant_tab[a < b ? a : b];
}

/*
 * The raw words of a text: runs of ASCII letters and digits and of non-ASCII
 * bytes, ASCII lowercased, hashed. fn(ud, hash) for each.
 */
static void
raw_words(const char *s, size_t n, void (*fn)(void *, uint64_t), void *ud)
{
	size_t i = 0;

	while (i < n) {
		uint64_t h = 14695981039346656037ULL;
		size_t len = 0;
		while (i < n) {
			unsigned char c = (unsigned char)s[i];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c | 0x20);
			else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80))
				break;
			h = (h ^ c) * 1099511628211ULL;
			len++;
			i++;
		}
		if (len > 0)
			fn(ud, arxiv_mix64(h ^ len));
		else
			i++;
	}
}

#define CHUNK 256

/* Words are hashed into chunks, then looked up with the tables' slots
 * prefetched a few words ahead (the tables are megabytes: every lookup
 * would otherwise wait for memory). */
struct count_ctx {
	const struct dec *d;
	struct dec_counts *c;
	uint64_t prev;
	double prev_count;
	size_t n;
	uint64_t h[CHUNK];
};

static inline void
prefetch(const struct dec *d, const uint8_t *t, size_t size, uint64_t h)
{
	(void)d;
	__builtin_prefetch(t + 2 * slot(h, 0, size));
}

static void
count_flush(struct count_ctx *x)
{
	const struct dec *d = x->d;
	size_t i;

	for (i = 0; i < x->n; i++) {
		uint64_t h = x->h[i];
		double cw = 0, pb, cab, pmi;
		if (d->have_domain && i + 4 < x->n) {
			prefetch(d, d->wtab, d->wsize, x->h[i + 4]);
			prefetch(d, d->ptab, d->psize, pair_hash(x->h[i + 3], x->h[i + 4]));
		}
		x->c->words++;
		if (d->have_domain) {
			cw = count_of(d->wtab, d->wsize, h);
			x->c->known_words += cw >= 1.5;
		}
		if (x->c->words > 1) {
			x->c->pairs++;
			if (d->have_domain) {
				/* PMI with Dirichlet smoothing: log P(b|a) - log P(b), with
				 * P(b|a) = (c(ab) + P(b)) / (c(a) + 1), clipped */
				cab = count_of(d->ptab, d->psize, pair_hash(x->prev, h));
				x->c->known_pairs += cab >= 1.5;
				pb = (cw + 1) / (d->tokens + (double)d->wsize);
				pmi = log((cab + pb) / ((x->prev_count + 1) * pb));
				if (pmi > PMI_CLIP)
					pmi = PMI_CLIP;
				if (pmi < -PMI_CLIP)
					pmi = -PMI_CLIP;
				x->c->pmi += pmi;
			}
		}
		x->prev = h;
		x->prev_count = cw;
	}
	x->n = 0;
}

static void
count_one(void *ud, uint64_t h)
{
	struct count_ctx *x = ud;

	x->h[x->n++] = h;
	if (x->n == CHUNK)
		count_flush(x);
}

static pthread_once_t dequant_once = PTHREAD_ONCE_INIT;

void
dec_count(const struct dec *d, const char *s, size_t n, struct dec_counts *c)
{
	static const struct dec zero;
	struct count_ctx x;

	memset(c, 0, sizeof(*c));
	pthread_once(&dequant_once, dequant_init);
	x.d = d ? d : &zero;
	x.c = c;
	x.prev = 0;
	x.prev_count = 0;
	x.n = 0;
	raw_words(s, n, count_one, &x);
	count_flush(&x);
}

static void
features(const struct dec_counts *c, double x[DEC_NFEAT])
{
	double ws = c->words ? (double)c->known_words / (double)c->words : 0;
	double pm = c->pairs ? c->pmi / (double)c->pairs / PMI_CLIP : 0;
	double len = log1p((double)c->words) / 6;

	if (len > 1)
		len = 1;
	x[0] = 1;
	x[1] = ws;
	x[2] = pm;
	x[3] = len;
	x[4] = pm * len;
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

/* A U8 [2, size] tensor, size a power of two. */
static int
table(const struct arxiv_st *st, const char *name, const uint8_t **t, size_t *size,
    const char *path, struct arxiv_error *err)
{
	struct arxiv_st_tensor x;

	if (arxiv_st_find(st, name, &x) < 0 || x.dtype != ARXIV_U8 || x.ndim != 2 ||
	    x.shape[1] != ROWS || x.shape[0] < 32 || (x.shape[0] & (x.shape[0] - 1)) != 0) {
		arxiv_error_set(err, path, 0, "\"%s\" must be a U8 tensor [a power of two >= 32, %d]",
		    name, ROWS);
		return -1;
	}
	*t = x.data;
	*size = (size_t)x.shape[0];
	return 0;
}

struct dec *
dec_load(const char *dir, struct arxiv_error *err)
{
	char path[4200];
	struct dec *d;
	json_error_t je;
	json_t *o = NULL, *dom, *coef;
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
		    !json_is_string(json_object_get(dom, "sketch")) ||
		    strcmp(json_string_value(json_object_get(dom, "sketch")), SKETCH) != 0) {
			arxiv_error_set(err, path, 0, "\"domain\" needs \"threshold\" in [0, 1], "
			    "%d \"coef\" and \"sketch\": \"%s\"", DEC_NFEAT, SKETCH);
			goto fail;
		}
		for (j = 0; j < DEC_NFEAT; j++)
			if (num_in(json_array_get(coef, j), -1e6, 1e6, &d->coef[j]) < 0) {
				arxiv_error_set(err, path, 0, "\"coef\" must be finite numbers");
				goto fail;
			}
		if (num_in(json_object_get(dom, "tokens"), 1, 1e15, &d->tokens) < 0) {
			arxiv_error_set(err, path, 0, "\"domain\" needs \"tokens\" >= 1");
			goto fail;
		}
		snprintf(path, sizeof(path), "%s/model/domain.safetensors", dir);
		if ((d->st = arxiv_st_open(path, err)) == NULL)
			goto fail;
		if (table(d->st, "words", &d->wtab, &d->wsize, path, err) < 0 ||
		    table(d->st, "pairs", &d->ptab, &d->psize, path, err) < 0)
			goto fail;
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
	return arxiv_mix64(*s);
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
	char path[4200], *js;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	js = o ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
	json_decref(o);
	if (js == NULL) {
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	rc = arxiv_atomic_write(path, NULL, js, strlen(js), err);
	free(js);
	return rc;
}

/* The raw text of example i, or NULL. */
static const char *
raw_of(const struct arxiv_dataset *d, size_t i)
{
	if (d->raw && d->raw[i])
		return d->raw[i];
	if (d->text && (d->prep == NULL || d->prep[0] == '\0'))
		return d->text[i];
	return NULL;
}

struct sketch {
	uint32_t *w, *p;	/* ROWS x WORD_SLOTS, ROWS x PAIR_SLOTS */
	uint64_t prev;
	size_t n, tokens;
};

static void
sketch_add(void *ud, uint64_t h)
{
	struct sketch *k = ud;
	int r;

	for (r = 0; r < ROWS; r++)
		k->w[(size_t)r * WORD_SLOTS + slot(h, r, WORD_SLOTS)]++;
	if (k->n > 0) {
		uint64_t ph = pair_hash(k->prev, h);
		for (r = 0; r < ROWS; r++)
			k->p[(size_t)r * PAIR_SLOTS + slot(ph, r, PAIR_SLOTS)]++;
	}
	k->prev = h;
	k->n++;
	k->tokens++;
}

/*
 * Fold rows of size slots (counts) down to size out (a power of two >= ..),
 * summing the halves (a slot is h mod size), then quantise into q (ROWS x out).
 */
static void
fold(uint32_t *t, size_t size, size_t out, uint8_t *q)
{
	size_t r, i, s;

	for (r = 0; r < ROWS; r++) {
		uint32_t *row = t + r * size;
		for (s = size; s > out; s /= 2)
			for (i = 0; i < s / 2; i++) {
				uint64_t v = (uint64_t)row[i] + row[i + s / 2];
				row[i] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
			}
		for (i = 0; i < out; i++)
			q[2 * i + r] = quant(row[i]);
	}
}

static size_t
fit_size(size_t max, size_t n)
{
	size_t s = max;

	while (s > 1024 && s / 2 >= 4 * n)
		s /= 2;
	return s;
}

/* A random "word" of 2..10 letters, some capitalised, into b. */
static void
random_word(struct arxiv_buf *b, uint64_t *seed)
{
	size_t n = 2 + (size_t)(rng(seed) % 9), q;

	for (q = 0; q < n; q++) {
		int c = 'a' + (int)(rng(seed) % 26);
		if (q == 0 && rng(seed) % 4 == 0)
			c -= 32;
		arxiv_buf_putc(b, c);
	}
}

/* The domain check: word and pair counts from train, logistic model from val. */
static int
fit_domain(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, json_t *out, json_t *valrep,
    struct arxiv_error *err)
{
	struct sketch k = {0};
	uint8_t *wq = NULL, *pq = NULL;
	uint64_t seed = p->seed ^ 0x6f6f64ULL;
	struct arxiv_span *tk = NULL;
	size_t ntk = 0, tkcap = 0;
	struct arxiv_buf b = {0};
	struct sample *s = NULL;
	struct dec d = {0};
	struct dec_counts c;
	double *pos = NULL, thr, coef[DEC_NFEAT];
	size_t i, j, ns = 0, npos = 0, hit[4] = {0}, tot[4] = {0}, wsize, psize;
	int rc = -1;
	char path[4200];

	k.w = calloc((size_t)ROWS * WORD_SLOTS, sizeof(*k.w));
	k.p = calloc((size_t)ROWS * PAIR_SLOTS, sizeof(*k.p));
	s = calloc(val->n * 4 + 1, sizeof(*s));
	pos = calloc(val->n + 1, sizeof(*pos));
	if (!k.w || !k.p || !s || !pos)
		goto nomem;
	for (i = 0; i < train->n; i++) {
		const char *t = raw_of(train, i);
		if (t == NULL)
			continue;
		k.n = 0;
		raw_words(t, strlen(t), sketch_add, &k);
	}
	wsize = fit_size(WORD_SLOTS, k.tokens);
	psize = fit_size(PAIR_SLOTS, k.tokens);
	wq = malloc((size_t)ROWS * wsize);
	pq = malloc((size_t)ROWS * psize);
	if (!wq || !pq)
		goto nomem;
	fold(k.w, WORD_SLOTS, wsize, wq);
	fold(k.p, PAIR_SLOTS, psize, pq);
	free(k.w);
	free(k.p);
	k.w = k.p = NULL;
	d.have_domain = 1;
	d.wtab = wq;
	d.ptab = pq;
	d.wsize = wsize;
	d.psize = psize;
	d.tokens = (double)(k.tokens ? k.tokens : 1);

	/* samples: val abstracts and windows (in domain), random text and shuffled words */
	for (i = 0; i < val->n; i++) {
		const char *t = raw_of(val, i);
		size_t n, len, st;
		if (t == NULL)
			continue;
		n = strlen(t);
		if (arxiv_words(t, n, &tk, &ntk, &tkcap) < 0)
			goto nomem;
		if (ntk == 0)
			continue;
		dec_count(&d, t, n, &c);
		features(&c, s[ns].x);
		s[ns].y = 1;
		s[ns++].kind = 0;
		/* a window of 3..15 words */
		len = 3 + (size_t)(rng(&seed) % 13);
		if (ntk >= len) {
			st = (size_t)(rng(&seed) % (ntk - len + 1));
			dec_count(&d, t + tk[st].st, tk[st + len - 1].st +
			    tk[st + len - 1].len - tk[st].st, &c);
			features(&c, s[ns].x);
			s[ns].y = 1;
			s[ns++].kind = 1;
		}
		/* random letters: as many words as the abstract, or 1..15 */
		arxiv_buf_clear(&b);
		len = rng(&seed) & 1 ? ntk : 1 + (size_t)(rng(&seed) % 15);
		for (j = 0; j < len; j++) {
			random_word(&b, &seed);
			arxiv_buf_putc(&b, ' ');
		}
		dec_count(&d, b.data ? b.data : "", b.len, &c);
		features(&c, s[ns].x);
		s[ns].y = 0;
		s[ns++].kind = 2;
		/* the same words shuffled */
		if (ntk >= 2) {
			for (j = ntk - 1; j > 0; j--) {
				size_t r = (size_t)(rng(&seed) % (j + 1));
				struct arxiv_span a = tk[j];

				tk[j] = tk[r];
				tk[r] = a;
			}
			arxiv_buf_clear(&b);
			for (j = 0; j < ntk; j++) {
				arxiv_buf_append(&b, t + tk[j].st, tk[j].len);
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
	if (tot[0] == 0 && ns == 0) {
		rc = 0;	/* no raw validation text: no domain check */
		goto out;
	}
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
		struct arxiv_st_tensor t[2] = {
			{ "words", ARXIV_U8, 2, { (int64_t)wsize, ROWS }, wq, (size_t)ROWS * wsize },
			{ "pairs", ARXIV_U8, 2, { (int64_t)psize, ROWS }, pq, (size_t)ROWS * psize },
		};
		const char *meta[] = { "format", "arxiv-domain", "sketch", SKETCH };
		snprintf(path, sizeof(path), "%s/model/domain.safetensors", tmp_dir);
		if (arxiv_st_save(path, t, 2, meta, 2, err) < 0)
			goto out;
	}
	json_object_set_new(out, "domain", json_pack("{s:f,s:[f,f,f,f,f],s:s,s:f}",
	    "threshold", thr, "coef", coef[0], coef[1], coef[2], coef[3], coef[4],
	    "sketch", SKETCH, "tokens", d.tokens));
#define RATE(x) (tot[x] ? (double)hit[x] / (double)tot[x] : 0.0)
	json_object_set_new(valrep, "false_abstain", json_real(RATE(0)));
	json_object_set_new(valrep, "false_abstain_windows", json_real(RATE(1)));
	json_object_set_new(valrep, "abstain_random_text", json_real(RATE(2)));
	json_object_set_new(valrep, "abstain_shuffled_words", json_real(RATE(3)));
#undef RATE
	arxiv_log(ARXIV_LOG_DEBUG, "domain check: threshold %.4g, %zu words counted, tables "
	    "of %zu and %zu slots", thr, k.tokens, wsize, psize);
	rc = 0;
	goto out;
nomem:
	arxiv_error_set(err, "", 0, "out of memory");
out:
	free(k.w);
	free(k.p);
	free(wq);
	free(pq);
	free(s);
	free(pos);
	free(tk);
	arxiv_buf_free(&b);
	return rc;
}

int
dec_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
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
	if (train && (train->n < DOMAIN_MIN_TRAIN || val->n < DOMAIN_MIN_VAL))
		arxiv_log(ARXIV_LOG_DEBUG, "no domain check: it needs %d training and %d validation "
		    "texts", DOMAIN_MIN_TRAIN, DOMAIN_MIN_VAL);
	else if (train && raw_of(val, 0) && fit_domain(p, train, val, tmp_dir, o, valrep,
	    err) < 0) {
		json_decref(o);
		json_decref(valrep);
		return -1;
	}
	json_object_set_new(o, "val", valrep);
	return write_file_json(tmp_dir, "metadata/decision.json", o, err);
}
