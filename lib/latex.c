/*
 * latex.c - LaTeX to words for the cleaner (text.c): the macro table and the
 * parser of control words, accents, groups and math. Moved out of text.c;
 * text_latex is the "latex" step of arxiv_text_latex and the cleaner.
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "arxiv.h"
#include "internal.h"

static int
put_cp(struct arxiv_buf *out, utf8proc_int32_t cp)
{
	utf8proc_uint8_t u[4];
	utf8proc_ssize_t k = utf8proc_encode_char(cp, u);

	return arxiv_buf_append(out, u, (size_t)k);
}

/* ---------------------------------------------------------------- LaTeX */

/*
 * What a control word becomes. M_WORD: its word (Greek letters by name),
 * surrounded by spaces; M_LETTER: a letter typed as a macro (\ss, \o), blanks
 * after it eaten as TeX does; M_DROP: the macro and its argument vanish
 * (references, layout); M_KEEP: the argument is kept (formatting, \frac);
 * M_BLANK: a space (declarations such as \em, spacing, relations, operators).
 * Any other control word becomes its name. Sorted by strcmp for bsearch().
 */
enum { M_WORD, M_LETTER, M_DROP, M_KEEP, M_BLANK };

struct macro {
	const char *name;
	unsigned char kind;
	const char *word;
};

static const struct macro macros[] = {
	{ "AA", M_WORD, "angstrom" },
	{ "AE", M_LETTER, "\xc3\x86" },
	{ "Big", M_BLANK, NULL },
	{ "Bigg", M_BLANK, NULL },
	{ "Biggl", M_BLANK, NULL },
	{ "Biggr", M_BLANK, NULL },
	{ "Bigl", M_BLANK, NULL },
	{ "Bigr", M_BLANK, NULL },
	{ "Cref", M_DROP, NULL },
	{ "DH", M_LETTER, "\xc3\x90" },
	{ "Delta", M_WORD, "Delta" },
	{ "Gamma", M_WORD, "Gamma" },
	{ "Huge", M_BLANK, NULL },
	{ "L", M_LETTER, "\xc5\x81" },
	{ "LARGE", M_BLANK, NULL },
	{ "Lambda", M_WORD, "Lambda" },
	{ "Large", M_BLANK, NULL },
	{ "Leftarrow", M_BLANK, NULL },
	{ "Leftrightarrow", M_BLANK, NULL },
	{ "Longrightarrow", M_BLANK, NULL },
	{ "MakeLowercase", M_KEEP, NULL },
	{ "MakeUppercase", M_KEEP, NULL },
	{ "O", M_LETTER, "\xc3\x98" },
	{ "OE", M_LETTER, "\xc5\x92" },
	{ "Omega", M_WORD, "Omega" },
	{ "P", M_BLANK, NULL },
	{ "Phi", M_WORD, "Phi" },
	{ "Pi", M_WORD, "Pi" },
	{ "Psi", M_WORD, "Psi" },
	{ "Rightarrow", M_BLANK, NULL },
	{ "S", M_BLANK, NULL },
	{ "Sigma", M_WORD, "Sigma" },
	{ "TH", M_LETTER, "\xc3\x9e" },
	{ "Theta", M_WORD, "Theta" },
	{ "Upsilon", M_WORD, "Upsilon" },
	{ "Vert", M_BLANK, NULL },
	{ "Xi", M_WORD, "Xi" },
	{ "aa", M_LETTER, "\xc3\xa5" },
	{ "acute", M_KEEP, NULL },
	{ "ae", M_LETTER, "\xc3\xa6" },
	{ "allowbreak", M_BLANK, NULL },
	{ "alpha", M_WORD, "alpha" },
	{ "approx", M_BLANK, NULL },
	{ "arxiv", M_DROP, NULL },
	{ "ast", M_BLANK, NULL },
	{ "atop", M_BLANK, NULL },
	{ "autoref", M_DROP, NULL },
	{ "backslash", M_BLANK, NULL },
	{ "bar", M_KEEP, NULL },
	{ "begin", M_DROP, NULL },
	{ "beta", M_WORD, "beta" },
	{ "bf", M_BLANK, NULL },
	{ "bfseries", M_BLANK, NULL },
	{ "bibitem", M_DROP, NULL },
	{ "big", M_BLANK, NULL },
	{ "bigcap", M_BLANK, NULL },
	{ "bigcup", M_BLANK, NULL },
	{ "bigg", M_BLANK, NULL },
	{ "biggl", M_BLANK, NULL },
	{ "biggr", M_BLANK, NULL },
	{ "bigl", M_BLANK, NULL },
	{ "bigoplus", M_BLANK, NULL },
	{ "bigotimes", M_BLANK, NULL },
	{ "bigr", M_BLANK, NULL },
	{ "bigskip", M_BLANK, NULL },
	{ "binom", M_KEEP, NULL },
	{ "bm", M_KEEP, NULL },
	{ "boldsymbol", M_KEEP, NULL },
	{ "breve", M_KEEP, NULL },
	{ "bullet", M_BLANK, NULL },
	{ "cal", M_BLANK, NULL },
	{ "cap", M_BLANK, NULL },
	{ "caption", M_KEEP, NULL },
	{ "cdot", M_BLANK, NULL },
	{ "cdots", M_BLANK, NULL },
	{ "centering", M_BLANK, NULL },
	{ "cfrac", M_KEEP, NULL },
	{ "check", M_KEEP, NULL },
	{ "chi", M_WORD, "chi" },
	{ "choose", M_BLANK, NULL },
	{ "circ", M_BLANK, NULL },
	{ "cite", M_DROP, NULL },
	{ "citealp", M_DROP, NULL },
	{ "citealt", M_DROP, NULL },
	{ "citeauthor", M_DROP, NULL },
	{ "citep", M_DROP, NULL },
	{ "citet", M_DROP, NULL },
	{ "citeyear", M_DROP, NULL },
	{ "cline", M_DROP, NULL },
	{ "colon", M_BLANK, NULL },
	{ "color", M_KEEP, NULL },
	{ "cong", M_BLANK, NULL },
	{ "cref", M_DROP, NULL },
	{ "cup", M_BLANK, NULL },
	{ "dagger", M_BLANK, NULL },
	{ "dbinom", M_KEEP, NULL },
	{ "ddagger", M_BLANK, NULL },
	{ "ddot", M_KEEP, NULL },
	{ "ddots", M_BLANK, NULL },
	{ "deg", M_WORD, "degree" },
	{ "degree", M_WORD, "degree" },
	{ "delta", M_WORD, "delta" },
	{ "dfrac", M_KEEP, NULL },
	{ "dh", M_LETTER, "\xc3\xb0" },
	{ "digamma", M_WORD, "digamma" },
	{ "displaylines", M_BLANK, NULL },
	{ "displaystyle", M_BLANK, NULL },
	{ "div", M_BLANK, NULL },
	{ "documentclass", M_DROP, NULL },
	{ "doi", M_DROP, NULL },
	{ "dot", M_KEEP, NULL },
	{ "dots", M_BLANK, NULL },
	{ "dotsb", M_BLANK, NULL },
	{ "dotsc", M_BLANK, NULL },
	{ "downarrow", M_BLANK, NULL },
	{ "em", M_BLANK, NULL },
	{ "email", M_DROP, NULL },
	{ "emph", M_KEEP, NULL },
	{ "emptyset", M_BLANK, NULL },
	{ "end", M_DROP, NULL },
	{ "enspace", M_BLANK, NULL },
	{ "ensuremath", M_KEEP, NULL },
	{ "epsilon", M_WORD, "epsilon" },
	{ "eqref", M_DROP, NULL },
	{ "equiv", M_BLANK, NULL },
	{ "eta", M_WORD, "eta" },
	{ "exists", M_BLANK, NULL },
	{ "fbox", M_KEEP, NULL },
	{ "footnote", M_KEEP, NULL },
	{ "footnotemark", M_DROP, NULL },
	{ "footnotesize", M_BLANK, NULL },
	{ "forall", M_BLANK, NULL },
	{ "frac", M_KEEP, NULL },
	{ "gamma", M_WORD, "gamma" },
	{ "ge", M_BLANK, NULL },
	{ "geq", M_BLANK, NULL },
	{ "geqslant", M_BLANK, NULL },
	{ "gg", M_BLANK, NULL },
	{ "grave", M_KEEP, NULL },
	{ "gtrsim", M_BLANK, NULL },
	{ "hat", M_KEEP, NULL },
	{ "hbox", M_KEEP, NULL },
	{ "hfill", M_BLANK, NULL },
	{ "hline", M_BLANK, NULL },
	{ "hphantom", M_BLANK, NULL },
	{ "href", M_DROP, NULL },
	{ "hspace", M_DROP, NULL },
	{ "huge", M_BLANK, NULL },
	{ "hyperref", M_DROP, NULL },
	{ "i", M_LETTER, "\xc4\xb1" },
	{ "iff", M_BLANK, NULL },
	{ "implies", M_BLANK, NULL },
	{ "in", M_BLANK, NULL },
	{ "include", M_DROP, NULL },
	{ "includegraphics", M_DROP, NULL },
	{ "indent", M_BLANK, NULL },
	{ "infty", M_WORD, "infinity" },
	{ "input", M_DROP, NULL },
	{ "iota", M_WORD, "iota" },
	{ "it", M_BLANK, NULL },
	{ "item", M_KEEP, NULL },
	{ "itshape", M_BLANK, NULL },
	{ "j", M_LETTER, "\xc8\xb7" },
	{ "kappa", M_WORD, "kappa" },
	{ "l", M_LETTER, "\xc5\x82" },
	{ "label", M_DROP, NULL },
	{ "lambda", M_WORD, "lambda" },
	{ "langle", M_BLANK, NULL },
	{ "large", M_BLANK, NULL },
	{ "lceil", M_BLANK, NULL },
	{ "ldots", M_BLANK, NULL },
	{ "le", M_BLANK, NULL },
	{ "left", M_BLANK, NULL },
	{ "leftarrow", M_BLANK, NULL },
	{ "leftrightarrow", M_BLANK, NULL },
	{ "leq", M_BLANK, NULL },
	{ "leqslant", M_BLANK, NULL },
	{ "lesssim", M_BLANK, NULL },
	{ "lfloor", M_BLANK, NULL },
	{ "limits", M_BLANK, NULL },
	{ "linebreak", M_BLANK, NULL },
	{ "ll", M_BLANK, NULL },
	{ "lnot", M_BLANK, NULL },
	{ "longleftrightarrow", M_BLANK, NULL },
	{ "longrightarrow", M_BLANK, NULL },
	{ "lowercase", M_KEEP, NULL },
	{ "lq", M_BLANK, NULL },
	{ "mapsto", M_BLANK, NULL },
	{ "mathbb", M_KEEP, NULL },
	{ "mathbbm", M_KEEP, NULL },
	{ "mathbf", M_KEEP, NULL },
	{ "mathcal", M_KEEP, NULL },
	{ "mathfrak", M_KEEP, NULL },
	{ "mathit", M_KEEP, NULL },
	{ "mathnormal", M_KEEP, NULL },
	{ "mathring", M_KEEP, NULL },
	{ "mathrm", M_KEEP, NULL },
	{ "mathscr", M_KEEP, NULL },
	{ "mathsf", M_KEEP, NULL },
	{ "mathstrut", M_BLANK, NULL },
	{ "mathtt", M_KEEP, NULL },
	{ "mbox", M_KEEP, NULL },
	{ "mdseries", M_BLANK, NULL },
	{ "medskip", M_BLANK, NULL },
	{ "mid", M_BLANK, NULL },
	{ "middle", M_BLANK, NULL },
	{ "mp", M_BLANK, NULL },
	{ "mu", M_WORD, "mu" },
	{ "ne", M_BLANK, NULL },
	{ "neg", M_BLANK, NULL },
	{ "negthinspace", M_BLANK, NULL },
	{ "neq", M_BLANK, NULL },
	{ "newline", M_BLANK, NULL },
	{ "newpage", M_BLANK, NULL },
	{ "ng", M_LETTER, "\xc5\x8b" },
	{ "ni", M_BLANK, NULL },
	{ "noalign", M_BLANK, NULL },
	{ "nobreak", M_BLANK, NULL },
	{ "nocite", M_DROP, NULL },
	{ "noindent", M_BLANK, NULL },
	{ "nolimits", M_BLANK, NULL },
	{ "nonumber", M_BLANK, NULL },
	{ "normalfont", M_BLANK, NULL },
	{ "normalsize", M_BLANK, NULL },
	{ "not", M_BLANK, NULL },
	{ "notag", M_BLANK, NULL },
	{ "notin", M_BLANK, NULL },
	{ "nu", M_WORD, "nu" },
	{ "o", M_LETTER, "\xc3\xb8" },
	{ "oe", M_LETTER, "\xc5\x93" },
	{ "of", M_BLANK, NULL },
	{ "omega", M_WORD, "omega" },
	{ "omicron", M_WORD, "omicron" },
	{ "operatorname", M_KEEP, NULL },
	{ "oplus", M_BLANK, NULL },
	{ "otimes", M_BLANK, NULL },
	{ "over", M_BLANK, NULL },
	{ "overbrace", M_KEEP, NULL },
	{ "overleftarrow", M_KEEP, NULL },
	{ "overline", M_KEEP, NULL },
	{ "overrightarrow", M_KEEP, NULL },
	{ "overset", M_KEEP, NULL },
	{ "pagebreak", M_BLANK, NULL },
	{ "pageref", M_DROP, NULL },
	{ "par", M_BLANK, NULL },
	{ "paragraph", M_KEEP, NULL },
	{ "parallel", M_BLANK, NULL },
	{ "perp", M_BLANK, NULL },
	{ "phantom", M_BLANK, NULL },
	{ "phi", M_WORD, "phi" },
	{ "pi", M_WORD, "pi" },
	{ "pm", M_BLANK, NULL },
	{ "pmb", M_KEEP, NULL },
	{ "prime", M_BLANK, NULL },
	{ "propto", M_BLANK, NULL },
	{ "protect", M_BLANK, NULL },
	{ "psi", M_WORD, "psi" },
	{ "qquad", M_BLANK, NULL },
	{ "quad", M_BLANK, NULL },
	{ "rangle", M_BLANK, NULL },
	{ "rceil", M_BLANK, NULL },
	{ "ref", M_DROP, NULL },
	{ "relax", M_BLANK, NULL },
	{ "rfloor", M_BLANK, NULL },
	{ "rho", M_WORD, "rho" },
	{ "right", M_BLANK, NULL },
	{ "rightarrow", M_BLANK, NULL },
	{ "rm", M_BLANK, NULL },
	{ "rmfamily", M_BLANK, NULL },
	{ "rq", M_BLANK, NULL },
	{ "sc", M_BLANK, NULL },
	{ "scriptscriptstyle", M_BLANK, NULL },
	{ "scriptsize", M_BLANK, NULL },
	{ "scriptstyle", M_BLANK, NULL },
	{ "scshape", M_BLANK, NULL },
	{ "section", M_KEEP, NULL },
	{ "setminus", M_BLANK, NULL },
	{ "sf", M_BLANK, NULL },
	{ "sffamily", M_BLANK, NULL },
	{ "sigma", M_WORD, "sigma" },
	{ "sim", M_BLANK, NULL },
	{ "simeq", M_BLANK, NULL },
	{ "sl", M_BLANK, NULL },
	{ "small", M_BLANK, NULL },
	{ "smallskip", M_BLANK, NULL },
	{ "sqrt", M_KEEP, NULL },
	{ "ss", M_LETTER, "\xc3\x9f" },
	{ "stackrel", M_KEEP, NULL },
	{ "star", M_BLANK, NULL },
	{ "strut", M_BLANK, NULL },
	{ "subsection", M_KEEP, NULL },
	{ "subset", M_BLANK, NULL },
	{ "subseteq", M_BLANK, NULL },
	{ "subsetneq", M_BLANK, NULL },
	{ "supset", M_BLANK, NULL },
	{ "supseteq", M_BLANK, NULL },
	{ "tau", M_WORD, "tau" },
	{ "tbinom", M_KEEP, NULL },
	{ "text", M_KEEP, NULL },
	{ "textbf", M_KEEP, NULL },
	{ "textcolor", M_KEEP, NULL },
	{ "textemdash", M_BLANK, NULL },
	{ "textendash", M_BLANK, NULL },
	{ "textit", M_KEEP, NULL },
	{ "textmd", M_KEEP, NULL },
	{ "textnormal", M_KEEP, NULL },
	{ "textquoteleft", M_BLANK, NULL },
	{ "textquoteright", M_BLANK, NULL },
	{ "textrm", M_KEEP, NULL },
	{ "textsc", M_KEEP, NULL },
	{ "textsf", M_KEEP, NULL },
	{ "textsl", M_KEEP, NULL },
	{ "textstyle", M_BLANK, NULL },
	{ "textsubscript", M_KEEP, NULL },
	{ "textsuperscript", M_KEEP, NULL },
	{ "texttt", M_KEEP, NULL },
	{ "textup", M_KEEP, NULL },
	{ "tfrac", M_KEEP, NULL },
	{ "th", M_LETTER, "\xc3\xbe" },
	{ "thanks", M_KEEP, NULL },
	{ "theta", M_WORD, "theta" },
	{ "thinspace", M_BLANK, NULL },
	{ "tilde", M_KEEP, NULL },
	{ "times", M_BLANK, NULL },
	{ "tiny", M_BLANK, NULL },
	{ "title", M_KEEP, NULL },
	{ "to", M_BLANK, NULL },
	{ "tt", M_BLANK, NULL },
	{ "ttfamily", M_BLANK, NULL },
	{ "underbrace", M_KEEP, NULL },
	{ "underline", M_KEEP, NULL },
	{ "underset", M_KEEP, NULL },
	{ "uparrow", M_BLANK, NULL },
	{ "uppercase", M_KEEP, NULL },
	{ "upshape", M_BLANK, NULL },
	{ "upsilon", M_WORD, "upsilon" },
	{ "url", M_DROP, NULL },
	{ "usepackage", M_DROP, NULL },
	{ "varepsilon", M_WORD, "epsilon" },
	{ "varkappa", M_WORD, "kappa" },
	{ "varnothing", M_BLANK, NULL },
	{ "varphi", M_WORD, "phi" },
	{ "varpi", M_WORD, "pi" },
	{ "varrho", M_WORD, "rho" },
	{ "varsigma", M_WORD, "sigma" },
	{ "vartheta", M_WORD, "theta" },
	{ "vdots", M_BLANK, NULL },
	{ "vec", M_KEEP, NULL },
	{ "vee", M_BLANK, NULL },
	{ "vert", M_BLANK, NULL },
	{ "vfill", M_BLANK, NULL },
	{ "vphantom", M_BLANK, NULL },
	{ "vspace", M_DROP, NULL },
	{ "wedge", M_BLANK, NULL },
	{ "widehat", M_KEEP, NULL },
	{ "widetilde", M_KEEP, NULL },
	{ "xi", M_WORD, "xi" },
	{ "zeta", M_WORD, "zeta" },
};

static int
macro_cmp(const void *key, const void *elem)
{
	const struct macro *m = elem;
	const char *name = ((const char *const *)key)[0];
	size_t n = (size_t)(((const char *const *)key)[1] - name);
	int c = strncmp(name, m->name, n);

	return c ? c : (m->name[n] ? -1 : 0);
}

static const struct macro *
macro_find(const char *name, size_t n)
{
	const char *key[2] = { name, name + n };

	return bsearch(key, macros, sizeof(macros) / sizeof(macros[0]), sizeof(macros[0]),
	    macro_cmp);
}

/* The combining mark of a TeX accent command, or 0. */
static utf8proc_int32_t
accent_mark(const char *name, size_t n)
{
	static const struct { char c; utf8proc_int32_t mark; } sym[] = {
		{ '\'', 0x301 }, { '`', 0x300 }, { '^', 0x302 }, { '"', 0x308 },
		{ '~', 0x303 }, { '=', 0x304 }, { '.', 0x307 },
		{ 'u', 0x306 }, { 'v', 0x30c }, { 'H', 0x30b }, { 'c', 0x327 },
		{ 'd', 0x323 }, { 'b', 0x331 }, { 'r', 0x30a }, { 'k', 0x328 },
	};
	size_t i;

	if (n != 1)
		return 0;
	for (i = 0; i < sizeof(sym) / sizeof(sym[0]); i++)
		if (sym[i].c == name[0])
			return sym[i].mark;
	return 0;
}

static size_t
skip_blanks(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Skip a balanced {...} group starting at s[i] == '{'; returns the index after it. */
static size_t
skip_group(const char *s, size_t i, size_t n)
{
	int depth = 0;

	for (; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			i++;
			continue;
		}
		if (s[i] == '{')
			depth++;
		else if (s[i] == '}' && --depth == 0)
			return i + 1;
	}
	return n;
}

/* Skip optional arguments [..] (not nested), after blanks. */
static size_t
skip_optargs(const char *s, size_t i, size_t n)
{
	size_t j;

	for (;;) {
		j = skip_blanks(s, i, n);
		if (j >= n || s[j] != '[')
			return i;
		while (j < n && s[j] != ']')
			j++;
		i = j < n ? j + 1 : n;
	}
}

/*
 * An accent's argument at s[i]: "e", "{e}", "{\i}", "\i", " e" (after a
 * letter accent). Stores the base letter and returns the index after the
 * argument, or returns i unchanged when there is no letter argument.
 */
static size_t
accent_arg(const char *s, size_t i, size_t n, int letter_accent, char *base)
{
	size_t j = i;
	int brace = 0;

	if (letter_accent)
		j = skip_blanks(s, j, n);
	if (j < n && s[j] == '{') {
		brace = 1;
		j = skip_blanks(s, j + 1, n);
	}
	if (j + 1 < n && s[j] == '\\' && (s[j + 1] == 'i' || s[j + 1] == 'j') &&
	    (j + 2 >= n || !is_alpha(s[j + 2]))) {
		*base = s[j + 1];
		j += 2;
	} else if (j < n && is_alpha(s[j])) {
		*base = s[j];
		j++;
	} else
		return i;
	if (brace) {
		j = skip_blanks(s, j, n);
		if (j >= n || s[j] != '}')
			return i;
		j++;
	}
	return j;
}

static int
put_accented(struct arxiv_buf *out, char base, utf8proc_int32_t mark)
{
	utf8proc_int32_t u[3] = { (unsigned char)base, mark, 0 };
	utf8proc_ssize_t k;

	k = utf8proc_normalize_utf32(u, 2, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	if (k < 1)
		return -1;
	if (put_cp(out, u[0]) < 0)
		return -1;
	return k > 1 ? put_cp(out, u[1]) : 0;
}

/* Characters the LaTeX step looks at ({ } $ ~ - \\); everything else is copied in runs. */
static const unsigned char latex_char[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static inline int
latex_special(char c)
{
	return latex_char[(unsigned char)c];
}

enum { G_PLAIN, G_KEEP };
#define LATEX_DEPTH 64

int
text_latex(const char *s, size_t n, struct arxiv_buf *out)
{
	unsigned char stack[LATEX_DEPTH];
	size_t depth = 0, overflow = 0, i = 0, j, k;
	int pending = 0;	/* the next '{' is the kept argument of a macro */
	const struct macro *m;
	utf8proc_int32_t mark;
	char c, base;

	arxiv_buf_clear(out);
	if (arxiv_buf_reserve(out, n + 16) < 0)
		return -1;
#define PUTS(str) do { if (arxiv_buf_append(out, (str), strlen(str)) < 0) return -1; } while (0)
#define PUTN(p, len) do { if (arxiv_buf_append(out, (p), (len)) < 0) return -1; } while (0)
#define PUTC(ch) do { if (arxiv_buf_putc(out, (ch)) < 0) return -1; } while (0)
	while (i < n) {
		c = s[i];
		if (c == '{') {
			if (depth < LATEX_DEPTH)
				stack[depth++] = pending ? G_KEEP : G_PLAIN;
			else
				overflow++;
			pending = 0;
			i++;
			continue;
		}
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			pending = 0;
		switch (c) {
		case '}':
			if (overflow)
				overflow--;
			else if (depth > 0 && stack[--depth] == G_KEEP)
				PUTC(' ');
			i++;
			continue;
		case '$':
		case '~':
			PUTC(' ');
			i++;
			continue;
		case '-':
			if (i + 1 < n && s[i + 1] == '-') {
				i += (i + 2 < n && s[i + 2] == '-') ? 3 : 2;
				PUTC(' ');
				continue;
			}
			PUTC(c);
			i++;
			continue;
		case '\\':
			break;
		default:
			for (j = i + 1; j < n && !latex_special(s[j]); j++)
				;
			PUTN(s + i, j - i);
			i = j;
			continue;
		}
		/* a control sequence */
		if (i + 1 >= n) {
			i++;
			continue;
		}
		j = i + 1;
		if (!is_alpha(s[j])) {
			/* control symbol */
			c = s[j];
			if ((mark = accent_mark(&c, 1)) != 0) {
				k = accent_arg(s, j + 1, n, 0, &base);
				if (k != j + 1) {
					if (put_accented(out, base, mark) < 0)
						return -1;
					i = k;
				} else
					i = j + 1;
				continue;
			}
			switch (c) {
			case '%': case '&': case '$': case '#': case '_': case '{': case '}':
				PUTC(c);
				break;
			case '-': case '/': case '@':
				break;
			default:	/* \\ \, \; \: \! \  \( \) \[ \] \| ... */
				PUTC(' ');
				break;
			}
			i = j + 1;
			continue;
		}
		/* control word */
		while (j < n && is_alpha(s[j]))
			j++;
		{
			const char *name = s + i + 1;
			size_t len = j - i - 1;

			if (j < n && s[j] == '*')
				j++;
			if ((mark = accent_mark(name, len)) != 0) {
				k = accent_arg(s, j, n, 1, &base);
				if (k != j) {
					if (put_accented(out, base, mark) < 0)
						return -1;
					i = k;
					continue;
				}
				/* a lone \c, \v ... without a letter: drop it */
				i = j;
				continue;
			}
			if ((m = macro_find(name, len)) != NULL) {
				switch (m->kind) {
				case M_WORD:
					PUTC(' ');
					PUTS(m->word);
					PUTC(' ');
					break;
				case M_LETTER:
					PUTS(m->word);
					/* TeX eats the blanks after a control word; an empty {} too */
					j = skip_blanks(s, j, n);
					if (j + 1 < n && s[j] == '{' && s[j + 1] == '}')
						j += 2;
					break;
				case M_DROP:
					k = skip_optargs(s, j, n);
					k = skip_blanks(s, k, n);
					if (k < n && s[k] == '{')
						j = skip_group(s, k, n);
					PUTC(' ');
					break;
				case M_KEEP:
					PUTC(' ');
					pending = 1;
					break;
				default:
					PUTC(' ');
					break;
				}
				i = j;
				continue;
			}
			/* unknown macro: its name as a word */
			PUTC(' ');
			PUTN(name, len);
			PUTC(' ');
			i = j;
		}
	}
#undef PUTS
#undef PUTN
#undef PUTC
	return 0;
}
