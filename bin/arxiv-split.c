/*
 * arxiv-split - split JSONL records or a tensor stream into DIR/train, val and
 * test by a seeded hash of the arXiv id (arxiv_split_of): reproducible,
 * streamable and independent of the input order. -S stratifies by label
 * exactly: per label, records sorted by hash and cut at the ratio quantiles
 * (two passes; stdin is spooled to a temporary file in DIR).
 */
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>

#include "prog.h"

#define INF UINT64_MAX		/* a threshold above every hash key */

enum { O_VERBOSE = 256 };

static const struct option longopts[] = {
	{ "keep-going", no_argument, NULL, 'k' },
	{ "output", required_argument, NULL, 'o' },
	{ "ratios", required_argument, NULL, 'r' },
	{ "seed", required_argument, NULL, 's' },
	{ "stratify", no_argument, NULL, 'S' },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "keep-going", NULL, "skip bad records with a warning, count them", 0 },
	{ "output", "dir", "write dir/train, dir/val and dir/test (.jsonl or .bin)", 1 },
	{ "ratios", "train,val,test", "split ratios (default: 0.8,0.1,0.1)", 0 },
	{ "seed", "seed", "seed of the hash that assigns each id to a split", 1 },
	{ "stratify", NULL, "exact ratios within every label (two passes)", 0 },
	{ "verbose", NULL, "print the counts per split and label at the end", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog_deprecated deprecated[] = {
	{ 'v', O_VERBOSE, "-v", "--verbose" },
	{ 0, 0, NULL, NULL }
};

static const struct prog P = {
	"arxiv-split", "[file]",
	"Split JSON lines or a tensor stream into train, val and test by a seeded hash of the id.",
	"hVko:r:s:Sv", longopts, help, deprecated
};

static const char *const split_name[3] = { "train", "val", "test" };

/* One record of the first pass of -S: its hash key and its label group. */
struct key {
	uint64_t h;
	uint32_t group;
};

/* Per label group: the hash keys where val and test start, and counts. */
struct group {
	uint64_t t1, t2;
	size_t n[3];
	char *name;
};

struct opts {
	uint64_t seed;
	double r[3];
	int strat, keep, verbose;
	const char *dir;
};

/* Everything to clean up on failure: the temporary outputs. */
static struct {
	char tmp[3][PATH_MAX];
	char final[3][PATH_MAX];
	struct arxiv_atomic *a[3];
	FILE *out[3];
	size_t count[3];	/* records written per split */
} outs;

static void
remove_temps(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		arxiv_atomic_abort(outs.a[i]);
		outs.a[i] = NULL;
		outs.out[i] = NULL;
		outs.tmp[i][0] = '\0';
	}
}

/* SIGINT, SIGTERM, SIGHUP: remove the temporary outputs, then die of the signal. */
static void
on_signal(int sig)
{
	int i;

	for (i = 0; i < 3; i++)
		if (outs.tmp[i][0])
			unlink(outs.tmp[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	remove_temps();
	exit(1);
}

static void __attribute__((noreturn))
die_err(const struct arxiv_error *e)
{
	prog_warnerr(e);
	remove_temps();
	exit(1);
}

/* mkdir -p */
static void
make_dir(const char *dir)
{
	char p[PATH_MAX], *s;
	struct stat st;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		die("%s: path too long", dir);
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			die("%s: %s", p, strerror(errno));
		*s = c;
		if (c == '\0')
			break;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		die("%s: not a directory", dir);
}

/* Create the three temporary outputs beside DIR/NAME.EXT (arxiv_atomic_open:
 * mkstemp, never through a symbolic link, only over regular files). */
static void
open_outputs(const char *dir, const char *ext)
{
	struct arxiv_error e;
	int i;

	for (i = 0; i < 3; i++) {
		if (snprintf(outs.final[i], PATH_MAX, "%s/%s.%s", dir, split_name[i], ext) >=
		    PATH_MAX)
			die("%s: path too long", dir);
		if ((outs.a[i] = arxiv_atomic_open(outs.final[i], NULL, &e)) == NULL)
			die_err(&e);
		snprintf(outs.tmp[i], PATH_MAX, "%s", arxiv_atomic_tmpname(outs.a[i]));
		outs.out[i] = arxiv_atomic_file(outs.a[i]);
	}
}

/* Close the outputs and rename them into place; none is renamed when one
 * cannot be written. */
static void
commit_outputs(void)
{
	struct arxiv_error e;
	int i;

	for (i = 0; i < 3; i++)
		if (arxiv_atomic_flush(outs.a[i], &e) < 0)
			die_err(&e);
	for (i = 0; i < 3; i++) {
		struct arxiv_atomic *a = outs.a[i];
		outs.a[i] = NULL;
		outs.out[i] = NULL;
		outs.tmp[i][0] = '\0';
		if (arxiv_atomic_commit(a, &e) < 0)
			die_err(&e);
	}
}

static void
write_line(int s, const char *line, size_t len)
{
	FILE *fp = outs.out[s];

	if (fwrite(line, 1, len, fp) != len || putc('\n', fp) == EOF)
		die("%s: write error: %s", outs.tmp[s], strerror(errno));
	outs.count[s]++;
}

/* The split key: arxiv_split_u scaled to an integer in [0, 2^53). */
static uint64_t
hash_key(const char *id, size_t n, uint64_t seed)
{
	return (uint64_t)(arxiv_split_u(id, n, seed) * 0x1p53);
}

/* ---------------------------------------------------------------- groups */

struct groups {
	struct group *g;
	size_t n, cap;
	json_t *index;		/* label name -> group number (JSONL) */
};

static uint32_t
group_add(struct groups *gs, const char *name)
{
	if (gs->n == gs->cap && arxiv_grow(&gs->g, &gs->cap, gs->n + 1, sizeof(*gs->g), 16) < 0)
		die("out of memory");
	memset(&gs->g[gs->n], 0, sizeof(gs->g[gs->n]));
	if ((gs->g[gs->n].name = strdup(name)) == NULL)
		die("out of memory");
	gs->g[gs->n].t1 = gs->g[gs->n].t2 = INF;
	return (uint32_t)gs->n++;
}

/* The group of a JSONL label, created on first sight. */
static uint32_t
group_of_label(struct groups *gs, const char *label)
{
	json_t *v = json_object_get(gs->index, label);
	uint32_t g;

	if (v != NULL)
		return (uint32_t)json_integer_value(v);
	g = group_add(gs, label);
	if (json_object_set_new(gs->index, label, json_integer(g)) < 0)
		die("out of memory");
	return g;
}

static int
cmp_key(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->h < y->h ? -1 : x->h > y->h;
}

/* Sort the keys by (group, hash) and set each group's cut points. */
static void
set_thresholds(struct groups *gs, struct key *k, size_t n, const double r[3])
{
	size_t i = 0, j, m, c1, c2;

	qsort(k, n, sizeof(*k), cmp_key);
	while (i < n) {
		for (j = i; j < n && k[j].group == k[i].group; j++)
			;
		m = j - i;
		c1 = (size_t)((double)m * r[0] + 0.5);
		c2 = (size_t)((double)m * (r[0] + r[1]) + 0.5);
		if (c2 > m)
			c2 = m;
		if (c1 > c2)
			c1 = c2;
		gs->g[k[i].group].t1 = c1 < m ? k[i + c1].h : INF;
		gs->g[k[i].group].t2 = c2 < m ? k[i + c2].h : INF;
		i = j;
	}
}

static int
split_by_group(const struct group *g, uint64_t h)
{
	return h < g->t1 ? 0 : h < g->t2 ? 1 : 2;
}

static void
push_key(struct key **k, size_t *n, size_t *cap, uint64_t h, uint32_t group)
{
	if (*n == *cap && arxiv_grow(k, cap, *n + 1, sizeof(**k), 4096) < 0)
		die("out of memory");
	(*k)[*n].h = h;
	(*k)[(*n)++].group = group;
}

/* ----------------------------------------------------------------- JSONL */

/*
 * Parse a JSONL record's "id" (and "label" when want_label). Returns the parsed
 * object (caller decrefs) or NULL with the reason in err->text.
 */
static json_t *
parse_record(const char *line, size_t len, int want_label, const char **id, size_t *idn,
    const char **label, struct arxiv_error *err)
{
	json_error_t jerr;
	json_t *o, *v;
	long bad;

	if ((o = json_loadb(line, len, 0, &jerr)) == NULL) {
		if ((bad = arxiv_utf8_check(line, len)) >= 0)
			arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
		else
			arxiv_error_set(err, "", 0, "invalid JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		arxiv_error_set(err, "", 0, "not a JSON object");
		goto bad;
	}
	v = json_object_get(o, "id");
	if (!json_is_string(v)) {
		arxiv_error_set(err, "", 0, "missing or non-string \"id\"");
		goto bad;
	}
	if (json_string_length(v) == 0) {
		arxiv_error_set(err, "", 0, "empty id");
		goto bad;
	}
	*id = json_string_value(v);
	*idn = json_string_length(v);
	if (want_label) {
		v = json_object_get(o, "label");
		if (!json_is_string(v)) {
			arxiv_error_set(err, "", 0, "missing or non-string \"label\" (needed by -S)");
			goto bad;
		}
		*label = json_string_value(v);
	}
	return o;
bad:
	json_decref(o);
	return NULL;
}

/*
 * One pass over JSONL input. pass 1 (of -S): collect keys. pass 2 or a plain
 * split: write each line to its output. Bad records stop the run, or with -k
 * are skipped (reported in the first pass only).
 */
static void
jsonl_pass(FILE *fp, const char *name, const struct opts *o, int pass, struct groups *gs,
    struct key **k, size_t *nk, size_t *capk, size_t *skipped)
{
	struct arxiv_lines *r;
	struct arxiv_error e;
	const char *line, *id, *label = NULL;
	size_t len, idn;
	json_t *rec;
	int rc, s;

	if ((r = arxiv_lines_new(fp, name, 0)) == NULL)
		die("out of memory");
	while ((rc = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		if (rc > 0 && (rec = parse_record(line, len, o->strat, &id, &idn, &label,
		    &e)) != NULL) {
			uint64_t h = hash_key(id, idn, o->seed);

			if (pass == 1) {
				push_key(k, nk, capk, h, group_of_label(gs, label));
			} else {
				if (o->strat) {
					struct group *g = &gs->g[group_of_label(gs, label)];
					s = split_by_group(g, h);
					g->n[s]++;
				} else
					s = arxiv_split_of(id, idn, o->seed, o->r);
				write_line(s, line, len);
			}
			json_decref(rec);
			continue;
		}
		if (rc > 0) {
			snprintf(e.source, sizeof(e.source), "%s", name);
			e.line = arxiv_lines_lineno(r);
		}
		if (!o->keep || arxiv_lines_ioerr(r))
			die_err(&e);
		if (pass == 1 || !o->strat) {
			prog_warnerr(&e);
			(*skipped)++;
		}
	}
	arxiv_lines_free(r);
}

/* ---------------------------------------------------------------- tensor */

static struct arxiv_tensor_reader *
tensor_open(FILE *fp, const char *name)
{
	struct arxiv_tensor_reader *r;
	struct arxiv_error e;

	if ((r = arxiv_tensor_open(fp, name, &e)) == NULL)
		die_err(&e);
	return r;
}

/* Group of a tensor label: -1 (unlabelled) is group n_labels. */
static uint32_t
tensor_group(const struct arxiv_tensor_header *h, int32_t label, const char *name, long recno)
{
	if (label == -1)
		return h->n_labels;
	if (label < 0 || (uint32_t)label >= h->n_labels)
		die("%s:%ld: label %ld out of range (%u labels)", name, recno, (long)label,
		    (unsigned)h->n_labels);
	return (uint32_t)label;
}

static void
tensor_pass(FILE *fp, const char *name, const struct opts *o, int pass, struct groups *gs,
    struct key **k, size_t *nk, size_t *capk)
{
	struct arxiv_tensor_writer *w[3] = { NULL, NULL, NULL };
	struct arxiv_tensor_reader *r = tensor_open(fp, name);
	const struct arxiv_tensor_header *h = arxiv_tensor_header(r);
	struct arxiv_tensor_record rec;
	struct arxiv_tensor_header oh;
	struct arxiv_error e;
	long recno = 0;
	uint32_t i;
	int rc, s;

	if (gs->n == 0) {	/* groups: the header's labels, then unlabelled */
		for (i = 0; i < h->n_labels; i++)
			group_add(gs, h->labels[i]);
		group_add(gs, "(unlabelled)");
	}
	if (pass == 2 || !o->strat) {
		oh = *h;
		oh.n_records = 0;
		for (s = 0; s < 3; s++)
			if ((w[s] = arxiv_tensor_create(outs.out[s], &oh, &e)) == NULL)
				die_err(&e);
	}
	while ((rc = arxiv_tensor_next(r, &rec, &e)) == 1) {
		uint64_t hk = hash_key(rec.id, strlen(rec.id), o->seed);
		uint32_t g = tensor_group(h, rec.label, name, ++recno);

		if (pass == 1) {
			push_key(k, nk, capk, hk, g);
			continue;
		}
		if (o->strat) {
			s = split_by_group(&gs->g[g], hk);
			gs->g[g].n[s]++;
		} else
			s = arxiv_split_of(rec.id, strlen(rec.id), o->seed, o->r);
		if (arxiv_tensor_write(w[s], &rec, &e) < 0)
			die_err(&e);
		outs.count[s]++;
	}
	if (rc < 0)
		die_err(&e);
	for (s = 0; s < 3; s++)
		if (w[s] != NULL && arxiv_tensor_finish(w[s], &e) < 0)
			die_err(&e);
	arxiv_tensor_close(r);
}

/* ----------------------------------------------------------------- input */

/* Copy fp to an unlinked temporary file in dir, positioned at its start. */
static FILE *
spool(FILE *fp, const char *name, const char *dir)
{
	char path[PATH_MAX], buf[65536];
	FILE *sp;
	size_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/.arxiv-split.XXXXXX", dir) >= (int)sizeof(path))
		die("%s: path too long", dir);
	if ((fd = mkstemp(path)) < 0)
		die("%s: %s", path, strerror(errno));
	unlink(path);
	if ((sp = fdopen(fd, "w+")) == NULL)
		die("%s: %s", path, strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		if (fwrite(buf, 1, n, sp) != n)
			die("%s: spooling %s: %s", dir, name, strerror(errno));
	if (ferror(fp))
		die("%s: read error", name);
	if (fflush(sp) == EOF || fseeko(sp, 0, SEEK_SET) < 0)
		die("%s: spooling %s: %s", dir, name, strerror(errno));
	return sp;
}

/* Peek at the first n bytes without consuming them. */
static size_t
peek(FILE *fp, const char *name, unsigned char *buf, size_t n, off_t start)
{
	size_t k = fread(buf, 1, n, fp), i;

	if (ferror(fp))
		die("%s: read error: %s", name, strerror(errno));
	if (start >= 0) {
		clearerr(fp);
		if (fseeko(fp, start, SEEK_SET) < 0)
			die("%s: %s", name, strerror(errno));
		return k;
	}
	/* a pipe: push the bytes back (glibc keeps any number of pushed-back bytes) */
	for (i = k; i > 0; i--)
		if (ungetc(buf[i - 1], fp) == EOF)
			die("%s: cannot push back input", name);
	return k;
}

static void
parse_ratios(const char *s, double r[3])
{
	char *end;
	double sum = 0;
	int i;

	for (i = 0; i < 3; i++) {
		errno = 0;
		r[i] = strtod(s, &end);
		if (errno || end == s || !(r[i] >= 0 && r[i] <= 1) ||
		    (i < 2 ? *end != ',' : *end != '\0'))
			goto bad;
		sum += r[i];
		s = end + 1;
	}
	if (sum < 1 - 1e-6 || sum > 1 + 1e-6)
		goto bad;
	for (i = 0; i < 3; i++)
		r[i] /= sum;
	return;
bad:
	warnx("-r: expected three ratios in [0,1] that sum to 1, e.g. 0.8,0.1,0.1");
	prog_usage(&P, stderr);
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct opts o = { .r = { 0.8, 0.1, 0.1 } };
	struct groups gs = { 0 };
	struct key *k = NULL;
	size_t nk = 0, capk = 0, skipped = 0, i;
	unsigned char magic[8];
	const char *name, *seed = NULL;
	int c, tensor;
	off_t start = -1;
	struct stat st;
	FILE *fp;

	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'k':
			o.keep = 1;
			break;
		case 'o':
			o.dir = optarg;
			break;
		case 'r':
			parse_ratios(optarg, o.r);
			break;
		case 's':
			seed = optarg;
			break;
		case 'S':
			o.strat = 1;
			break;
		case O_VERBOSE:
			o.verbose = 1;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	if (seed == NULL || o.dir == NULL || argc > 1) {
		warnx("%s", argc > 1 ? "at most one input file" : "-s seed and -o dir are required");
		prog_usage(&P, stderr);
		return 2;
	}
	{
		char *end;
		errno = 0;
		o.seed = strtoull(seed, &end, 10);
		if (errno || end == seed || *end || *seed == '-') {
			warnx("%s: invalid seed (expected 0..%llu)", seed, (unsigned long long)UINT64_MAX);
			prog_usage(&P, stderr);
			return 2;
		}
	}
	arxiv_set_log(prog_log, &o.verbose);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	if ((fp = prog_open(argc ? argv[0] : NULL, &name)) == NULL)
		return 1;
	make_dir(o.dir);
	if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode))
		start = ftello(fp);
	if (o.strat && start < 0) {
		fp = spool(fp, name, o.dir);
		start = 0;
	}
	tensor = arxiv_tensor_sniff(magic, peek(fp, name, magic, sizeof(magic), start));
	open_outputs(o.dir, tensor ? "bin" : "jsonl");

	if (o.strat) {
		if ((gs.index = json_object()) == NULL)
			die("out of memory");
		if (tensor)
			tensor_pass(fp, name, &o, 1, &gs, &k, &nk, &capk);
		else
			jsonl_pass(fp, name, &o, 1, &gs, &k, &nk, &capk, &skipped);
		set_thresholds(&gs, k, nk, o.r);
		free(k);
		clearerr(fp);
		if (fseeko(fp, start, SEEK_SET) < 0)
			die("%s: %s", name, strerror(errno));
	}
	if (tensor)
		tensor_pass(fp, name, &o, 2, &gs, &k, &nk, &capk);
	else
		jsonl_pass(fp, name, &o, 2, &gs, &k, &nk, &capk, &skipped);
	if (ferror(fp))
		die("%s: read error", name);
	commit_outputs();

	if (o.verbose) {
		warnx("train %zu, val %zu, test %zu", outs.count[0], outs.count[1],
		    outs.count[2]);
		for (i = 0; o.strat && i < gs.n; i++)
			if (gs.g[i].n[0] + gs.g[i].n[1] + gs.g[i].n[2] > 0)
				warnx("%s: train %zu, val %zu, test %zu", gs.g[i].name,
				    gs.g[i].n[0], gs.g[i].n[1], gs.g[i].n[2]);
	}
	if (skipped)
		warnx("skipped %zu records", skipped);
	for (i = 0; i < gs.n; i++)
		free(gs.g[i].name);
	free(gs.g);
	json_decref(gs.index);
	if (fp != stdin)
		fclose(fp);
	return prog_fshut();
}
