/*
 * blocks.c - arxiv-stats -j: records read in blocks; threads read, tokenise,
 * clean and split a block while this thread counts the block before, in input
 * order, so the output is that of one thread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* Keep a record read by the scan for counting (its strings in the block's
 * line, but its text when unescaped, and its categories and fields, which
 * are in the thread's tools until its next record). 0 or -1 (out of memory). */
static int
keep_record(struct prep *p, const struct arxiv_stats_record *r, const struct job *j,
    struct arxiv_buf *keep, struct strs *ss)
{
	size_t need = ss->n + r->n_categories + r->n_fields;

	p->text_off = SIZE_MAX;
	if (r->text.s == j->t.text.data) {	/* unescaped into the thread's buffer */
		p->text_off = keep->len;
		if (r->text.n > 0 && arxiv_buf_append(keep, r->text.s, r->text.n) < 0)
			return -1;
	}
	if (need > ss->cap && arxiv_grow(&ss->a, &ss->cap, need, sizeof(*ss->a), 1024) < 0)
		return -1;
	p->r = *r;
	p->r.categories = p->r.fields = NULL;
	p->cat_at = ss->n;
	memcpy(ss->a + ss->n, r->categories, r->n_categories * sizeof(*ss->a));
	ss->n += r->n_categories;
	p->field_at = ss->n;
	memcpy(ss->a + ss->n, r->fields, r->n_fields * sizeof(*ss->a));
	ss->n += r->n_fields;
	return 0;
}

/* A thread's share of a block: the counts and terms of its records. A record
 * that fails here is left unprepared; the main thread meets its error again
 * in order. */
static void
prepare(struct job *j)
{
	struct state *s = j->s;
	struct block *b = j->b;
	struct arxiv_buf *keep = &b->keep[j->id];
	struct strs *ss = &b->strs[j->id];
	struct arxiv_stats_record r;
	struct arxiv_error e;
	json_t *o;
	size_t i;

	arxiv_buf_clear(keep);
	ss->n = 0;
	for (i = b->from[j->id]; i < b->to[j->id]; i++) {
		struct prep *p = &b->prep[i];

		p->ok = p->parsed = 0;
		if (parse_line(&j->t, b->lines.data + b->off[i], b->len[i], &r, &o, &e) == 0 &&
		    count_record(s, &j->t, &r, 1, &e) == 0 &&
		    arxiv_stats_split(s->st, r.text.s, r.text.n, p->split) == 0) {
			p->n_tokens = r.n_tokens;
			p->off = keep->len;
			p->len = r.terms.n;
			if (r.terms.n == 0 || arxiv_buf_append(keep, r.terms.s, r.terms.n) == 0)
				p->ok = 1;
			/* the record itself, when its strings stay where they are: in
			 * the line (read by the scan, not by jansson), but for an
			 * unescaped text, kept */
			if (p->ok && o == NULL && keep_record(p, &r, j, keep, ss) == 0)
				p->parsed = 1;
		}
		json_decref(o);
	}
}

/* arxiv_parallel_for's fn: jobs [from, to) of the block, each with its own tools */
static void
prepare_jobs(void *ud, size_t from, size_t to)
{
	struct state *s = ud;

	for (; from < to; from++)
		prepare(&s->job[from]);
}

/* Prepare block b on the threads (its records shared out evenly). */
static void *
prepare_block(void *ud)
{
	struct state *s = ud;
	struct block *b = s->job[0].b;
	int t, nt = s->njob;

	for (t = 0; t < nt; t++) {
		b->from[t] = b->nb * (size_t)t / (size_t)nt;
		b->to[t] = b->nb * (size_t)(t + 1) / (size_t)nt;
	}
	arxiv_parallel_for((size_t)nt, 1, nt, prepare_jobs, s);
	return NULL;
}

/* Count a prepared block's records in order, and empty it. */
static int
count_block(struct state *s, struct block *b, const char *name)
{
	struct arxiv_error e;
	size_t i;
	int t = 0, rc = 0;

	for (i = 0; i < b->nb; i++) {
		const struct prep *p = &b->prep[i];

		while (i >= b->to[t])
			t++;
		if (p->parsed) {
			struct arxiv_stats_record r = p->r;

			r.categories = b->strs[t].a + p->cat_at;
			r.fields = b->strs[t].a + p->field_at;
			if (p->text_off != SIZE_MAX)
				r.text.s = b->keep[t].data ? b->keep[t].data + p->text_off : "";
			use_prep(s, p, &b->keep[t], &r);
			if (arxiv_stats_add(s->st, &r, &e) == 0) {
				s->n++;
				continue;
			}
		} else if (add_line(s, b->lines.data + b->off[i], b->len[i], p, &b->keep[t],
		    &e) == 0) {
			s->n++;
			continue;
		}
		snprintf(e.source, sizeof(e.source), "%s", name);
		e.line = b->lineno[i];
		prog_warnerr(&e);
		if (!s->keep) {
			rc = -1;
			break;
		}
		s->skipped++;
	}
	b->nb = 0;
	arxiv_buf_clear(&b->lines);
	return rc;
}

/* Wait for the block the threads are preparing, if any. */
struct block *
settle(struct state *s)
{
	struct block *b = s->busy;

	if (b != NULL && s->async)
		pthread_join(s->th, NULL);
	s->busy = NULL;
	return b;
}

/* The block read is full (or the input ends): the threads are given it, and
 * this thread counts the block they prepared before, if any, then reads on
 * into that one while they work. */
int
run_block(struct state *s, const char *name)
{
	struct block *b = s->fill, *done;
	int t, rc = 0;

	if (b->nb == 0)
		return 0;
	done = settle(s);
	s->njob = (size_t)s->jobs > b->nb ? (int)b->nb : s->jobs;
	for (t = 0; t < s->njob; t++) {
		s->job[t].b = b;
		s->job[t].id = t;
	}
	s->async = pthread_create(&s->th, NULL, prepare_block, s) == 0;
	if (!s->async)
		prepare_block(s);
	s->busy = b;
	if (done != NULL)
		rc = count_block(s, done, name);
	s->fill = b == &s->blk[0] ? &s->blk[1] : &s->blk[0];
	return rc;
}

/* Count every record read so far: the block being prepared, then the one read. */
int
drain(struct state *s, const char *name)
{
	struct block *b;
	int rc = run_block(s, name);

	if ((b = settle(s)) != NULL && count_block(s, b, name) < 0)
		rc = -1;
	return rc;
}
