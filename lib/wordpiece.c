/*
 * wordpiece.c - BERT tokenisation, id for id what Hugging Face's (slow, Python)
 * BertTokenizer produces. The WordPiece vocabulary learner of arxiv-tok --learn
 * is in wordpiece_learn.c.
 *
 * What BertTokenizer(vocab.txt, do_lower_case=True) does to a text, in order:
 *   1. the special tokens [UNK] [SEP] [PAD] [CLS] [MASK], written literally, are
 *      cut out of the text and become their ids; every other character is
 *      lowercased one by one with Python's str.lower() (so no final-sigma rule;
 *      U+0130 becomes "i" + U+0307, which step 5 strips again);
 *   2. _clean_text: NUL, U+FFFD and every character of a category C* except
 *      \t \n \r are dropped; \t \n \r, ' ' and Zs become spaces;
 *   3. _tokenize_chinese_chars: spaces around each CJK ideograph (the ranges of
 *      is_cjk below);
 *   4. NFC, then split on whitespace (str.split: also U+2028 and U+2029);
 *   5. per word: NFD, drop the nonspacing marks (Mn);
 *   6. split off every punctuation character (ASCII 33-47, 58-64, 91-96,
 *      123-126 and Unicode P*) as a word of its own;
 *   7. WordPiece: a word of more than 100 characters is [UNK]; else greedy
 *      longest match from the left, "##" before every piece but the first; a
 *      word that cannot be covered is one [UNK].
 * Then [CLS] pieces [SEP], truncated to seq_len (pieces cut, [SEP] kept), [PAD].
 * Lowercasing before the NFC of step 4 gives the same NFD in step 5, so each
 * word is lowercased and decomposed in one utf8proc call here. Python 3.11 (the
 * reference) knows Unicode 14, utf8proc 2.8 Unicode 15: the characters new in
 * 15 are unassigned (Cn) for Python, so dropped by step 2; unicode15_new lists them.
 * With lowercase off (do_lower_case=False) nothing is lowercased, step 5 is NFC
 * without stripping, and a word spelled exactly like a special token stays whole.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <utf8proc.h>

#include "arxiv.h"
#include "internal.h"
#include "wordpiece.h"

/* Internal to libarxiv, defined in vocab.c. */
long arxiv_vocab__find(const struct arxiv_vocab *v, int cont, const char *p, size_t n);
size_t arxiv_vocab__maxlen(const struct arxiv_vocab *v, int cont);
long arxiv_vocab__special(const struct arxiv_vocab *v, int which);
long arxiv_vocab__ascii(const struct arxiv_vocab *v, int c);

enum { SP_PAD, SP_UNK, SP_CLS, SP_SEP, SP_MASK };
const char *const wp_sp_name[5] = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
const size_t wp_sp_len[5] = { 5, 5, 5, 5, 6 };


/* Code points assigned in Unicode 15.0 (unassigned in Python 3.11's Unicode 14). */
static const uint32_t unicode15_new[][2] = {
	{0xCF3, 0xCF3}, {0xECE, 0xECE}, {0x10EFD, 0x10EFF}, {0x1123F, 0x11241},
	{0x11B00, 0x11B09}, {0x11F00, 0x11F10}, {0x11F12, 0x11F3A}, {0x11F3E, 0x11F59},
	{0x1342F, 0x1342F}, {0x13439, 0x13455}, {0x1B132, 0x1B132}, {0x1B155, 0x1B155},
	{0x1D2C0, 0x1D2D3}, {0x1DF25, 0x1DF2A}, {0x1E030, 0x1E06D}, {0x1E08F, 0x1E08F},
	{0x1E4D0, 0x1E4F9}, {0x1F6DC, 0x1F6DC}, {0x1F774, 0x1F776}, {0x1F77B, 0x1F77F},
	{0x1F7D9, 0x1F7D9}, {0x1FA75, 0x1FA77}, {0x1FA87, 0x1FA88}, {0x1FAAD, 0x1FAAF},
	{0x1FABB, 0x1FABD}, {0x1FABF, 0x1FABF}, {0x1FACE, 0x1FACF}, {0x1FADA, 0x1FADB},
	{0x1FAE8, 0x1FAE8}, {0x1FAF7, 0x1FAF8}, {0x2B739, 0x2B739}, {0x31350, 0x323AF},
};

const unsigned char wp_ascii_class[128] = {
	2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 2, 2, 1, 2, 2,	/* \t \n \r split */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* ' ' ! .. / */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3,	/* 0-9 : .. ? */
	3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* @ A.. */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3,	/* [ \ ] ^ _ */
	3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* ` a.. */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 2,	/* { | } ~ DEL */
};

/* wp_ascii_class for every byte value; 4: a byte of a non-ASCII character */
const unsigned char wp_byte_class[256] = {
	2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 2, 2, 1, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3,
	3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3,
	3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 2,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

static int
ucat(uint32_t c)
{
	size_t lo = 0, hi = sizeof(unicode15_new) / sizeof(unicode15_new[0]);

	if (c >= 0xCF3) {
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (c < unicode15_new[mid][0])
				hi = mid;
			else if (c > unicode15_new[mid][1])
				lo = mid + 1;
			else
				return UTF8PROC_CATEGORY_CN;
		}
	}
	return utf8proc_category((utf8proc_int32_t)c);
}

static int
is_cjk(uint32_t c)
{
	return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
	    (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
	    (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
	    (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int
is_punct(uint32_t c)
{
	int k;

	if (c < 128)
		return wp_ascii_class[c] == C_PUNCT;
	k = ucat(c);
	return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* Decode one code point of valid UTF-8. */
static uint32_t
u8dec(const unsigned char *s, size_t *len)
{
	if (s[0] < 0xe0) {
		*len = 2;
		return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	}
	if (s[0] < 0xf0) {
		*len = 3;
		return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
	}
	*len = 4;
	return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
	    ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
}

/* ------------------------------------------------------ scratch buffers */

/* A buffer that starts on the stack and moves to the heap only when a word is
 * unusually long, so ordinary texts are tokenised without any allocation. */
struct sbuf {
	char *p;
	size_t len, cap;
	int heap;
};

static int
sb_grow(struct sbuf *b, size_t need)
{
	size_t cap = b->cap * 2;
	char *p;

	while (cap < need)
		cap *= 2;
	if (b->heap) {
		if ((p = realloc(b->p, cap)) == NULL)
			return -1;
	} else {
		if ((p = malloc(cap)) == NULL)
			return -1;
		memcpy(p, b->p, b->len);
	}
	b->p = p;
	b->cap = cap;
	b->heap = 1;
	return 0;
}

static inline int
sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (b->len + n > b->cap && sb_grow(b, b->len + n) < 0)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

static void
sb_free(struct sbuf *b)
{
	if (b->heap)
		free(b->p);
}

/* ------------------------------------------------- basic tokenisation */


struct basic {
	int lower;
	const struct sink *out;
	struct sbuf tok;	/* the current whitespace-delimited word, cleaned */
	int tok_high;		/* it has non-ASCII bytes */
	struct sbuf piece;	/* slow path: one piece re-encoded as UTF-8 */
	utf8proc_int32_t *cp;	/* slow path: code points */
	size_t cp_cap;
	int heap_cp;
};

static utf8proc_int32_t
lower_cp(utf8proc_int32_t c, void *ud)
{
	(void)ud;
	return utf8proc_tolower(c);
}

/* The ASCII word in b->tok: lowercase, split off punctuation. */
static int
word_ascii(struct basic *b)
{
	char *s = b->tok.p;
	size_t n = b->tok.len, i, start = 0;
	int r;

	if (!b->lower) {
		for (i = 0; i < 5; i++)
			if (n == wp_sp_len[i] && memcmp(s, wp_sp_name[i], n) == 0)
				return b->out->special(b->out->ud, (int)i);
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (wp_ascii_class[c] == C_PUNCT) {
			if (i > start && (r = b->out->word(b->out->ud, s + start, i - start,
			    i - start)) != 0)
				return r;
			if ((r = b->out->word(b->out->ud, s + i, 1, 1)) != 0)
				return r;
			start = i + 1;
		} else if (b->lower && c >= 'A' && c <= 'Z')
			s[i] = (char)(c + 32);
	}
	if (n > start)
		return b->out->word(b->out->ud, s + start, n - start, n - start);
	return 0;
}

static int
flush_piece(struct basic *b, size_t *nchars)
{
	int r = 0;

	if (*nchars > 0)
		r = b->out->word(b->out->ud, b->piece.p, b->piece.len, *nchars);
	b->piece.len = 0;
	*nchars = 0;
	return r;
}

/* A word with non-ASCII characters: lowercase + NFD + strip Mn (or NFC), then
 * split off punctuation. */
static int
word_unicode(struct basic *b)
{
	utf8proc_ssize_t m;
	utf8proc_option_t opt;
	size_t i, nchars = 0;
	uint8_t enc[4];
	int r;

	opt = b->lower ? UTF8PROC_DECOMPOSE : (UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	for (;;) {
		m = utf8proc_decompose_custom((const utf8proc_uint8_t *)b->tok.p,
		    (utf8proc_ssize_t)b->tok.len, b->cp, (utf8proc_ssize_t)b->cp_cap, opt,
		    b->lower ? lower_cp : NULL, NULL);
		if (m < 0)
			return -1;
		if ((size_t)m <= b->cp_cap)
			break;
		{
			size_t cap = (size_t)m + 64;
			utf8proc_int32_t *p = b->heap_cp ? realloc(b->cp, cap * sizeof(*p)) :
			    malloc(cap * sizeof(*p));
			if (p == NULL)
				return -1;
			b->cp = p;
			b->cp_cap = cap;
			b->heap_cp = 1;
		}
	}
	if (!b->lower) {
		m = utf8proc_normalize_utf32(b->cp, m, opt);
		if (m < 0)
			return -1;
		/* never_split: a word that is exactly a special token stays whole */
		for (i = 0; i < 5; i++) {
			size_t j;
			if ((size_t)m != wp_sp_len[i])
				continue;
			for (j = 0; j < wp_sp_len[i] && b->cp[j] == (unsigned char)wp_sp_name[i][j]; j++)
				;
			if (j == wp_sp_len[i])
				return b->out->special(b->out->ud, (int)i);
		}
	}
	b->piece.len = 0;
	for (i = 0; i < (size_t)m; i++) {
		uint32_t c = (uint32_t)b->cp[i];
		if (b->lower && c >= 128 && ucat(c) == UTF8PROC_CATEGORY_MN)
			continue;
		if (is_punct(c)) {
			if ((r = flush_piece(b, &nchars)) != 0)
				return r;
			utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)c, enc);
			if ((r = b->out->word(b->out->ud, (const char *)enc, (size_t)k, 1)) != 0)
				return r;
			continue;
		}
		utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)c, enc);
		if (sb_put(&b->piece, enc, (size_t)k) < 0)
			return -1;
		nchars++;
	}
	return flush_piece(b, &nchars);
}

static int
flush_word(struct basic *b)
{
	int r;

	if (b->tok.len == 0)
		return 0;
	r = b->tok_high ? word_unicode(b) : word_ascii(b);
	b->tok.len = 0;
	b->tok_high = 0;
	return r;
}

int
wp_special_at(const char *s, size_t left)
{
	int i;

	for (i = 0; i < 5; i++)
		if (left >= wp_sp_len[i] && memcmp(s, wp_sp_name[i], wp_sp_len[i]) == 0)
			return i;
	return -1;
}

/*
 * Run the basic tokenizer over valid UTF-8 text, handing each word to out.
 * Returns 0, 1 (stopped by the sink) or -1 (out of memory).
 */
int
wp_basic_run(const char *text, size_t n, int lower, const struct sink *out)
{
	char tokstack[1024], piecestack[512];
	utf8proc_int32_t cpstack[512];
	struct basic b;
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, len;
	int r = 0, sp;

	memset(&b, 0, sizeof(b));
	b.lower = lower;
	b.out = out;
	b.tok.p = tokstack;
	b.tok.cap = sizeof(tokstack);
	b.piece.p = piecestack;
	b.piece.cap = sizeof(piecestack);
	b.cp = cpstack;
	b.cp_cap = sizeof(cpstack) / sizeof(cpstack[0]);

	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			switch (wp_ascii_class[c]) {
			case C_SPACE:
				if ((r = flush_word(&b)) != 0)
					goto done;
				i++;
				continue;
			case C_DROP:
				i++;
				continue;
			default:
				break;
			}
			if (c == '[' && (sp = wp_special_at(text + i, n - i)) >= 0) {
				if ((r = flush_word(&b)) != 0 ||
				    (r = out->special(out->ud, sp)) != 0)
					goto done;
				i += wp_sp_len[sp];
				continue;
			}
			if (b.tok.len < b.tok.cap)
				b.tok.p[b.tok.len++] = (char)c;
			else if (sb_put(&b.tok, &c, 1) < 0) {
				r = -1;
				goto done;
			}
			i++;
			continue;
		}
		uint32_t cp = u8dec(s + i, &len);
		int k = ucat(cp);
		if (cp == 0xFFFD || k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF ||
		    k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CN ||
		    k == UTF8PROC_CATEGORY_CS) {
			i += len;
			continue;
		}
		if (k == UTF8PROC_CATEGORY_ZS || cp == 0x2028 || cp == 0x2029) {
			if ((r = flush_word(&b)) != 0)
				goto done;
			i += len;
			continue;
		}
		if (is_cjk(cp)) {
			if ((r = flush_word(&b)) != 0)
				goto done;
			b.tok_high = 1;
			if (sb_put(&b.tok, s + i, len) < 0 || (r = flush_word(&b)) != 0) {
				r = r ? r : -1;
				goto done;
			}
			i += len;
			continue;
		}
		if (sb_put(&b.tok, s + i, len) < 0) {
			r = -1;
			goto done;
		}
		b.tok_high = 1;
		i += len;
	}
	r = flush_word(&b);
done:
	sb_free(&b.tok);
	sb_free(&b.piece);
	if (b.heap_cp)
		free(b.cp);
	return r;
}

/* ------------------------------------------------------------ WordPiece */

/*
 * The word cache of arxiv_tok_encode_cached(): a basic-tokenised word (at most
 * TC_KEY bytes) -> its WordPiece ids (at most TC_IDS), direct-mapped by a hash
 * of the word. Abstracts repeat their words (Zipf), so most words are found
 * here with one hash and one short memcmp instead of the longest-match probes
 * of the vocabulary (several hash lookups per piece). Each entry is one
 * 64-byte cache line; the cache (struct arxiv_tok_cache, in wordpiece.h) is
 * 1 MiB, allocated once, touched lazily.
 */

struct arxiv_tok_cache *
arxiv_tok_cache_new(void)
{
	return calloc(1, sizeof(struct arxiv_tok_cache));
}

void
arxiv_tok_cache_free(struct arxiv_tok_cache *c)
{
	if (c != NULL)
		free(c->count);
	free(c);
}


struct enc {
	const struct arxiv_vocab *v;
	struct arxiv_tok_cache *cache;	/* NULL: none */
	uint32_t *out;		/* content ids (after [CLS]) */
	size_t n, limit;
	long unk, mask;
};

static int
enc_special(void *ud, int which)
{
	struct enc *e = ud;
	long id = arxiv_vocab__special(e->v, which);

	e->out[e->n++] = (uint32_t)(id >= 0 ? id : e->unk);
	return e->n >= e->limit;
}

/* Greedy longest-match-first WordPiece of one basic token. */
static int
enc_word(void *ud, const char *p, size_t n, size_t nchars)
{
	struct enc *e = ud;
	const struct arxiv_vocab *v = e->v;
	uint32_t sub[MAX_WORD_CHARS];
	struct tc_entry *ce = NULL;
	size_t k = 0, start = 0, end, maxb, i;
	uint32_t h = 0;
	long id = -1;
	int cont = 0;

	if (n == 1 && (unsigned char)p[0] < 128) {
		id = arxiv_vocab__ascii(v, p[0]);
		e->out[e->n++] = (uint32_t)(id >= 0 ? id : e->unk);
		return e->n >= e->limit;
	}
	if (nchars > MAX_WORD_CHARS)
		goto unk;
	if (e->cache && n <= TC_KEY) {
		h = arxiv_key_hash(p, n);
		ce = &e->cache->e[h & (TC_SLOTS - 1)];
		if (ce->len == n && ce->hash == h && memcmp(ce->key, p, n) == 0) {
			for (i = 0; i < ce->nids && e->n < e->limit; i++)
				e->out[e->n++] = ce->ids[i];
			return e->n >= e->limit;
		}
	}
	while (start < n) {
		maxb = arxiv_vocab__maxlen(v, cont);
		end = n - start > maxb ? start + maxb : n;
		while (end > start && end < n && ((unsigned char)p[end] & 0xc0) == 0x80)
			end--;
		id = -1;
		while (end > start) {
			if ((id = arxiv_vocab__find(v, cont, p + start, end - start)) >= 0)
				break;
			end--;
			while (end > start && ((unsigned char)p[end] & 0xc0) == 0x80)
				end--;
		}
		if (id < 0) {
			sub[0] = (uint32_t)e->unk;
			k = 1;
			break;
		}
		sub[k++] = (uint32_t)id;
		start = end;
		cont = 1;
	}
	if (ce && k <= TC_IDS) {
		ce->hash = h;
		ce->len = (uint8_t)n;
		ce->nids = (uint8_t)k;
		memcpy(ce->key, p, n);
		memcpy(ce->ids, sub, k * sizeof(*sub));
	}
	for (i = 0; i < k && e->n < e->limit; i++)
		e->out[e->n++] = sub[i];
	return e->n >= e->limit;
unk:
	e->out[e->n++] = (uint32_t)e->unk;
	return e->n >= e->limit;
}

struct arxiv_tok_params
arxiv_tok_default_params(void)
{
	struct arxiv_tok_params p = { 256, 1 };

	return p;
}

int
arxiv_tok_encode(const struct arxiv_vocab *v, const struct arxiv_tok_params *p,
    const char *text, size_t n, uint32_t *ids, uint8_t *mask, size_t *n_tokens,
    struct arxiv_error *err)
{
	return arxiv_tok_encode_cached(NULL, 0, v, p, text, n, ids, mask, n_tokens, err);
}

int
arxiv_tok_encode_cached(struct arxiv_tok_cache *cache, unsigned flags,
    const struct arxiv_vocab *v, const struct arxiv_tok_params *p, const char *text, size_t n,
    uint32_t *ids, uint8_t *mask, size_t *n_tokens, struct arxiv_error *err)
{
	struct sink sk = { enc_word, enc_special, NULL };
	struct enc e;
	long bad;
	size_t i;
	int r = 0;

	if (p->seq_len < 2) {
		arxiv_error_set(err, "", 0, "sequence length %zu is below 2", p->seq_len);
		return -1;
	}
	if (!(flags & ARXIV_TOK_VALID_UTF8) && (bad = arxiv_utf8_check(text, n)) >= 0) {
		arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
		return -1;
	}
	if (cache && (!cache->used || cache->vocab_hash != arxiv_vocab_hash(v))) {
		/* another vocabulary: forget every entry (new ones are zeroed) */
		if (cache->used)
			memset(cache->e, 0, sizeof(cache->e));
		cache->vocab_hash = arxiv_vocab_hash(v);
		cache->used = 1;
	}
	e.v = v;
	e.cache = cache;
	e.out = ids + 1;
	e.n = 0;
	e.limit = p->seq_len - 2;
	e.unk = arxiv_vocab__special(v, SP_UNK);
	sk.ud = &e;
	if (e.limit > 0)
		r = wp_basic_run(text, n, p->lowercase, &sk);
	if (r < 0) {
		arxiv_error_set(err, "", 0, "out of memory");
		return -1;
	}
	ids[0] = (uint32_t)arxiv_vocab__special(v, SP_CLS);
	ids[e.n + 1] = (uint32_t)arxiv_vocab__special(v, SP_SEP);
	for (i = 0; i < e.n + 2; i++)
		mask[i] = 1;
	for (; i < p->seq_len; i++) {
		ids[i] = (uint32_t)arxiv_vocab__special(v, SP_PAD);
		mask[i] = 0;
	}
	if (n_tokens)
		*n_tokens = e.n + 2;
	return 0;
}

/* The basic tokenizer alone: words joined by single spaces. */
static int
basic_word_join(void *ud, const char *p, size_t n, size_t nchars)
{
	struct arxiv_buf *o = ud;

	(void)nchars;
	if (o->len && arxiv_buf_putc(o, ' ') < 0)
		return -1;
	return arxiv_buf_append(o, p, n) < 0 ? -1 : 0;
}

static int
basic_special_join(void *ud, int which)
{
	return basic_word_join(ud, wp_sp_name[which], wp_sp_len[which], wp_sp_len[which]);
}

int
arxiv_tok_basic(const char *text, size_t n, int lowercase, struct arxiv_buf *out,
    struct arxiv_error *err)
{
	struct sink sk = { basic_word_join, basic_special_join, out };
	long bad;

	arxiv_buf_clear(out);
	if ((bad = arxiv_utf8_check(text, n)) >= 0) {
		arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
		return -1;
	}
	if (wp_basic_run(text, n, lowercase, &sk) < 0 || arxiv_buf_reserve(out, 0) < 0) {
		arxiv_error_set(err, "", 0, "out of memory");
		return -1;
	}
	return 0;
}
