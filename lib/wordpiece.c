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
static const size_t sp_len[5] = { 5, 5, 5, 5, 6 };


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

/* ASCII byte classes: word, space (split), drop (control), punctuation. */
enum { C_WORD, C_SPACE, C_DROP, C_PUNCT };
static const unsigned char ascii_class[128] = {
	2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 2, 2, 1, 2, 2,	/* \t \n \r split */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* ' ' ! .. / */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3,	/* 0-9 : .. ? */
	3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* @ A.. */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3,	/* [ \ ] ^ _ */
	3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* ` a.. */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 2,	/* { | } ~ DEL */
};

/* ascii_class for every byte value; 4: a byte of a non-ASCII character */
static const unsigned char byte_class[256] = {
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
		return ascii_class[c] == C_PUNCT;
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
			if (n == sp_len[i] && memcmp(s, wp_sp_name[i], n) == 0)
				return b->out->special(b->out->ud, (int)i);
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (ascii_class[c] == C_PUNCT) {
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
			if ((size_t)m != sp_len[i])
				continue;
			for (j = 0; j < sp_len[i] && b->cp[j] == (unsigned char)wp_sp_name[i][j]; j++)
				;
			if (j == sp_len[i])
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

static int
special_at(const char *s, size_t left)
{
	int i;

	for (i = 0; i < 5; i++)
		if (left >= sp_len[i] && memcmp(s, wp_sp_name[i], sp_len[i]) == 0)
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
			switch (ascii_class[c]) {
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
			if (c == '[' && (sp = special_at(text + i, n - i)) >= 0) {
				if ((r = flush_word(&b)) != 0 ||
				    (r = out->special(out->ud, sp)) != 0)
					goto done;
				i += sp_len[sp];
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
 * 64-byte cache line; the cache is 1 MiB, allocated once, touched lazily.
 */
#define TC_SLOTS 16384		/* a power of two */
#define TC_KEY 26
#define TC_IDS 8

struct tc_entry {
	uint32_t hash;
	uint8_t len;		/* 0: empty */
	uint8_t nids;
	char key[TC_KEY];
	uint32_t ids[TC_IDS];
};

struct tcount_table;		/* arxiv_tok_count_cached's word counts, below */

struct arxiv_tok_cache {
	uint64_t vocab_hash;	/* the vocabulary the entries were filled from */
	int used;
	struct tc_entry e[TC_SLOTS];
	struct tcount_table *count;	/* NULL until arxiv_tok_count_cached uses it */
	uint64_t count_vocab;	/* the vocabulary of its counts */
};

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
	return basic_word_join(ud, wp_sp_name[which], sp_len[which], sp_len[which]);
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

/* ------------------------------------------------------- counting tokens */

/*
 * arxiv_tok_count_cached(): the length arxiv_tok_encode would give with a
 * seq_len long enough for every piece, without ids, truncation or padding.
 * Lowercasing texts (the usual case) take a fast path over runs of plain
 * ASCII: the whitespace-delimited token is split at punctuation by a byte
 * table, its runs of letters and digits found and lowercased 8 bytes at a time,
 * with no copy to the basic tokenizer and no utf8proc;
 * a token with any non-ASCII byte is handed whole to wp_basic_run (the basic
 * tokenizer's state is empty at ASCII whitespace, so that token gives what it
 * gives in the whole text). Each word's piece count is remembered in a table
 * of the word cache: 2 entries per 64-byte line, words of up to CT_KEY bytes
 * kept zero-padded in whole words (compared by three 8-byte loads).
 */
#define CT_SETS 262144		/* a power of two: 16 MiB */
#define CT_KEY 24

struct ct_entry {
	uint64_t key[CT_KEY / 8];	/* the word, zero-padded */
	uint32_t hash;
	uint8_t len;		/* 0: empty */
	uint8_t count;		/* its pieces */
	uint16_t unused;
};

_Static_assert(sizeof(struct ct_entry) == 32, "two count entries per cache line");

struct tcount_table {
	struct ct_entry e[CT_SETS][2];
};
#define CT_ALIGN (2u << 20)	/* on huge pages where the system has them: every
				 * word lands on a random line, and with 4 KiB
				 * pages nearly every lookup would miss the TLB */

struct cnt {
	const struct arxiv_vocab *v;
	struct tcount_table *t;	/* NULL: no cache */
	size_t n;		/* tokens so far */
};

/* The number of pieces greedy longest-match WordPiece gives a word of at most
 * MAX_WORD_CHARS characters (1: [UNK]), as enc_word finds them. */
static size_t
wp_count_pieces(const struct arxiv_vocab *v, const char *p, size_t n)
{
	size_t k = 0, start = 0, end, maxb;
	int cont = 0;

	while (start < n) {
		maxb = arxiv_vocab__maxlen(v, cont);
		end = n - start > maxb ? start + maxb : n;
		while (end > start && end < n && ((unsigned char)p[end] & 0xc0) == 0x80)
			end--;
		while (end > start) {
			if (arxiv_vocab__find(v, cont, p + start, end - start) >= 0)
				break;
			end--;
			while (end > start && ((unsigned char)p[end] & 0xc0) == 0x80)
				end--;
		}
		if (end == start)
			return 1;
		k++;
		start = end;
		cont = 1;
	}
	return k;
}

static size_t ct_find(struct cnt *c, const uint64_t *key, size_t n, uint64_t h64);

/* The table's hash of a word of n bytes, zero-padded into the words a b d. */
static inline uint64_t
ct_hash(uint64_t a, uint64_t b, uint64_t d, size_t n)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ULL + b * 0xc2b2ae3d27d4eb4fULL +
	    d * 0x165667b19e3779f9ULL + n;

	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

/* Pieces of the word key (n bytes, 2..CT_KEY, zero-padded to CT_KEY). */
static size_t
ct_pieces(struct cnt *c, const uint64_t *key, size_t n)
{
	return ct_find(c, key, n, ct_hash(key[0], key[1], key[2], n));
}

/* Pieces of one basic-tokenised word. */
static size_t
cnt_pieces(struct cnt *c, const char *p, size_t n, size_t nchars)
{
	uint64_t key[CT_KEY / 8];

	if ((n == 1 && (unsigned char)p[0] < 128) || nchars > MAX_WORD_CHARS)
		return 1;
	if (c->t == NULL || n > CT_KEY)
		return wp_count_pieces(c->v, p, n);
	key[0] = key[1] = key[2] = 0;
	memcpy(key, p, n);
	return ct_pieces(c, key, n);
}

static int
cnt_word(void *ud, const char *p, size_t n, size_t nchars)
{
	struct cnt *c = ud;

	c->n += cnt_pieces(c, p, n, nchars);
	return 0;
}

static int
cnt_special(void *ud, int which)
{
	struct cnt *c = ud;

	(void)which;
	c->n++;
	return 0;
}

/*
 * The fast path's words of 2..CT_KEY bytes wait in a batch, their table lines
 * prefetched, and are looked up together: the 4 MiB table is mostly out of
 * the core's cache, and the lookups of a batch wait for memory at the same
 * time instead of one after another. Counts are summed, so the order does not
 * matter; the words of a token that turns out to hold non-ASCII text are taken
 * out of the batch again.
 */
#define CT_BATCH 64

struct ct_item {
	uint64_t key[CT_KEY / 8];
	uint64_t h;
	size_t n;
};

struct lower {
	struct cnt *c;
	size_t nb;		/* words in the batch */
	struct ct_item b[CT_BATCH];
};

/* Pieces of the word key (n bytes, 2..CT_KEY, zero-padded) of hash h64. */
static inline size_t
ct_find(struct cnt *c, const uint64_t *key, size_t n, uint64_t h64)
{
	uint32_t h = (uint32_t)(h64 >> 32);
	struct ct_entry *s = c->t->e[h64 & (CT_SETS - 1)];
	size_t k;
	int i;

	for (i = 0; i < 2; i++)
		if (s[i].hash == h && s[i].len == n && s[i].key[0] == key[0] &&
		    s[i].key[1] == key[1] && s[i].key[2] == key[2])
			return s[i].count;
	k = wp_count_pieces(c->v, (const char *)key, n);
	s[1] = s[0];
	s[0].key[0] = key[0];
	s[0].key[1] = key[1];
	s[0].key[2] = key[2];
	s[0].hash = h;
	s[0].len = (uint8_t)n;
	s[0].count = (uint8_t)k;
	return k;
}

/* The pieces of the batch's words; empties it. */
static size_t
lw_resolve(struct lower *l)
{
	size_t i, k = 0;

	for (i = 0; i < l->nb; i++)
		k += ct_find(l->c, l->b[i].key, l->b[i].n, l->b[i].h);
	l->nb = 0;
	return k;
}

/* A run of rl word characters, lowercased in w (zero-padded to CT_KEY bytes):
 * its pieces now, or 0 when it went into the batch. */
static inline size_t
lw_run(struct lower *l, const uint64_t *w, size_t rl)
{
	struct ct_item *it;
	uint64_t a, b, d;

	if (rl == 1 || rl > MAX_WORD_CHARS)
		return 1;
	if (l->c->t == NULL || rl > CT_KEY)
		return wp_count_pieces(l->c->v, (const char *)w, rl);
	if (l->nb == CT_BATCH)
		return ct_pieces(l->c, w, rl);
	/* three 8-byte loads, each of what one 8-byte store wrote (a wider load
	 * over two stores would wait for them to reach the cache) */
	a = w[0];
	b = w[1];
	d = w[2];
	__asm__("" : "+r"(a), "+r"(b), "+r"(d));
	it = &l->b[l->nb++];
	it->key[0] = a;
	it->key[1] = b;
	it->key[2] = d;
	it->n = rl;
	it->h = ct_hash(a, b, d, rl);
	__builtin_prefetch(l->c->t->e[it->h & (CT_SETS - 1)]);
	return 0;
}

/* How many of x's 8 bytes, from the first in memory (little-endian: the
 * lowest), are ASCII letters or digits. */
static inline uint64_t
word_bytes(uint64_t x)
{
	const uint64_t hi = 0x8080808080808080ULL, one = 0x0101010101010101ULL;
	uint64_t y = x & ~hi, l = y | 0x2020202020202020ULL, digit, letter, not_word;

	/* per byte of y (< 0x80, so no carry between bytes): v + (0x80 - lo) has its
	 * high bit set when v >= lo, v + (0x7f - hi) when v > hi */
	digit = (y + one * (0x80 - '0')) & ~(y + one * (0x7f - '9'));
	letter = (l + one * (0x80 - 'a')) & ~(l + one * (0x7f - 'z'));
	not_word = ~((digit | letter) & ~x) & hi;
	return not_word ? (uint64_t)__builtin_ctzll(not_word) / 8 : 8;
}

/* The fast path (lowercasing): valid UTF-8 text, c->n counts. 0 or -1. */
static int
cnt_lower(struct cnt *c, const char *text, size_t n)
{
	struct sink sk = { cnt_word, cnt_special, c };
	struct lower l;
	union {
		uint64_t w[17];
		char c[136];	/* > MAX_WORD_CHARS + 8 */
	} wb;
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, tok = 0, rl = 0, tokn = 0, total = 0, tokb = 0, end;
	int sp;

	l.c = c;
	l.nb = 0;
	while (i < n) {
		unsigned char ch = s[i];

		if (byte_class[ch] == C_WORD) {
			/* a run of letters and digits (| 0x20 lowercases a letter and
			 * keeps a digit), through dropped control characters */
			wb.w[0] = wb.w[1] = wb.w[2] = 0;
			rl = 0;
			for (;;) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				/* 8 bytes at a time while they are letters and digits */
				while (n - i >= 8) {
					uint64_t x, k;

					memcpy(&x, s + i, 8);
					k = word_bytes(x);
					if (rl < sizeof(wb.c) - 8) {
						x |= 0x2020202020202020ULL;
						if (k < 8)
							x &= (1ULL << (8 * k)) - 1;
						memcpy(wb.c + rl, &x, 8);
					}
					rl += k;
					i += k;
					if (k < 8)
						break;
				}
				if (i == n)
					break;
				ch = s[i];
#endif
				if (byte_class[ch] == C_WORD) {
					if (rl < sizeof(wb.c))
						wb.c[rl] = (char)(ch | 0x20);
					rl++;
				} else if (byte_class[ch] != C_DROP)
					break;
				if (++i == n)
					break;
				ch = s[i];
			}
			tokn += lw_run(&l, wb.w, rl);
			continue;
		}
		if (ch >= 0x80) {
			/* non-ASCII: the whole token through the basic tokenizer */
			for (end = i + 1; end < n && (s[end] >= 0x80 ||
			    ascii_class[s[end]] != C_SPACE); end++)
				;
			c->n = 0;
			if (wp_basic_run(text + tok, end - tok, 1, &sk) < 0)
				return -1;
			total += c->n;
			l.nb = tokb;
			tokn = 0;
			i = tok = end;
			continue;
		}
		if (ascii_class[ch] == C_DROP)
			i++;
		else if (ascii_class[ch] == C_SPACE) {
			total += tokn;
			tokn = 0;
			if (l.nb >= CT_BATCH / 2)
				total += lw_resolve(&l);
			tokb = l.nb;
			tok = ++i;
		} else if (ch == '[' && (sp = special_at(text + i, n - i)) >= 0) {
			tokn++;
			i += sp_len[sp];
		} else {
			tokn++;		/* a punctuation character */
			i++;
		}
	}
	c->n = total + tokn + lw_resolve(&l);
	return 0;
}

int
arxiv_tok_count_cached(struct arxiv_tok_cache *cache, unsigned flags,
    const struct arxiv_vocab *v, const struct arxiv_tok_params *p, const char *text, size_t n,
    size_t *n_tokens, struct arxiv_error *err)
{
	struct sink sk = { cnt_word, cnt_special, NULL };
	struct cnt c;
	long bad;
	int r;

	if (!(flags & ARXIV_TOK_VALID_UTF8) && (bad = arxiv_utf8_check(text, n)) >= 0) {
		arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
		return -1;
	}
	c.v = v;
	c.t = NULL;
	c.n = 0;
	if (cache != NULL) {
		if (cache->count == NULL) {
			cache->count = aligned_alloc(CT_ALIGN, sizeof(*cache->count));
			if (cache->count == NULL)
				goto oom;
#ifdef MADV_HUGEPAGE
			(void)madvise(cache->count, sizeof(*cache->count), MADV_HUGEPAGE);
#endif
			memset(cache->count, 0, sizeof(*cache->count));
			cache->count_vocab = arxiv_vocab_hash(v);
		} else if (cache->count_vocab != arxiv_vocab_hash(v)) {
			memset(cache->count, 0, sizeof(*cache->count));
			cache->count_vocab = arxiv_vocab_hash(v);
		}
		c.t = cache->count;
	}
	if (p->lowercase)
		r = cnt_lower(&c, text, n);
	else {
		sk.ud = &c;
		r = wp_basic_run(text, n, 0, &sk);
	}
	if (r < 0)
		goto oom;
	if (n_tokens)
		*n_tokens = c.n + 2;
	return 0;
oom:
	arxiv_error_set(err, "", 0, "out of memory");
	return -1;
}

int
arxiv_tok_count(const struct arxiv_vocab *v, const struct arxiv_tok_params *p,
    const char *text, size_t n, size_t *n_tokens, struct arxiv_error *err)
{
	return arxiv_tok_count_cached(NULL, 0, v, p, text, n, n_tokens, err);
}
