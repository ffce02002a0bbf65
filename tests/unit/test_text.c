/* test_text.c - the cleaning steps, the cleaner and the preprocessing signature. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <utf8proc.h>

#include "arxiv.h"
#include "tap.h"

/* NFKC of the cleaner (ASCII stretches copied) against utf8proc on whole strings. */
static const char *const nfkc_cases[] = {
	"e\xcc\x81", "\xcc\x81" "abc", "ab" "e\xcc\xa3\xcc\x81" "cd",	/* marks reordered */
	"x a\xcc\x81\xcc\xa3 y", "\xea\xb0\x80\xe1\x86\xa8 z",		/* Hangul + jamo */
	"\xe1\x84\x80\xe1\x85\xa1 ok", "A\xcc\x8a" "B\xe2\x84\xab",	/* A ring, angstrom */
	"\xef\xac\x81\xef\xac\x82 x\xc2\xb2 \xe2\x91\xa0 \xe3\x8d\xbf",	/* ligatures, circled */
	"plain", "", "a\xcc\x81" "b\xcc\x81" "c \xce\x91\xcc\x81",
};

/* The cleaner's fused ASCII path against the public steps one after the other. */
static const char *const chain_cases[] = {
	"  Hello,   WORLD!! 3.14-foo_bar  ", "a--b\t\n\rc", "!!!", "", "x",
	"MiXeD 123 (CASE) [with] {braces} $dollars$ and \\macros", "tab\there  ",
};

static struct arxiv_buf b;

typedef int (*step_fn)(const char *, size_t, struct arxiv_buf *);

static const char *
run(step_fn f, const char *in)
{
	if (f(in, strlen(in), &b) < 0)
		return "(error)";
	return b.data ? b.data : "";
}

/* The whole LaTeX -> filter -> space chain, as the default pipeline does before lowering. */
static const char *
latex_words(const char *in)
{
	struct arxiv_buf t = {0};
	char *s;

	if (arxiv_text_latex(in, strlen(in), &b) < 0)
		return "(error)";
	arxiv_text_filter(b.data, b.len, &t);
	arxiv_text_space(t.data, t.len, &b);
	arxiv_buf_free(&t);
	s = b.data ? b.data : "";
	return s;
}

static const char *
clean(struct arxiv_cleaner *c, const char *in)
{
	struct arxiv_error e;

	if (arxiv_clean_text(c, in, strlen(in), &b, &e) < 0)
		return "(error)";
	return b.data ? b.data : "";
}

static struct arxiv_cleaner *
cleaner(unsigned flags, size_t trunc, const char *stop)
{
	struct arxiv_clean_params p = arxiv_clean_default_params();
	struct arxiv_error e;
	struct arxiv_cleaner *c;

	p.flags = flags;
	p.truncate = trunc;
	p.stopwords = stop;
	if ((c = arxiv_cleaner_new(&p, &e)) == NULL)
		printf("# cleaner: %s\n", e.text);
	return c;
}

int
main(void)
{
	struct arxiv_clean_params p, q;
	struct arxiv_cleaner *c;
	struct arxiv_buf sig = {0}, sig2 = {0};
	struct arxiv_error e;
	char path[] = "/tmp/test_text_stop.XXXXXX";
	char big[5000];
	FILE *fp;
	int fd, i;

	setenv("ARXIV_DATADIR", "data", 0);	/* tests/run.sh runs from the top */

	/* NFKC */
	CHECK_STR(run(arxiv_text_nfkc, "\xef\xac\x81nite"), "finite", "NFKC: ligature fi -> fi");
	CHECK_STR(run(arxiv_text_nfkc, "x\xc2\xb2 and \xe2\x84\xab"), "x2 and \xc3\x85",
	    "NFKC: superscript two, angstrom sign");
	CHECK_STR(run(arxiv_text_nfkc, "Caf" "e\xcc\x81 ok"), "Caf\xc3\xa9 ok",
	    "NFKC composes e + combining acute (ASCII base before the mark)");
	CHECK_STR(run(arxiv_text_nfkc, "plain ascii"), "plain ascii", "NFKC: ASCII unchanged");
	CHECK_STR(run(arxiv_text_nfkc, "\xef\xbc\xa1\xef\xbc\xa2" "c"), "ABc", "NFKC: fullwidth letters");
	CHECK_STR(run(arxiv_text_nfkc, "bad \xff byte"), "(error)", "NFKC: invalid UTF-8 rejected");

	for (i = 0; i < (int)(sizeof(nfkc_cases) / sizeof(nfkc_cases[0])); i++) {
		char *want = (char *)utf8proc_NFKC((const unsigned char *)nfkc_cases[i]);
		CHECK_STR(run(arxiv_text_nfkc, nfkc_cases[i]), want, "NFKC == utf8proc_NFKC, case %d", i);
		free(want);
	}

	/* filter */
	CHECK_STR(run(arxiv_text_filter, "state-of-the-art"), "state of the art",
	    "filter: hyphens become spaces");
	CHECK_STR(run(arxiv_text_filter, "Erd\xc5\x91s, \xce\xb1-stable (2x)!"),
	    "Erd\xc5\x91s  \xce\xb1 stable  2x  ", "filter: accented and Greek letters, digits kept");
	CHECK_STR(run(arxiv_text_filter, "a\tb\nc"), "a\tb\nc", "filter: whitespace kept");
	CHECK_STR(run(arxiv_text_filter, "e\xcc\x81 \xcc\x81x"), "e\xcc\x81  x",
	    "filter: combining mark kept on a letter, dropped alone");
	CHECK_STR(run(arxiv_text_filter, "\xe2\x88\x80x \xe2\x82\xac" "5"), " x  5",
	    "filter: math symbol and currency removed");
	CHECK_STR(run(arxiv_text_filter, "\xe4\xb8\xad\xe6\x96\x87"), "\xe4\xb8\xad\xe6\x96\x87",
	    "filter: CJK letters kept");

	/* space */
	CHECK_STR(run(arxiv_text_space, "  a \t\n b\xc2\xa0\xc2\xa0" "c  "), "a b c",
	    "space: collapse runs incl. NBSP, trim");
	CHECK_STR(run(arxiv_text_space, ""), "", "space: empty");

	/* casefold */
	CHECK_STR(run(arxiv_text_casefold, "Stra\xc3\x9f" "e"), "strasse", "casefold: Strasse");
	CHECK_STR(run(arxiv_text_casefold, "\xce\xa3\xce\x91 \xc3\x89T\xc3\x89"),
	    "\xcf\x83\xce\xb1 \xc3\xa9t\xc3\xa9", "casefold: Greek and accented capitals");
	CHECK_STR(run(arxiv_text_casefold, "ABC xyz 123"), "abc xyz 123", "casefold: ASCII");

	/* LaTeX */
	CHECK_STR(latex_words("$\\alpha$-stable"), "alpha stable", "latex: $\\alpha$-stable");
	CHECK_STR(latex_words("a \\emph{new} method"), "a new method", "latex: \\emph keeps argument");
	CHECK_STR(latex_words("a {\\em new} method"), "a new method", "latex: {\\em ...}");
	CHECK_STR(latex_words("\\textbf{bold} and \\textit{it}"), "bold and it",
	    "latex: \\textbf, \\textit");
	CHECK_STR(latex_words("as shown in \\cite{smith99,doe} and Fig.~\\ref{fig:1}."),
	    "as shown in and Fig", "latex: \\cite, \\ref arguments dropped, ~ is a space");
	CHECK_STR(latex_words("\\citep[see][p.~3]{x} ok"), "ok", "latex: \\citep optional args dropped");
	CHECK_STR(latex_words("Sect.\\ \\label{s:a}2"), "Sect 2", "latex: \\label dropped");
	CHECK_STR(latex_words("Schr\\\"odinger and Poincar\\'e, G\\\"{o}del"),
	    "Schr\xc3\xb6" "dinger and Poincar\xc3\xa9 G\xc3\xb6" "del", "latex: accents composed");
	CHECK_STR(latex_words("Schr{\\\"o}dinger, Erd\\H{o}s, \\v{S}ediv\\'{y}, \\c c"),
	    "Schr\xc3\xb6" "dinger Erd\xc5\x91s \xc5\xa0" "ediv\xc3\xbd \xc3\xa7",
	    "latex: braced accents, \\H, \\v, \\c with space");
	CHECK_STR(latex_words("na\\\"{\\i}ve"), "na\xc3\xafve", "latex: accent on dotless i");
	CHECK_STR(latex_words("Stra\\ss e and \\o{}re"), "Stra\xc3\x9f" "e and \xc3\xb8re",
	    "latex: \\ss and \\o letters");
	CHECK_STR(latex_words("$x^2$ and $\\mathbb{R}^n$"), "x 2 and R n", "latex: x^2, \\mathbb");
	CHECK_STR(latex_words("$\\frac{a}{b}$"), "a b", "latex: \\frac keeps both arguments");
	CHECK_STR(latex_words("10\\% of 1990--2000"), "10 of 1990 2000", "latex: \\%% and --");
	CHECK_STR(latex_words("$\\Gamma$ and $\\varepsilon\\beta$"), "Gamma and epsilon beta",
	    "latex: Greek names, \\var forms, adjacent macros separated");
	CHECK_STR(latex_words("$O(n \\log n)$ with $x \\leq y \\to \\infty$"),
	    "O n log n with x y infinity", "latex: unknown macro -> name, relations dropped");
	CHECK_STR(latex_words("\\foo{bar}"), "foo bar", "latex: unknown macro keeps its name");
	CHECK_STR(latex_words("\\url{http://x.org/a} here"), "here", "latex: \\url dropped");
	CHECK_STR(latex_words("}} unbalanced {{ \\"), "unbalanced", "latex: unbalanced braces survive");
	CHECK_STR(run(arxiv_text_latex, "\\'e"), "\xc3\xa9", "latex alone: \\'e -> e acute");
	CHECK_STR(run(arxiv_text_latex, "plain text"), "plain text", "latex: plain text unchanged");

	/* the cleaner: defaults */
	c = cleaner(ARXIV_CLEAN_DEFAULT, 0, NULL);
	CHECK(c != NULL, "default cleaner (stopwords via ARXIV_DATADIR)");
	if (c) {
		CHECK_STR(clean(c, "Neural networks are the state-of-the-art!"), "neural network state art",
		    "default pipeline: stop words, stemming networks -> network");
		CHECK_STR(clean(c, "We study $\\alpha$-stable processes in \\emph{Banach} spaces \\cite{x}."),
		    "studi alpha stabl process banach space", "default pipeline on LaTeX");
		CHECK_STR(clean(c, "The \xef\xac\x81nite STRASSE of Erd\\H{o}s"),
		    "finit strass erd\xc5\x91", "default pipeline: ligature, case, accent (Snowball strips the s)");
		CHECK_STR(clean(c, "the of and"), "", "only stop words -> empty");
		CHECK_STR(clean(c, "bad \xc3"), "(error)", "invalid UTF-8 rejected");
		/* same input twice -> same bytes (the stem cache must not matter) */
		for (i = 0; i < 3; i++)
			clean(c, "networks networking networked runs running");
		CHECK_STR(clean(c, "networks networking networked runs running"),
		    "network network network run run", "stemming stable across calls");
		arxiv_cleaner_free(c);
	}

	/* the fast paths inside the cleaner give the bytes of the steps chained */
	c = cleaner(ARXIV_CLEAN_DEFAULT & ~(ARXIV_CLEAN_STOP | ARXIV_CLEAN_STEM), 0, NULL);
	for (i = 0; c && i < (int)(sizeof(chain_cases) / sizeof(chain_cases[0])); i++) {
		struct arxiv_buf t1 = {0}, t2 = {0};
		const char *in = chain_cases[i];

		arxiv_text_nfkc(in, strlen(in), &t1);
		arxiv_text_latex(t1.data, t1.len, &t2);
		arxiv_text_filter(t2.data, t2.len, &t1);
		arxiv_text_space(t1.data, t1.len, &t2);
		arxiv_text_casefold(t2.data, t2.len, &t1);
		CHECK_STR(clean(c, in), t1.data ? t1.data : "", "cleaner == chained steps, case %d", i);
		arxiv_buf_free(&t1);
		arxiv_buf_free(&t2);
	}
	arxiv_cleaner_free(c);

	/* flags switch steps */
	c = cleaner(ARXIV_CLEAN_DEFAULT & ~(ARXIV_CLEAN_STEM | ARXIV_CLEAN_STOP), 0, NULL);
	CHECK_STR(c ? clean(c, "The Networks") : "", "the networks", "no stop, no stem");
	arxiv_cleaner_free(c);
	c = cleaner(ARXIV_CLEAN_DEFAULT & ~ARXIV_CLEAN_LOWER, 0, NULL);
	CHECK_STR(c ? clean(c, "The Networks of the world") : "", "The Network world",
	    "no lowering: stop words case-sensitive");
	arxiv_cleaner_free(c);
	c = cleaner(0, 0, NULL);
	CHECK_STR(c ? clean(c, "  $\\alpha$ as-is ") : "", "  $\\alpha$ as-is ", "no steps: identity");
	arxiv_cleaner_free(c);

	/* truncation */
	c = cleaner(ARXIV_CLEAN_SPACE, 11, NULL);
	if (c) {
		CHECK_STR(clean(c, "alpha beta gamma delta"), "alpha beta", "truncate at word boundary");
		CHECK_STR(clean(c, "alpha beta gamma"), "alpha beta", "truncate: boundary exactly at limit");
		CHECK_STR(clean(c, "alpha beta"), "alpha beta", "no truncation when short");
		CHECK_STR(clean(c, "abcdefghijklmnop"), "abcdefghijk", "one long word: hard cut");
		CHECK_STR(clean(c, "abcdefghij\xc3\xa9z"), "abcdefghij", "hard cut on a UTF-8 boundary");
		arxiv_cleaner_free(c);
	}

	/* custom stop words */
	if ((fd = mkstemp(path)) >= 0 && (fp = fdopen(fd, "w")) != NULL) {
		fputs("# my list\nfoo\n  bar \n\nfoo\n", fp);
		fclose(fp);
		c = cleaner(ARXIV_CLEAN_SPACE | ARXIV_CLEAN_STOP, 0, path);
		CHECK_STR(c ? clean(c, "foo the bar baz") : "", "the baz", "custom stop-word list");
		arxiv_cleaner_free(c);

		p = arxiv_clean_default_params();
		p.stopwords = path;
		p.truncate = 512;
		CHECK(arxiv_clean_params_str(&p, &sig) == 0 && strncmp(sig.data,
		    "v1 nfkc,latex,filter,space,lower,stop,stem trunc=512 stem=english stop=", 71) == 0 &&
		    strlen(sig.data) == 71 + 16, "signature with custom list hash: %s", sig.data);
		CHECK(arxiv_clean_params_parse(sig.data, path, &q, &e) == 0 && q.flags == p.flags &&
		    q.truncate == 512 && q.stopwords == path, "custom signature parses with its list");
		CHECK(arxiv_clean_params_parse(sig.data, NULL, &q, &e) < 0,
		    "custom signature without its list rejected");
		fp = fopen(path, "a");
		fputs("baz\n", fp);
		fclose(fp);
		CHECK(arxiv_clean_params_parse(sig.data, path, &q, &e) < 0 &&
		    strstr(e.text, "does not match") != NULL, "changed list rejected: %s", e.text);
		unlink(path);
	}
	CHECK(cleaner(ARXIV_CLEAN_STOP, 0, "/nonexistent/stop.txt") == NULL, "missing list -> NULL");

	/* signature round trip */
	p = arxiv_clean_default_params();
	arxiv_clean_params_str(&p, &sig);
	CHECK_STR(sig.data, "v1 nfkc,latex,filter,space,lower,stop,stem trunc=0 stem=english stop=default",
	    "default signature");
	CHECK(arxiv_clean_params_parse(sig.data, NULL, &q, &e) == 0 &&
	    arxiv_clean_params_str(&q, &sig2) == 0 && strcmp(sig.data, sig2.data) == 0,
	    "default signature round trip");
	p.flags = ARXIV_CLEAN_NFKC | ARXIV_CLEAN_LOWER;
	p.truncate = 100;
	arxiv_clean_params_str(&p, &sig);
	CHECK_STR(sig.data, "v1 nfkc,lower trunc=100 stem=none stop=none", "partial signature");
	CHECK(arxiv_clean_params_parse(sig.data, NULL, &q, &e) == 0 && q.flags == p.flags &&
	    q.truncate == 100 && arxiv_clean_params_str(&q, &sig2) == 0 &&
	    strcmp(sig.data, sig2.data) == 0, "partial signature round trip");
	p.flags = 0;
	arxiv_clean_params_str(&p, &sig);
	CHECK(arxiv_clean_params_parse(sig.data, NULL, &q, &e) == 0 && q.flags == 0,
	    "no-step signature round trip: %s", sig.data);
	CHECK(arxiv_clean_params_parse("v2 nfkc trunc=0 stem=none stop=none", NULL, &q, &e) < 0,
	    "unknown version rejected");
	CHECK(arxiv_clean_params_parse("v1 nfkc,bogus trunc=0 stem=none stop=none", NULL, &q, &e) < 0,
	    "unknown step rejected");
	CHECK(arxiv_clean_params_parse("v1 stem trunc=0 stem=klingon stop=none", NULL, &q, &e) < 0,
	    "unknown stemmer rejected");
	CHECK(arxiv_clean_params_parse("v1 stem trunc=0 stem=english", NULL, &q, &e) < 0,
	    "missing field rejected");
	CHECK(arxiv_clean_params_parse("v1 stem trunc=x stem=english stop=none", NULL, &q, &e) < 0,
	    "bad trunc rejected");
	CHECK(arxiv_clean_params_parse("v1 stem,stem trunc=0 stem=english stop=none", NULL, &q, &e) < 0,
	    "repeated step rejected");

	/* long input through the whole pipeline (buffers grow) */
	for (i = 0; i + 8 < (int)sizeof(big); i += 8)
		memcpy(big + i, "Graphs. ", 8);
	big[i] = '\0';
	c = cleaner(ARXIV_CLEAN_DEFAULT, 0, NULL);
	CHECK(c && strncmp(clean(c, big), "graph graph ", 12) == 0 && b.len == (size_t)(i / 8) * 6 - 1,
	    "long input cleaned (%zu bytes)", b.len);
	arxiv_cleaner_free(c);

	arxiv_buf_free(&sig);
	arxiv_buf_free(&sig2);
	arxiv_buf_free(&b);
	return tap_done();
}
