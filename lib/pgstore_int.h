/*
 * pgstore_int.h - what the PostgreSQL + pgvector store's files share (not
 * installed): lib/pgstore.c (libpq through dlopen, the connection, its
 * session, papers_meta), lib/pgstore_load.c (COPY loading), lib/pgstore_par.c
 * (the same over -j parallel connections) and lib/pgstore_index.c (k-NN
 * search, get, and the "pgvector" row of lib/index.c's backend table).
 */
#ifndef ARXIV_PGSTORE_INT_H
#define ARXIV_PGSTORE_INT_H

#include <stdint.h>
#include <time.h>

#include "arxiv.h"
#include "internal.h"

#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#define HAVE_LIBPQ 1
#else
#define HAVE_LIBPQ 0
#endif

#define PG_SRC "postgresql"

#if HAVE_LIBPQ

/* The libpq functions used, resolved once by dlsym (pgstore.c). */
struct pgx_api {
	PGconn *(*connectdbParams)(const char *const *, const char *const *, int);
	ConnStatusType (*status)(const PGconn *);
	char *(*errorMessage)(const PGconn *);
	void (*finish)(PGconn *);
	PGresult *(*exec)(PGconn *, const char *);
	PGresult *(*execParams)(PGconn *, const char *, int, const Oid *, const char *const *,
	    const int *, const int *, int);
	PGresult *(*prepare)(PGconn *, const char *, const char *, int, const Oid *);
	PGresult *(*execPrepared)(PGconn *, const char *, int, const char *const *, const int *,
	    const int *, int);
	ExecStatusType (*resultStatus)(const PGresult *);
	char *(*resultErrorMessage)(const PGresult *);
	char *(*resultErrorField)(const PGresult *, int);
	void (*clear)(PGresult *);
	int (*ntuples)(const PGresult *);
	char *(*getvalue)(const PGresult *, int, int);
	int (*getlength)(const PGresult *, int, int);
	int (*getisnull)(const PGresult *, int, int);
	int (*putCopyData)(PGconn *, const char *, int);
	int (*putCopyEnd)(PGconn *, const char *);
	PGresult *(*getResult)(PGconn *);
	PQnoticeProcessor (*setNoticeProcessor)(PGconn *, PQnoticeProcessor, void *);
	PGTransactionStatusType (*transactionStatus)(const PGconn *);
	char *(*db)(const PGconn *);
	char *(*user)(const PGconn *);
	char *(*host)(const PGconn *);
	char *(*port)(const PGconn *);
	void (*reset)(PGconn *);
};
extern struct pgx_api arxiv_pgx_api;
#define pq arxiv_pgx_api

/* The ids a bulk load has sent (pgstore_load.c): 64-bit hashes, open addressing. */

struct arxiv_pg {
	PGconn *c;
	uint32_t dim;			/* of the table (0: not known yet) */
	char embedder[ARXIV_PG_EMBEDDER_MAX];
	char embedder_dir[4096];
	/* loading */
	int loading, in_batch;
	size_t batch, in_flight;	/* rows per transaction, rows in the open one */
	long rec_lo, rec_hi;		/* record numbers of the open batch's rows */
	int bulk;			/* papers was empty: no primary key until the end, COPY straight in */
	int locked;			/* holds the loaders' advisory lock (exclusive while bulk) */
	int track;			/* bulk: this connection checks its own ids for repeats */
	struct arxiv_hset64 ids;		/* bulk, track: the ids sent */
	struct timespec t0;		/* load begun */
	int direct;			/* the open batch goes straight into papers */
	size_t sent;			/* bytes of row handed to libpq */
	struct arxiv_buf row;
	struct arxiv_pg_stats st;
	char hnsw_m[16], hnsw_ef[16];
	int ef_search;
	int prepared;			/* the k-NN statement is prepared on this connection */
	struct arxiv_buf qv;		/* the query vector in pgvector's binary form */
};

/* pgstore.c */
void pgx_set_pqerr(struct arxiv_error *err, long line, const char *what, const char *msg);
void pgx_quiet_notice(void *arg, const char *msg);
/* Run a statement with text parameters; the result (want: its status) or NULL with err. */
PGresult *pgx_run(struct arxiv_pg *pg, const char *what, const char *sql, int n,
    const char *const *v, int want, struct arxiv_error *err);
int pgx_run0(struct arxiv_pg *pg, const char *what, const char *sql, struct arxiv_error *err);
int pgx_session_setup(struct arxiv_pg *pg, struct arxiv_error *err);
/* papers_meta into pg: 0 (filled), 1 (no table or no row), -1 error. */
int pgx_read_meta(struct arxiv_pg *pg, struct arxiv_error *err);
void pgx_be16(struct arxiv_buf *b, uint16_t v);
void pgx_be32(struct arxiv_buf *b, uint32_t v);

/* pgstore_load.c */
/* Abandon the open batch (the server rolls it back). */
void pgx_abort_batch(struct arxiv_pg *pg);
/* Refuse a record PostgreSQL cannot hold: 0 fine, 1 refused (err names recno). */
int pgx_check_record(const struct arxiv_pg *pg, const struct arxiv_pg_record *rec, long recno,
    struct arxiv_error *err);
/* A worker connection of a parallel load begun on main: same table, mode and
 * batch size; its ids are checked by the caller (arxiv_pg_load_add sends). */
int pgx_load_join(struct arxiv_pg *w, const struct arxiv_pg *main, struct arxiv_error *err);
/* Commit the open batch of a worker; its load stays open. */
int pgx_load_flush(struct arxiv_pg *pg, struct arxiv_error *err);
/* One row of binary COPY appended to b; -1 out of memory. */
int pgx_put_row(struct arxiv_buf *b, const struct arxiv_pg_record *rec, uint32_t dim);
/* n encoded rows (records lo..hi) into the open batch, which commits when full. */
int pgx_load_rows(struct arxiv_pg *pg, const char *rows, size_t len, size_t n, long lo, long hi,
    struct arxiv_error *err);
/* Bulk load: 1 when id was sent already in this load (or a hash collides), else
 * remembers it; -1 out of memory. */
int pgx_ids_seen(struct arxiv_hset64 *s, const char *id, size_t n);
/* Bulk load: give papers its primary key now (its rows are unique by id) and
 * go on upserting. Every worker's batch must be committed first. */
int pgx_end_bulk(struct arxiv_pg *pg, struct arxiv_error *err);

/* pgstore_par.c: a parallel load on jobs connections of dsn beside main (after
 * arxiv_pg_load_begin on main): new, free with pgx_par_free (which rolls back
 * the open batches of a load not ended). add: as arxiv_pg_load_add; end: as
 * arxiv_pg_load_end on main, with every connection's rows. */
struct pgx_par;
struct pgx_par *pgx_par_new(struct arxiv_pg *main, const char *dsn, int jobs,
    struct arxiv_error *err);
int pgx_par_add(struct pgx_par *p, const struct arxiv_pg_record *rec, long recno,
    struct arxiv_error *err);
int pgx_par_end(struct pgx_par *p, struct arxiv_pg_stats *st, struct arxiv_error *err);
void pgx_par_free(struct pgx_par *p);

#endif	/* HAVE_LIBPQ */

#endif
