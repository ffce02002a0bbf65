/*
 * report.h - arxiv-report's parts (bin/report/), one program in several files:
 *   plot.c     the figures: gnuplot run on a script per plot, bars, heatmaps,
 *              histograms, clustered bars, and the HTML <figure> around each
 *   ../arxiv-report.c  the command line, the page's stats and eval sections,
 *              its style sheet, and the atomic writes of the report
 * Not installed; nothing here is part of libarxiv.
 */
#ifndef ARXIV_REPORT_H
#define ARXIV_REPORT_H

#include <jansson.h>

#include "../prog.h"

/* the palette of data/web/index.html */
#define C_BG "#0e1116"
#define C_CARD "#161b22"
#define C_LINE "#2a313c"
#define C_TEXT "#e6edf3"
#define C_MUTED "#8b949e"
#define C_ACCENT "#388bfd"
#define C_WIN "#2ea043"
#define C_ERR "#ff8182"
#define C_AMBER "#d29922"

struct ctx {
	const char *dir, *gnuplot, *tmp;
	int verbose;
	int nplots;
};

/* plot.c */
void html_esc(struct arxiv_buf *b, const char *s);
/* the gnuplot settings of a w x h plot into tmp/name.svg, in the page's theme */
void preamble(struct arxiv_buf *s, const struct ctx *c, const char *name, int w, int h);
/* Run gnuplot on the script, then move tmp/name.svg to dir/name.svg. */
int plot(struct ctx *c, const char *name, const struct arxiv_buf *script);
/* b into tmp/name.dat, a plot's data file */
int data(struct ctx *c, const char *name, const struct arxiv_buf *b);
/* the number o[k], 0 when it is not one */
double num(json_t *o, const char *k);
/* the HTML figure of plot name with its heading alt and an optional caption */
void figure(struct arxiv_buf *h, const char *name, const char *alt, const char *caption);
/* Vertical bars of label/value pairs. */
int bars(struct ctx *c, const char *name, json_t *arr, const char *lk, const char *vk, size_t max,
    const char *title, const char *ylabel, const char *color, int rotate);
/* A labelled square heatmap: colour = value / row sum (or given shares), text = count. */
int heatmap(struct ctx *c, const char *name, json_t *labels, json_t *matrix, const char *title,
    const char *xlabel, const char *ylabel);
/* A length histogram from arxiv-stats' bins. */
int histogram(struct ctx *c, const char *name, json_t *dist, const char *title, const char *xlabel,
    int marks);
/* Clustered bars: rows of a label and k values. */
int clustered(struct ctx *c, const char *name, const struct arxiv_buf *d, const char *const *series,
    const char *const *colors, size_t k, const char *title, int rotate);

#endif
