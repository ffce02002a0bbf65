/*
 * arxiv-report - render arxiv-stats output (and optionally arxiv-eval's
 * report) as a static HTML page with SVG plots drawn by gnuplot: no
 * JavaScript, no network, readable on a phone, in the web page's dark theme.
 * The figures are drawn in report/plot.c (see report/report.h).
 */
#include <dirent.h>
#include <getopt.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <jansson.h>

#include "report/report.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif


enum { OPT_GNUPLOT = 256, OPT_TITLE, OPT_VERBOSE };

static const struct option longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "gnuplot", required_argument, NULL, OPT_GNUPLOT },
	{ "title", required_argument, NULL, OPT_TITLE },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "output", "dir", "write dir/index.html and its SVG plots (default: report)", 0 },
	{ "gnuplot", "path", "the gnuplot program (default: gnuplot)", 0 },
	{ "title", "text", "the page title (default: arxiv corpus report)", 0 },
	{ "verbose", NULL, "name each file written on stderr", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog P = {
	"arxiv-report", "stats.json [report.json]",
	"A static HTML report with gnuplot SVG plots of arxiv-stats (and arxiv-eval) output.",
	"hVo:", longopts, help, NULL
};

static void
stat_row(struct arxiv_buf *h, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
stat_row(struct arxiv_buf *h, const char *what, const char *fmt, ...)
{
	char v[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	arxiv_buf_printf(h, "<tr><th>");
	html_esc(h, what);
	arxiv_buf_printf(h, "</th><td>");
	html_esc(h, v);
	arxiv_buf_printf(h, "</td></tr>\n");
}

/* gnuplot's data file: a tab-separated label (tabs and newlines dropped) */
static void
dat_label(struct arxiv_buf *d, const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x20 && *s != '"')
			arxiv_buf_putc(d, *s);
}

static int
render_stats(struct ctx *c, json_t *st, struct arxiv_buf *h)
{
	json_t *len = json_object_get(st, "length"), *tok = json_object_get(len, "tokens");
	json_t *terms = json_object_get(json_object_get(st, "terms"), "top"), *v, *l;
	double n = num(st, "records");
	const char *key;
	size_t i;
	int rc = 0;

	arxiv_buf_printf(h, "<section><h2>Corpus</h2><div class=\"card\"><table class=\"kv\">\n");
	stat_row(h, "papers", "%.0f", n);
	stat_row(h, "fields", "%zu", json_array_size(json_object_get(st, "fields")));
	stat_row(h, "primary categories", "%zu",
	    json_array_size(json_object_get(st, "categories")));
	stat_row(h, "duplicate ids / texts", "%.0f / %.0f%s",
	    num(json_object_get(st, "duplicates"), "ids"),
	    num(json_object_get(st, "duplicates"), "texts"),
	    json_is_false(json_object_get(json_object_get(st, "duplicates"), "exact")) ?
	    " (estimated)" : "");
	stat_row(h, "with LaTeX math", "%.1f%%", 100 * num(json_object_get(st, "latex_math"),
	    "share"));
	stat_row(h, "with non-ASCII text", "%.1f%%", 100 * num(json_object_get(st, "non_ascii"),
	    "share"));
	stat_row(h, "characters: median / mean / p99", "%.0f / %.0f / %.0f",
	    num(json_object_get(len, "chars"), "p50"), num(json_object_get(len, "chars"), "mean"),
	    num(json_object_get(len, "chars"), "p99"));
	stat_row(h, "words: median / mean / p99", "%.0f / %.0f / %.0f",
	    num(json_object_get(len, "words"), "p50"), num(json_object_get(len, "words"), "mean"),
	    num(json_object_get(len, "words"), "p99"));
	if (json_is_object(tok)) {
		stat_row(h, "WordPiece tokens: median / mean / p99", "%.0f / %.0f / %.0f",
		    num(tok, "p50"), num(tok, "mean"), num(tok, "p99"));
		stat_row(h, "truncated at 256 / 512 tokens", "%.1f%% / %.2f%%",
		    100 * num(tok, "share_truncated_256"), 100 * num(tok, "share_truncated_512"));
	}
	arxiv_buf_printf(h, "</table></div></section>\n<section><h2>Fields and categories</h2>\n");
	if ((rc = bars(c, "fields", json_object_get(st, "fields"), "name", "papers", 64,
	    "Papers per field (primary category)", "papers", C_ACCENT, 1)) < 0)
		return -1;
	if (rc == 0)
		figure(h, "fields", "Papers per field (primary category)", NULL);
	if ((rc = bars(c, "categories", json_object_get(st, "categories"), "name", "papers", 30,
	    "The 30 largest primary categories", "papers", C_WIN, 1)) < 0)
		return -1;
	if (rc == 0)
		figure(h, "categories", "The 30 largest primary categories", NULL);
	if ((rc = heatmap(c, "crosslist", json_object_get(json_object_get(st, "cross_list"), "fields"),
	    json_object_get(json_object_get(st, "cross_list"), "matrix"),
	    "Cross-lists between fields", "also listed in", "primary field")) < 0)
		return -1;
	if (rc == 0)
		figure(h, "crosslist", "Cross-lists between fields",
		    "Row: the primary field; column: another field the paper is listed in; "
		    "the diagonal counts papers listed in their primary field only.");
	arxiv_buf_printf(h, "</section>\n<section><h2>Time</h2>\n");
	if ((rc = bars(c, "years", json_object_get(st, "years"), "year", "papers", 200,
	    "Papers per year (from the arXiv id)", "papers", C_ACCENT, 1)) < 0)
		return -1;
	if (rc == 0)
		figure(h, "years", "Papers per year (from the arXiv id)", NULL);
	arxiv_buf_printf(h, "</section>\n<section><h2>Length</h2>\n");
	if ((rc = histogram(c, "chars", json_object_get(len, "chars"),
	    "Title and abstract length", "characters", 0)) < 0)
		return -1;
	if (rc == 0)
		figure(h, "chars", "Title and abstract length in characters", NULL);
	if ((rc = histogram(c, "words", json_object_get(len, "words"), "Words per paper", "words",
	    0)) < 0)
		return -1;
	if (rc == 0)
		figure(h, "words", "Words per paper", NULL);
	if (json_is_object(tok)) {
		if ((rc = histogram(c, "tokens", tok, "WordPiece tokens per paper", "tokens", 1)) < 0)
			return -1;
		if (rc == 0)
			figure(h, "tokens", "WordPiece tokens per paper",
			    "Dashed lines: sequence lengths 256 and 512; longer texts are truncated.");
	}
	arxiv_buf_printf(h, "</section>\n<section><h2>Distinctive terms</h2>\n<p class=\"sub\">"
	    "Log-odds ratio of each field against the others with an informative Dirichlet prior "
	    "(Monroe et al. 2008); larger z: more typical of the field.</p><div class=\"terms\">\n");
	json_object_foreach(terms, key, v) {
		arxiv_buf_printf(h, "<div class=\"card\"><h3>");
		html_esc(h, key);
		arxiv_buf_printf(h, "</h3><ol>");
		json_array_foreach(v, i, l) {
			json_t *t = json_object_get(l, "term");

			arxiv_buf_printf(h, "<li><span>");
			html_esc(h, json_is_string(t) ? json_string_value(t) : "");
			arxiv_buf_printf(h, "</span><span class=\"z\">%.1f</span></li>", num(l, "z"));
		}
		arxiv_buf_printf(h, "</ol></div>\n");
	}
	arxiv_buf_printf(h, "</div></section>\n");
	return 0;
}

/* A reliability diagram from bins, when the evaluation report has them:
 * "reliability" or "calibration": [{"confidence"|"mean_confidence",
 * "accuracy", "count"|"n"}, ...]. 1 when absent. */
static int
reliability(struct ctx *c, json_t *ev)
{
	json_t *b = json_object_get(ev, "reliability"), *v;
	struct arxiv_buf d = { 0 }, s = { 0 };
	size_t i, k = 0;
	int rc;

	if (!json_is_array(b))
		b = json_object_get(ev, "calibration");
	if (json_is_object(b))
		b = json_object_get(b, "bins");
	if (!json_is_array(b))
		return 1;
	json_array_foreach(b, i, v) {
		double conf = json_is_number(json_object_get(v, "confidence")) ?
		    num(v, "confidence") : num(v, "mean_confidence");
		double cnt = json_is_number(json_object_get(v, "count")) ? num(v, "count") : num(v, "n");

		if (cnt <= 0)
			continue;
		arxiv_buf_printf(&d, "%.6f\t%.6f\t%.0f\n", conf, num(v, "accuracy"), cnt);
		k++;
	}
	if (k == 0) {
		arxiv_buf_free(&d);
		return 1;
	}
	preamble(&s, c, "reliability", 560, 520);
	arxiv_buf_printf(&s, "set xlabel 'confidence'\n"
	    "set ylabel 'accuracy'\nset xrange [0:1]\nset yrange [0:1]\nset size ratio 1\n"
	    "set key top left\nplot x title 'perfect calibration' lc rgb '%s' dt 2, "
	    "'%s/reliability.dat' using 1:2 with linespoints pt 7 ps 0.8 lw 2 lc rgb '%s' "
	    "title 'model'\n", C_MUTED, c->tmp, C_ACCENT);
	rc = data(c, "reliability", &d) < 0 ? -1 : plot(c, "reliability", &s);
	arxiv_buf_free(&d);
	arxiv_buf_free(&s);
	return rc;
}

static int
render_eval(struct ctx *c, json_t *ev, struct arxiv_buf *h)
{
	static const char *const prf[3] = { "precision", "recall", "F1" };
	static const char *const prf_c[3] = { C_ACCENT, C_WIN, C_AMBER };
	static const char *const sub[3] = { "accuracy", "macro F1", "field-set accuracy" };
	json_t *pc = json_object_get(ev, "per_class"), *cm = json_object_get(ev, "confusion_matrix");
	struct arxiv_buf d = { 0 };
	const char *key;
	json_t *v;
	int rc;

	arxiv_buf_printf(h, "<section><h2>Model evaluation</h2><div class=\"card\"><table class=\"kv\">\n");
	stat_row(h, "test papers", "%.0f", num(ev, "n"));
	stat_row(h, "accuracy", "%.4f", num(ev, "accuracy"));
	stat_row(h, "macro F1 / weighted F1", "%.4f / %.4f", num(ev, "macro_f1"),
	    num(ev, "weighted_f1"));
	stat_row(h, "field-set accuracy", "%.4f", num(ev, "field_set_accuracy"));
	if (json_is_number(json_object_get(ev, "ece")))
		stat_row(h, "expected calibration error (15 bins)", "%.4f", num(ev, "ece"));
	arxiv_buf_printf(h, "</table></div>\n");
	if ((rc = heatmap(c, "confusion", json_object_get(cm, "labels"),
	    json_object_get(cm, "matrix"), "Confusion matrix", "predicted", "true")) < 0)
		return -1;
	if (rc == 0)
		figure(h, "confusion", "Confusion matrix",
		    "Colour: share of the true label's papers (recall on the diagonal).");
	json_object_foreach(pc, key, v) {
		dat_label(&d, key);
		arxiv_buf_printf(&d, "\t%.6f\t%.6f\t%.6f\n", num(v, "precision"), num(v, "recall"),
		    num(v, "f1"));
	}
	if (d.len) {
		if (clustered(c, "perclass", &d, prf, prf_c, 3, "Per-class precision, recall, F1",
		    1) < 0)
			goto fail;
		figure(h, "perclass", "Per-class precision, recall and F1", NULL);
	}
	arxiv_buf_clear(&d);
	if (json_is_object(json_object_get(ev, "single_field"))) {
		json_t *g[3] = { ev, json_object_get(ev, "single_field"),
		    json_object_get(ev, "cross_listed") };
		const char *gn[3] = { "all", "single field", "cross-listed" };

		for (int i = 0; i < 3; i++)
			arxiv_buf_printf(&d, "%s (n=%.0f)\t%.6f\t%.6f\t%.6f\n", gn[i], num(g[i], "n"),
			    num(g[i], "accuracy"), num(g[i], "macro_f1"),
			    num(g[i], "field_set_accuracy"));
		if (clustered(c, "subsets", &d, sub, prf_c, 3, "Single-field vs cross-listed papers",
		    0) < 0)
			goto fail;
		figure(h, "subsets", "Single-field vs cross-listed papers",
		    "Field-set accuracy: the prediction is any of the paper's fields.");
	}
	arxiv_buf_free(&d);
	if ((rc = reliability(c, ev)) < 0)
		return -1;
	if (rc == 0)
		figure(h, "reliability", "Reliability diagram", NULL);
	else
		arxiv_buf_printf(h, "<p class=\"note\">No reliability diagram: the evaluation report "
		    "has no calibration bins (arxiv-eval writes only the expected calibration error, "
		    "\"ece\", not the per-bin confidence and accuracy).</p>\n");
	arxiv_buf_printf(h, "</section>\n");
	return 0;
fail:
	arxiv_buf_free(&d);
	return -1;
}

static const char css[] =
    ":root{--bg:" C_BG ";--card:" C_CARD ";--line:" C_LINE ";--text:" C_TEXT ";--muted:"
    C_MUTED ";--accent:" C_ACCENT ";--win:" C_WIN "}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"
    "'Segoe UI',Roboto,sans-serif}\n"
    "main{max-width:960px;margin:0 auto;padding:1.5rem 1rem 3rem}\n"
    "h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .75rem;"
    "border-bottom:1px solid var(--line);padding-bottom:.35rem}h3{font-size:1rem;margin:0 0 .5rem;"
    "color:var(--win)}\n"
    ".sub,.note,figcaption{color:var(--muted);font-size:.9rem}\n"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1rem}\n"
    "table.kv{border-collapse:collapse;width:100%}table.kv th{text-align:left;font-weight:400;"
    "color:var(--muted);padding:.3rem .75rem .3rem 0}table.kv td{text-align:right;"
    "font-variant-numeric:tabular-nums;padding:.3rem 0}table.kv tr+tr{border-top:1px solid "
    "var(--line)}\n"
    "figure h3{color:var(--text);font-weight:600;margin:.25rem .5rem .5rem}\n"
    "figure{margin:1rem 0;background:var(--card);border:1px solid var(--line);border-radius:12px;"
    "padding:.5rem;overflow-x:auto}figure img{display:block;width:100%;min-width:600px;height:auto}figcaption{padding:.25rem .5rem}\n"
    "@media (max-width:600px){main{padding:1rem .6rem 2rem}table.kv th{font-size:.9rem}}\n"
    ".terms{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:.75rem}\n"
    ".terms ol{margin:0;padding-left:1.4rem}.terms li span.z{float:right;color:var(--muted);"
    "font-variant-numeric:tabular-nums}\n"
    "nav a{color:var(--accent);margin-right:1rem}footer{margin-top:2rem;color:var(--muted);"
    "font-size:.8rem}\n";

/* Write dir/name atomically (arxiv_atomic_write: a temporary beside it, fsync, rename). */
static int
write_atomic(const char *dir, const char *name, const struct arxiv_buf *b)
{
	struct arxiv_error e;
	char to[4096];

	snprintf(to, sizeof(to), "%s/%s", dir, name);
	if (arxiv_atomic_write(to, NULL, b->data, b->len, &e) < 0) {
		prog_warnerr(&e);
		return -1;
	}
	return 0;
}

static json_t *
load(const char *path, const char *what)
{
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);

	if (o == NULL) {
		if (je.line <= 0)
			warnx("%s: %s", path, je.text);
		else
			warnx("%s:%d: invalid JSON: %s", path, je.line, je.text);
		return NULL;
	}
	if (strcmp(what, "stats") == 0 && (!json_is_object(o) ||
	    !json_is_string(json_object_get(o, "format")) ||
	    strcmp(json_string_value(json_object_get(o, "format")), "arxiv-stats") != 0)) {
		warnx("%s: not arxiv-stats output (no \"format\":\"arxiv-stats\")", path);
		json_decref(o);
		return NULL;
	}
	if (strcmp(what, "eval") == 0 && (!json_is_object(o) ||
	    !json_is_object(json_object_get(o, "confusion_matrix")))) {
		warnx("%s: not an arxiv-eval report (no \"confusion_matrix\")", path);
		json_decref(o);
		return NULL;
	}
	return o;
}

static void
rm_tmp(const char *tmp)
{
	char cmdpath[8192];
	DIR *d;
	struct dirent *e;

	if ((d = opendir(tmp)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(cmdpath, sizeof(cmdpath), "%s/%s", tmp, e->d_name);
		unlink(cmdpath);
	}
	closedir(d);
	rmdir(tmp);
}

int
main(int argc, char *argv[])
{
	struct ctx c = { "report", "gnuplot", NULL, 0, 0 };
	const char *title = "arxiv corpus report";
	struct arxiv_buf h = { 0 };
	char tmp[4096];
	json_t *st = NULL, *ev = NULL;
	struct stat sb;
	int ch, status = 1;

	while ((ch = prog_getopt(&P, argc, argv)) != -1) {
		switch (ch) {
		case 'o':
			c.dir = optarg;
			break;
		case OPT_GNUPLOT:
			c.gnuplot = optarg;
			break;
		case OPT_TITLE:
			title = optarg;
			break;
		case OPT_VERBOSE:
			c.verbose = 1;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2) {
		prog_usage(&P, stderr);
		return 2;
	}
	if ((st = load(argv[0], "stats")) == NULL)
		return 1;
	if (argc == 2 && (ev = load(argv[1], "eval")) == NULL)
		goto out;
	if (lstat(c.dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			warnx("%s: not a directory%s", c.dir, S_ISLNK(sb.st_mode) ?
			    " (a symbolic link: give its target)" : "");
			goto out;
		}
	} else if (mkdir(c.dir, 0755) < 0) {
		warn("%s", c.dir);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s/.tmp-report-XXXXXX", c.dir);
	if (mkdtemp(tmp) == NULL) {
		warn("%s", tmp);
		goto out;
	}
	c.tmp = tmp;

	arxiv_buf_printf(&h, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<meta name=\"color-scheme\" content=\"dark\">\n<title>");
	html_esc(&h, title);
	arxiv_buf_printf(&h, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<h1>", css);
	html_esc(&h, title);
	arxiv_buf_printf(&h, "</h1>\n<p class=\"sub\">%.0f papers. Made by arxiv-report %s from "
	    "arxiv-stats output%s.</p>\n<nav><a href=\"../\">classifier</a></nav>\n",
	    num(st, "records"), VERSION, ev ? " and an arxiv-eval report" : "");
	if (render_stats(&c, st, &h) < 0)
		goto out_tmp;
	if (ev != NULL && render_eval(&c, ev, &h) < 0)
		goto out_tmp;
	arxiv_buf_printf(&h, "<footer>Static page: SVG plots by gnuplot, no JavaScript.</footer>\n"
	    "</main>\n</body>\n</html>\n");
	if (h.data == NULL || write_atomic(c.dir, "index.html", &h) < 0)
		goto out_tmp;
	if (c.verbose)
		warnx("wrote %s/index.html and %d plots", c.dir, c.nplots);
	status = 0;
out_tmp:
	rm_tmp(tmp);
out:
	arxiv_buf_free(&h);
	json_decref(st);
	json_decref(ev);
	if (prog_fshut() != 0)
		status = 1;
	return status;
}
