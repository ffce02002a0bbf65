/* test_domains.c - the category table: lookup rules, label order, load errors. */
#include <stdlib.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

static const char *
look(const struct arxiv_domains *d, const char *code)
{
	return arxiv_domains_lookup(d, code, strlen(code));
}

/* Write text to a temporary file; returns its path (static buffer). */
static const char *
table(const char *text)
{
	static char path[64];
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/test_domains.XXXXXX");
	close(mkstemp(path));
	fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* Load text as a table and return the error string ("" on success). */
static const char *
load_error(const char *text)
{
	static char buf[512];
	struct arxiv_domains *d;
	struct arxiv_error e;
	const char *path = table(text);

	buf[0] = '\0';
	if ((d = arxiv_domains_load(path, &e)) == NULL)
		snprintf(buf, sizeof(buf), "%ld: %s", e.line, e.text);
	arxiv_domains_free(d);
	unlink(path);
	return buf;
}

static void
test_default_table(void)
{
	static const char *const want[] = { "Computer Science", "Physics", "Mathematics",
		"Biology", "Economics", "Engineering", "Other" };
	static const char *const cases[][2] = {
		/* exact and archive */
		{ "cs", "Computer Science" }, { "cs.AI", "Computer Science" },
		{ "cs.LG", "Computer Science" }, { "math.AG", "Mathematics" },
		{ "stat.ML", "Mathematics" }, { "stat", "Mathematics" },
		{ "math-ph", "Mathematics" }, { "math.MP", "Mathematics" },
		{ "q-bio.NC", "Biology" }, { "q-bio", "Biology" },
		{ "q-fin.CP", "Economics" }, { "q-fin", "Economics" }, { "q-fin.ST", "Economics" },
		{ "econ.EM", "Economics" }, { "econ.GN", "Economics" },
		{ "eess.SP", "Engineering" }, { "eess.IV", "Engineering" },
		{ "physics.optics", "Physics" }, { "physics.soc-ph", "Physics" },
		{ "cond-mat.str-el", "Physics" }, { "cond-mat", "Physics" },
		{ "astro-ph", "Physics" }, { "astro-ph.GA", "Physics" }, { "gr-qc", "Physics" },
		{ "quant-ph", "Physics" }, { "nlin.CD", "Physics" },
		{ "hep-th", "Physics" }, { "hep-ph", "Physics" }, { "hep-ex", "Physics" },
		{ "hep-lat", "Physics" }, { "nucl-th", "Physics" }, { "nucl-ex", "Physics" },
		/* the '-' prefix rule */
		{ "hep-new", "Physics" }, { "hep-new.XY", "Physics" }, { "nucl-new", "Physics" },
		/* legacy archives */
		{ "chao-dyn", "Physics" }, { "patt-sol", "Physics" }, { "solv-int", "Physics" },
		{ "adap-org", "Physics" }, { "comp-gas", "Physics" }, { "supr-con", "Physics" },
		{ "mtrl-th", "Physics" }, { "chem-ph", "Physics" }, { "atom-ph", "Physics" },
		{ "acc-phys", "Physics" }, { "plasm-ph", "Physics" }, { "ao-sci", "Physics" },
		{ "alg-geom", "Mathematics" }, { "q-alg", "Mathematics" }, { "dg-ga", "Mathematics" },
		{ "funct-an", "Mathematics" }, { "bayes-an", "Physics" },
		{ "cmp-lg", "Computer Science" },
		/* unknown: never by a shorter prefix such as "q" */
		{ "q-xyz", "Other" }, { "q-xyz.AB", "Other" }, { "q", "Other" }, { "", "Other" },
		{ "xyz.AB", "Other" }, { "CS.AI", "Other" }, { "csx", "Other" }, { ".AI", "Other" },
		{ "-", "Other" }, { "cs-", "Computer Science" } /* "cs-" -> "cs" by rule 3 */,
	};
	struct arxiv_domains *d;
	struct arxiv_error e;
	size_t i;

	d = arxiv_domains_load("data/domains.tsv", &e);
	CHECK(d != NULL, "data/domains.tsv loads (%s)", d ? "ok" : e.text);
	if (d == NULL)
		return;
	CHECK(arxiv_domains_nlabels(d) == 7, "7 labels (got %zu)", arxiv_domains_nlabels(d));
	for (i = 0; i < 7; i++)
		CHECK_STR(arxiv_domains_label(d, i), want[i], "label %zu is %s", i, want[i]);
	CHECK(arxiv_domains_label(d, 7) == NULL, "label 7 out of range is NULL");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_STR(look(d, cases[i][0]), cases[i][1], "%s -> %s", cases[i][0], cases[i][1]);
	/* n bounds the code: "cs.AI" read as its first 2 bytes, "q-fin.CP" as "q-f" */
	CHECK_STR(arxiv_domains_lookup(d, "cs.AI", 2), "Computer Science", "lookup honours n");
	CHECK_STR(arxiv_domains_lookup(d, "q-fin.CP", 3), "Other", "\"q-f\" is unknown");
	CHECK_STR(arxiv_domains_lookup(d, NULL, 0), "Other", "NULL code -> default");
	/* the label pointer is the table's own: equal labels are equal pointers */
	CHECK(look(d, "hep-th") == arxiv_domains_label(d, 1), "labels are borrowed from d");
	arxiv_domains_free(d);
}

static void
test_archives_table(void)
{
	static const char *const cases[][2] = {
		{ "cs.AI", "cs" }, { "cmp-lg", "cs" }, { "math.AG", "math" }, { "alg-geom", "math" },
		{ "math-ph", "math-ph" }, { "hep-th", "hep-th" }, { "hep-ph", "hep-ph" },
		{ "cond-mat.str-el", "cond-mat" }, { "supr-con", "cond-mat" },
		{ "astro-ph.GA", "astro-ph" }, { "q-fin.CP", "q-fin" }, { "q-bio.NC", "q-bio" },
		{ "chao-dyn", "nlin" }, { "bayes-an", "physics" }, { "stat.ML", "stat" },
		{ "physics.optics", "physics" }, { "chem-ph", "physics" }, { "eess.SP", "eess" },
		{ "hep-new", "Other" }, { "q-xyz", "Other" },
	};
	struct arxiv_domains *d;
	struct arxiv_error e;
	size_t i;

	d = arxiv_domains_load("data/archives.tsv", &e);
	CHECK(d != NULL, "data/archives.tsv loads (%s)", d ? "ok" : e.text);
	if (d == NULL)
		return;
	CHECK(arxiv_domains_nlabels(d) == 21, "21 labels: 20 archives + Other (got %zu)",
	    arxiv_domains_nlabels(d));
	CHECK_STR(arxiv_domains_label(d, 0), "cs", "first label cs");
	CHECK_STR(arxiv_domains_label(d, arxiv_domains_nlabels(d) - 1), "Other", "Other last");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_STR(look(d, cases[i][0]), cases[i][1], "archives: %s -> %s", cases[i][0],
		    cases[i][1]);
	arxiv_domains_free(d);
}

static void
test_custom_tables(void)
{
	struct arxiv_domains *d;
	struct arxiv_error e;
	const char *path;

	/* no "*" line: "Other" is the default and the last label */
	path = table("# comment\n\nb\tBee\na\tAy\r\nc\tBee  \n");
	d = arxiv_domains_load(path, &e);
	CHECK(d != NULL, "table without default loads");
	if (d != NULL) {
		CHECK(arxiv_domains_nlabels(d) == 3, "Bee, Ay, Other");
		CHECK_STR(arxiv_domains_label(d, 0), "Bee", "first seen first");
		CHECK_STR(arxiv_domains_label(d, 1), "Ay", "CRLF and trailing blanks trimmed");
		CHECK_STR(arxiv_domains_label(d, 2), "Other", "implicit default last");
		CHECK_STR(look(d, "c"), "Bee", "c -> Bee");
		CHECK_STR(look(d, "zz"), "Other", "unknown -> Other");
	}
	arxiv_domains_free(d);
	unlink(path);

	/* the default label moves to the end even when listed before */
	path = table("x\tMisc\n*\tMisc\ny\tWhy\nq\tQueue\n");
	d = arxiv_domains_load(path, &e);
	CHECK(d != NULL && arxiv_domains_nlabels(d) == 3 &&
	    strcmp(arxiv_domains_label(d, 0), "Why") == 0 &&
	    strcmp(arxiv_domains_label(d, 2), "Misc") == 0, "default label last: Why, Queue, Misc");
	/* a table that does list "q" gets the '-' rule for q-fin: data, not code */
	CHECK(d != NULL && strcmp(look(d, "q-fin.CP"), "Queue") == 0, "user table with q: q-fin -> q");
	CHECK(d != NULL && strcmp(look(d, "unknown"), "Misc") == 0, "unknown -> default Misc");
	arxiv_domains_free(d);
	unlink(path);

	path = table("*\tEverything\n");
	d = arxiv_domains_load(path, &e);
	CHECK(d != NULL && arxiv_domains_nlabels(d) == 1 &&
	    strcmp(look(d, "cs.AI"), "Everything") == 0, "a default-only table");
	arxiv_domains_free(d);
	unlink(path);
}

static void
test_load_errors(void)
{
	struct arxiv_error e;

	CHECK(arxiv_domains_load("/nonexistent/domains.tsv", &e) == NULL &&
	    strcmp(e.text, "No such file or directory") == 0 &&
	    strcmp(e.source, "/nonexistent/domains.tsv") == 0, "missing file: %s", e.text);
	CHECK_STR(load_error("cs\tCS\nmath Mathematics\n"), "2: expected code<TAB>label",
	    "no TAB");
	CHECK_STR(load_error("cs\t  \n"), "1: empty label", "empty label");
	CHECK_STR(load_error("\tCS\n"), "1: leading white space before category code",
	    "empty code");
	CHECK_STR(load_error("cs\tCS\tX\n"), "1: more than one TAB in label", "two TABs");
	CHECK_STR(load_error("c s\tCS\n"), "1: space or control character in category code",
	    "space in code");
	CHECK_STR(load_error("cs\tA\nmath\tB\ncs\tC\n"), "3: duplicate category code \"cs\"",
	    "duplicate code");
	CHECK_STR(load_error("*\tA\n*\tB\n"), "2: second default line \"*\"", "two defaults");
	CHECK_STR(load_error("# nothing\n\n"), "0: no entries in table", "empty table");
	CHECK_STR(load_error("cs\tC\xff\n"), "1: invalid UTF-8", "bad UTF-8 label");
	CHECK_STR(load_error(" cs\tCS\n"), "1: leading white space before category code",
	    "leading blank");
	CHECK_STR(load_error("cs\tCS\n"), "", "a one-line table loads");
}

int
main(void)
{
	test_default_table();
	test_archives_table();
	test_custom_tables();
	test_load_errors();
	return tap_done();
}
