/*
 * hpo.h - arxiv-hpo's parts (bin/hpo/), one program in several files:
 *   journal.c  the study in memory, its append-only journal (JSONL, fsync'd,
 *              flock'd for several writers, resumed from), the sampler's view
 *   launch.c   trial processes: arxiv-train's command line, local processes,
 *              progress, pruning and time limits, a Slurm task's one trial
 *   remote.c   trials elsewhere: GNU parallel --sshlogin hosts, a Slurm job array
 *   ../arxiv-hpo.c  the command line, the default spaces, the results
 * Not installed; nothing here is part of libarxiv.
 */
#ifndef ARXIV_HPO_H
#define ARXIV_HPO_H

#include <signal.h>
#include <jansson.h>
#include <sys/types.h>

#include "../prog.h"

#define MAX_TRIALS 100000
#define KILL_GRACE_S 5.0
#define REQUEUE (-2)		/* a trial's state: ran when the search stopped, runs again */

struct trial {
	int used;		/* has a start record */
	int state;		/* ARXIV_TRIAL_* */
	double *x;
	double value;		/* metric as reported (not negated); NaN if none */
	double *steps;		/* intermediate values, minimised */
	int n_steps, cap_steps;
	double seconds;
	char reason[256];
	/* local execution */
	pid_t pid;
	double t0, deadline, kill_at;
	int prune_sent, timed_out;
	long log_off;
	char host[256];
	int hostidx;		/* --sshlogin: index into runcfg.hosts, else -1 */
};

struct study {
	/* settings (from the journal's study record when resuming) */
	char *space_text;
	struct arxiv_space *space;
	const char *model;
	char metric[16];
	int maximize;
	char sampler[16];
	uint64_t seed;
	int prune;
	char parent_run[64];	/* the search's MLflow run (journal) */
	/* run time */
	const char *out;
	char dir[4200];		/* out/hpo */
	char journal[4300];
	int jfd, locked;
	struct trial *t;
	size_t n_t, cap_t;
	int verbose;
};

struct host {
	char login[256];	/* GNU parallel's sshlogin, without "N/" */
	int slots, used, lost;	/* lost: trials that ended with ssh's 255 in a row */
};

struct runcfg {
	struct host *hosts;	/* --sshlogin */
	int n_hosts;
	const char *train_bin;
	const char *train, *val;
	const char *init;
	char **sets;
	size_t n_sets;
	int threads;
	double timeout;
	const char *parent_run;
};

extern volatile sig_atomic_t stop_sig;	/* SIGINT or SIGTERM received (arxiv-hpo.c) */
extern struct host *rc_hosts;		/* --sshlogin's hosts, for finish() */
extern char worker_host[256];		/* --worker: "host (Slurm job J_T)" */

/* journal.c: the study and its journal */
void pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
double now_s(void);
double minimised(const struct study *st, double v);
struct trial *trial_at(struct study *st, size_t n);
void add_step(struct trial *t, int step, double v);
const char *state_name(int s);
void jlock(struct study *st);
void junlock(struct study *st);
void jappend_locked(struct study *st, json_t *o);
json_t *num_or_null(double v);
int jread(struct study *st, int settings);
void jstudy(struct study *st, const char *mlflow_id);
json_t *params_obj(const struct study *st, const double *x);
void jstart(struct study *st, size_t n, const char *host, pid_t pid);
void jend(struct study *st, size_t n);
struct arxiv_trial *history(struct study *st, size_t *n);
size_t next_number(const struct study *st);
void propose(struct study *st, size_t number, double *x);
void write_atomic(const char *path, const char *data);

/* launch.c: trial processes */
void trial_dir(const struct study *st, size_t n, char *buf, size_t len);
char **train_argv(const struct study *st, const struct runcfg *rc, size_t n,
    const char *model_dir);
pid_t spawn(char **argv, const char *log_path, const char *cwd);
void trial_spawn(struct trial *t, const struct runcfg *rc, char **argv, const char *log_path,
    const char *cwd);
int best_trial(const struct study *st);
void finish(struct study *st, size_t n, int status);
int start_local(struct study *st, const struct runcfg *rc, size_t n);
void kill_trial(struct trial *t, int sig);
size_t count(const struct study *st, int running);
void sleep_ms(long ms);
int run_local(struct study *st, struct runcfg *rc, size_t n_trials, int jobs);
int run_worker(struct study *st, struct runcfg *rc, size_t n_trials);

/* remote.c: GNU parallel and Slurm */
void shquote(struct arxiv_buf *b, const char *s);
int start_ssh(struct study *st, struct runcfg *rc, size_t n, int hi);
int pick_host(const struct runcfg *rc);
void parse_hosts(struct runcfg *rc, const char *spec);
int run_slurm(struct study *st, const struct runcfg *rc, const char *opts, size_t n_trials,
    int jobs, int verbose);

#endif
