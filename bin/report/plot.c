/*
 * plot.c - arxiv-report's figures (see report.h): gnuplot scripts in the page's
 * dark theme, run in the temporary directory with the SVG moved into the
 * report, and the bar, heatmap, histogram and clustered-bar plots made of them.
 */
#include <fcntl.h>
#include <math.h>
#include <sys/wait.h>

#include "report.h"

void
html_esc(struct arxiv_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': arxiv_buf_printf(b, "&lt;"); break;
		case '>': arxiv_buf_printf(b, "&gt;"); break;
		case '&': arxiv_buf_printf(b, "&amp;"); break;
		case '"': arxiv_buf_printf(b, "&quot;"); break;
		default: arxiv_buf_putc(b, *s);
		}
	}
}

/* a gnuplot single-quoted string: '' is a quote, control bytes dropped */
static void
gp_str(struct arxiv_buf *b, const char *s)
{
	arxiv_buf_putc(b, '\'');
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20)
			continue;
		if (*s == '\'')
			arxiv_buf_putc(b, '\'');
		arxiv_buf_putc(b, *s);
	}
	arxiv_buf_putc(b, '\'');
}

static int
write_file(const char *path, const struct arxiv_buf *b)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		warn("%s", path);
		return -1;
	}
	if (b->len && fwrite(b->data, 1, b->len, fp) != b->len) {
		warn("%s", path);
		fclose(fp);
		return -1;
	}
	if (fclose(fp) != 0) {
		warn("%s", path);
		return -1;
	}
	return 0;
}

void
preamble(struct arxiv_buf *s, const struct ctx *c, const char *name, int w, int h)
{
	arxiv_buf_printf(s,
	    "set terminal svg size %d,%d dynamic noenhanced font 'sans,13' background rgb '%s'\n"
	    "set output '%s/%s.svg'\n"
	    "set border 3 lc rgb '%s'\n"
	    "set tics nomirror textcolor rgb '%s'\n"
	    "set key textcolor rgb '%s' noautotitle\n"
	    "set xlabel textcolor rgb '%s'\nset ylabel textcolor rgb '%s'\n"
	    "set title textcolor rgb '%s'\n"
	    "set grid ytics lc rgb '%s' lw 1\n"
	    "set style fill solid 0.85 noborder\n"
	    "set datafile separator '\\t'\n",
	    w, h, C_CARD, c->tmp, name, C_MUTED, C_TEXT, C_TEXT, C_MUTED, C_MUTED, C_TEXT, C_LINE);
}

/* Run gnuplot on the script, then move tmp/name.svg to dir/name.svg. */
int
plot(struct ctx *c, const char *name, const struct arxiv_buf *script)
{
	char sp[4096], log[4096], from[4096], to[4096];
	pid_t pid;
	int st, fd;

	snprintf(sp, sizeof(sp), "%s/%s.gp", c->tmp, name);
	snprintf(log, sizeof(log), "%s/%s.log", c->tmp, name);
	if (write_file(sp, script) < 0)
		return -1;
	fflush(stdout);
	if ((pid = fork()) < 0) {
		warn("fork");
		return -1;
	}
	if (pid == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execlp(c->gnuplot, c->gnuplot, sp, (char *)NULL);
		fprintf(stderr, "exec: %s\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0) {
		warn("waitpid");
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		FILE *fp = fopen(log, "r");
		char line[512];

		if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
			warnx("%s: cannot run it; install gnuplot-nox or give --gnuplot", c->gnuplot);
		else
			warnx("%s: gnuplot failed on %s.svg:", c->gnuplot, name);
		while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
			fprintf(stderr, "  %s", line);
		if (fp)
			fclose(fp);
		return -1;
	}
	snprintf(from, sizeof(from), "%s/%s.svg", c->tmp, name);
	snprintf(to, sizeof(to), "%s/%s.svg", c->dir, name);
	if (rename(from, to) < 0) {
		warn("%s", to);
		return -1;
	}
	if (c->verbose)
		warnx("wrote %s", to);
	c->nplots++;
	return 0;
}

int
data(struct ctx *c, const char *name, const struct arxiv_buf *b)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/%s.dat", c->tmp, name);
	return write_file(p, b);
}

double
num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : 0;
}

void
figure(struct arxiv_buf *h, const char *name, const char *alt, const char *caption)
{
	arxiv_buf_printf(h, "<figure><h3>");
	html_esc(h, alt);
	arxiv_buf_printf(h, "</h3><img src=\"%s.svg\" alt=\"", name);
	html_esc(h, alt);
	arxiv_buf_printf(h, "\" loading=\"lazy\">");
	if (caption != NULL) {
		arxiv_buf_printf(h, "<figcaption>");
		html_esc(h, caption);
		arxiv_buf_printf(h, "</figcaption>");
	}
	arxiv_buf_printf(h, "</figure>\n");
}

/* Vertical bars of label/value pairs. */
int
bars(struct ctx *c, const char *name, json_t *arr, const char *lk, const char *vk, size_t max,
    const char *title, const char *ylabel, const char *color, int rotate)
{
	struct arxiv_buf d = { 0 }, s = { 0 };
	json_t *v;
	size_t i;
	int rc;

	preamble(&s, c, name, 900, 420);
	size_t nb = json_array_size(arr) < max ? json_array_size(arr) : max;
	size_t step = (nb + 23) / 24;	/* at most 24 labels */

	arxiv_buf_printf(&s, "set xtics (");
	json_array_foreach(arr, i, v) {
		json_t *l = json_object_get(v, lk);

		if (i >= max)
			break;
		arxiv_buf_printf(&d, "%zu\t%.0f\n", i, num(v, vk));
		if (i % step)
			continue;
		if (i)
			arxiv_buf_printf(&s, ", ");
		if (json_is_string(l))
			gp_str(&s, json_string_value(l));
		else
			arxiv_buf_printf(&s, "'%g'", json_number_value(l));
		arxiv_buf_printf(&s, " %zu", i);
	}
	arxiv_buf_printf(&s, ")%s\n", rotate ? " rotate by -40" : "");
	(void)title;	/* the page shows it above the figure */
	arxiv_buf_printf(&s, "set ylabel ");
	gp_str(&s, ylabel);
	arxiv_buf_printf(&s, "\nset yrange [0:*]\nset xrange [-0.6:%zu.6]\nset boxwidth 0.75\n"
	    "plot '%s/%s.dat' using 1:2 with boxes lc rgb '%s'\n",
	    (i < max ? i : max) ? (i < max ? i : max) - 1 : 0, c->tmp, name, color);
	rc = d.len ? (data(c, name, &d) < 0 ? -1 : plot(c, name, &s)) : 1;
	arxiv_buf_free(&d);
	arxiv_buf_free(&s);
	return rc;
}

/* A labelled square heatmap: colour = value / row sum (or given shares), text = count. */
int
heatmap(struct ctx *c, const char *name, json_t *labels, json_t *matrix, const char *title,
    const char *xlabel, const char *ylabel)
{
	struct arxiv_buf d = { 0 }, s = { 0 };
	size_t n = json_array_size(labels), i, j;
	json_t *l;
	int rc, sz = 220 + 80 * (int)n;

	if (n == 0 || json_array_size(matrix) != n)
		return 1;
	for (i = 0; i < n; i++) {
		json_t *row = json_array_get(matrix, i);
		double sum = 0;

		for (j = 0; j < n; j++)
			sum += json_number_value(json_array_get(row, j));
		for (j = 0; j < n; j++) {
			double v = json_number_value(json_array_get(row, j));

			arxiv_buf_printf(&d, "%zu\t%zu\t%.6f\t%.0f\n", j, i, sum > 0 ? v / sum : 0, v);
		}
	}
	preamble(&s, c, name, sz + 160, sz);
	arxiv_buf_printf(&s, "set grid noytics\nset border 0\nset tics scale 0\n"
	    "set palette defined (0 '%s', 0.15 '#1f3b63', 1 '%s')\nset cbrange [0:1]\n"
	    "set cbtics textcolor rgb '%s'\nset cblabel 'share of the row' textcolor rgb '%s'\n"
	    "set xrange [-0.5:%zu.5]\nset yrange [%zu.5:-0.5]\nset size ratio 1\n",
	    C_BG, C_ACCENT, C_TEXT, C_MUTED, n - 1, n - 1);
	arxiv_buf_printf(&s, "set xtics rotate by -40 (");
	json_array_foreach(labels, i, l) {
		arxiv_buf_printf(&s, "%s", i ? ", " : "");
		gp_str(&s, json_string_value(l) ? json_string_value(l) : "?");
		arxiv_buf_printf(&s, " %zu", i);
	}
	arxiv_buf_printf(&s, ")\nset ytics (");
	json_array_foreach(labels, i, l) {
		arxiv_buf_printf(&s, "%s", i ? ", " : "");
		gp_str(&s, json_string_value(l) ? json_string_value(l) : "?");
		arxiv_buf_printf(&s, " %zu", i);
	}
	(void)title;
	arxiv_buf_printf(&s, ")\nset xlabel ");
	gp_str(&s, xlabel);
	arxiv_buf_printf(&s, "\nset ylabel ");
	gp_str(&s, ylabel);
	arxiv_buf_printf(&s, "\nplot '%s/%s.dat' using 1:2:3 with image pixels, "
	    "'' using 1:2:(sprintf('%%.0f', $4)) with labels textcolor rgb '%s' font 'sans,12'\n",
	    c->tmp, name, C_TEXT);
	rc = data(c, name, &d) < 0 ? -1 : plot(c, name, &s);
	arxiv_buf_free(&d);
	arxiv_buf_free(&s);
	return rc;
}

/* A length histogram from arxiv-stats' bins. */
int
histogram(struct ctx *c, const char *name, json_t *dist, const char *title, const char *xlabel,
    int marks)
{
	struct arxiv_buf d = { 0 }, s = { 0 };
	json_t *h = json_object_get(dist, "histogram"), *v;
	double w = num(dist, "bin_width"), p99 = num(dist, "p99");
	size_t i;
	int rc;

	if (!json_is_array(h) || json_array_size(h) == 0 || w <= 0)
		return 1;
	json_array_foreach(h, i, v)
		arxiv_buf_printf(&d, "%.1f\t%.0f\n", (double)i * w + w / 2, json_number_value(v));
	preamble(&s, c, name, 900, 380);
	(void)title;
	arxiv_buf_printf(&s, "set xlabel ");
	gp_str(&s, xlabel);
	arxiv_buf_printf(&s, "\nset ylabel 'papers'\nset boxwidth %g\nset yrange [0:*]\n"
	    "set xrange [0:%g]\n", w * 0.9,
	    fmax(p99 * 1.25, marks ? 560 : w * 4));
	if (marks)
		arxiv_buf_printf(&s, "set arrow 1 from 256, graph 0 to 256, graph 1 nohead lc rgb '%s' "
		    "dt 2 lw 2\nset arrow 2 from 512, graph 0 to 512, graph 1 nohead lc rgb '%s' dt 2 "
		    "lw 2\nset label 1 '256' at 256, graph 0.95 offset 0.5,0 textcolor rgb '%s'\n"
		    "set label 2 '512' at 512, graph 0.95 offset 0.5,0 textcolor rgb '%s'\n",
		    C_ERR, C_AMBER, C_ERR, C_AMBER);
	arxiv_buf_printf(&s, "plot '%s/%s.dat' using 1:2 with boxes lc rgb '%s'\n", c->tmp, name,
	    C_ACCENT);
	rc = data(c, name, &d) < 0 ? -1 : plot(c, name, &s);
	arxiv_buf_free(&d);
	arxiv_buf_free(&s);
	return rc;
}

/* Clustered bars: rows of a label and k values. */
int
clustered(struct ctx *c, const char *name, const struct arxiv_buf *d, const char *const *series,
    const char *const *colors, size_t k, const char *title, int rotate)
{
	struct arxiv_buf s = { 0 };
	size_t i;
	int rc;

	preamble(&s, c, name, 900, 420);
	arxiv_buf_printf(&s, "set style data histograms\nset style histogram clustered gap 1\n"
	    "set yrange [0:1.25]\nset ytics 0,0.2,1\nset key top center horizontal\nset xtics%s\n",
	    rotate ? " rotate by -40" : "");
	(void)title;
	arxiv_buf_printf(&s, "plot ");
	for (i = 0; i < k; i++) {
		arxiv_buf_printf(&s, "%s'%s/%s.dat' using %zu%s title ", i ? ", " : "", c->tmp, name,
		    i + 2, i == 0 ? ":xtic(1)" : "");
		gp_str(&s, series[i]);
		arxiv_buf_printf(&s, " lc rgb '%s'", colors[i]);
	}
	arxiv_buf_printf(&s, "\n");
	rc = data(c, name, d) < 0 ? -1 : plot(c, name, &s);
	arxiv_buf_free(&s);
	return rc;
}
