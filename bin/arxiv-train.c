/*
 * arxiv-train - train a classifier (the fast n-gram model, or a transformer
 * through the libtorch plugin) on a training and a validation set and write an
 * artifacts directory; every run is recorded as an MLflow run.
 */
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>

#include "prog.h"

enum {
	O_VERSION = 256, O_HELP, O_BATCH, O_ACCUM, O_WARMUP, O_WDECAY, O_CHAR, O_L2, O_GRADNORM,
	O_DROPOUT, O_LOSS, O_VERBOSE, O_TEST, O_THREADS, O_PARAM, O_RUNNAME, O_PARENT,
	O_PRECISION, O_TEACHER, O_DALPHA, O_DTEMP
};

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'M' },
	{ "output", required_argument, NULL, 'o' },
	{ "force", no_argument, NULL, 'f' },
	{ "patience", required_argument, NULL, 'p' },
	{ "epochs", required_argument, NULL, 'e' },
	{ "lr", required_argument, NULL, 'l' },
	{ "dim", required_argument, NULL, 'd' },
	{ "ngrams", required_argument, NULL, 'g' },
	{ "buckets", required_argument, NULL, 'b' },
	{ "class-weight", required_argument, NULL, 'w' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "seed", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "test", required_argument, NULL, O_TEST },
	{ "vocab", required_argument, NULL, 'v' },
	{ "init", required_argument, NULL, 'i' },
	{ "config", required_argument, NULL, 'c' },
	{ "device", required_argument, NULL, 'D' },
	{ "precision", required_argument, NULL, O_PRECISION },
	{ "resume", required_argument, NULL, 'r' },
	{ "batch-size", required_argument, NULL, O_BATCH },
	{ "grad-accum", required_argument, NULL, O_ACCUM },
	{ "warmup-ratio", required_argument, NULL, O_WARMUP },
	{ "weight-decay", required_argument, NULL, O_WDECAY },
	{ "max-grad-norm", required_argument, NULL, O_GRADNORM },
	{ "dropout", required_argument, NULL, O_DROPOUT },
	{ "char-ngrams", required_argument, NULL, O_CHAR },
	{ "l2", required_argument, NULL, O_L2 },
	{ "loss", required_argument, NULL, O_LOSS },
	{ "teacher", required_argument, NULL, O_TEACHER },
	{ "unlabelled", required_argument, NULL, 'u' },
	{ "distill-alpha", required_argument, NULL, O_DALPHA },
	{ "distill-temperature", required_argument, NULL, O_DTEMP },
	{ "param", required_argument, NULL, O_PARAM },
	{ "run-name", required_argument, NULL, O_RUNNAME },
	{ "mlflow-parent", required_argument, NULL, O_PARENT },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "model", "fast|bert", "the model type (default: fast)", 0 },
	{ "output", "dir", "the artifacts directory (default: artifacts)", 0 },
	{ "force", NULL, "replace an existing artifacts directory", 0 },
	{ "patience", "patience", "stop after this many epochs without a better val loss (0: never)", 0 },
	{ "epochs", "epochs", "the most epochs (default: 8)", 0 },
	{ "lr", "lr", "initial learning rate (fast: 0.1, 0.5 with softmax; bert: 5e-5)", 0 },
	{ "dim", "dim", "fast model embedding dimension (0, the default: direct n-gram weights)", 0 },
	{ "ngrams", "ngrams", "word n-gram order (default: 2)", 0 },
	{ "buckets", "buckets", "hashed feature rows (default: 2097152)", 0 },
	{ "class-weight", "class_weight", "weigh classes by inverse frequency to this power (default: 0.5)", 0 },
	{ "jobs", "threads", "training threads (0: all cores)", 0 },
	{ "seed", "seed", "the random seed (default: 42)", 0 },
	{ "verbose", NULL, "print progress even when stderr is not a terminal", 0 },
	{ "test", "test", "also evaluate the final model on this labelled set", 0 },
	{ "vocab", "vocab", "the vocab.txt of tensor-stream input, stored in the artifacts", 0 },
	{ "init", "init_dir", "transformer: a Hugging Face checkpoint folder to fine-tune", 0 },
	{ "config", "config", "transformer: a config.json for random initialisation", 0 },
	{ "device", "device", "transformer: auto, cpu, cuda, cuda:N or mps", 0 },
	{ "precision", "auto|fp32|fp16|bf16", "transformer: GPU arithmetic (auto: bf16 where the GPU has it, else fp16)", 0 },
	{ "resume", "resume_dir", "transformer: a checkpoint directory to resume from", 0 },
	{ "batch-size", "n", "transformer: examples per step", 0 },
	{ "grad-accum", "n", "transformer: steps accumulated per update", 0 },
	{ "warmup-ratio", "r", "transformer: share of the steps spent warming up", 0 },
	{ "weight-decay", "w", "transformer: AdamW weight decay", 0 },
	{ "max-grad-norm", "g", "transformer: gradient clipping norm", 0 },
	{ "dropout", "p", "transformer: dropout probability", 0 },
	{ "char-ngrams", "min:max", "fast model: character n-gram lengths (0:0: none)", 0 },
	{ "l2", "l2", "fast model: L2 penalty on every row of the direct model", 0 },
	{ "loss", "hinge|softmax", "fast model: the loss (default: hinge)", 0 },
	{ "teacher", "teacher", "fast model: distil this artifacts directory's probabilities (softmax loss)", 0 },
	{ "unlabelled", "unlabelled", "with --teacher: also train on these JSONL records' teacher labels", 0 },
	{ "distill-alpha", "a", "with --teacher: weight of the teacher vs the true label (default: 0.5)", 0 },
	{ "distill-temperature", "T", "with --teacher: soften the teacher as p^(1/T) (default: 2)", 0 },
	{ "param", "key=value", "set any training parameter by name (repeatable; see arxiv-train(1))", 0 },
	{ "run-name", "name", "the MLflow run's name (default: derived from the output)", 0 },
	{ "mlflow-parent", "run_id", "record the run as a child of this MLflow run", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog_deprecated deprecated[] = {
	{ 't', O_TEST, "-t test", "--test=test (-t is --table in the suite)" },
	{ O_THREADS, 'j', "--threads", "--jobs (-j)" },
	{ 'V' + 1000, 'v', "-V vocab", "-v vocab (-V alone is --version)" },
	{ 'v' + 1000, O_VERBOSE, "-v (verbose)", "--verbose (-v is now --vocab)" },
	{ 0, 0, NULL, NULL }
};

static const struct prog P = {
	"arxiv-train", "train val",
	"Train a classifier on a training and a validation set; write an artifacts directory.",
	"hVM:o:fp:e:l:d:g:b:w:j:s:v:t:i:c:D:r:u:", longopts, help, deprecated
};

/*
 * Old spellings before getopt: -V with an argument (a word after it that is not
 * an option) was the vocabulary, now -v; -v with no argument (last, or before
 * another option) was --verbose. Each is rewritten with a warning.
 */
static void
old_flags(int argc, char *argv[])
{
	static char v[] = "-v", verbose[] = "--verbose";
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		int opt_next = i + 1 >= argc || argv[i + 1][0] == '-';

		if (strcmp(argv[i], "-V") == 0 && !opt_next) {
			prog_deprecated("-V vocab", "-v vocab (-V alone is --version)");
			argv[i] = v;
			i++;
		} else if (strcmp(argv[i], "-v") == 0 && opt_next) {
			prog_deprecated("-v (verbose)", "--verbose (-v is now --vocab)");
			argv[i] = verbose;
		} else if (argv[i][0] == '-' && argv[i][1] != '-' && argv[i][1] &&
		    strchr("MopeldgbwjsvtiscDru", argv[i][strlen(argv[i]) - 1]) && argv[i][2] == '\0')
			i++;	/* an option and its argument */
	}
}

static volatile int stop_flag;
static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_flag = 1;
	stop_signal = sig;
}

struct progress {
	struct arxiv_mlflow *ml;
	int show, epochs;
};

static void
on_epoch(const struct arxiv_epoch_stats *s, void *ud)
{
	struct progress *pr = ud;

	if (pr->show)
		fprintf(stderr, "arxiv-train: epoch %d/%d  %.0f ex/s  train loss %.4f  "
		    "val loss %.4f  val acc %.4f  val macro-F1 %.4f%s\n", s->epoch, pr->epochs,
		    s->examples_per_s, s->train_loss, s->val_loss, s->val_accuracy,
		    s->val_macro_f1, s->best ? "  (best)" : "");
	arxiv_mlflow_metric(pr->ml, "train_loss", s->train_loss, s->epoch);
	arxiv_mlflow_metric(pr->ml, "val_loss", s->val_loss, s->epoch);
	arxiv_mlflow_metric(pr->ml, "val_accuracy", s->val_accuracy, s->epoch);
	arxiv_mlflow_metric(pr->ml, "val_macro_f1", s->val_macro_f1, s->epoch);
	arxiv_mlflow_metric(pr->ml, "examples_per_s", s->examples_per_s, s->epoch);
}

/* Every training parameter as an MLflow param. */
static void
log_params(struct arxiv_mlflow *ml, const struct arxiv_train_params *p)
{
	struct arxiv_buf b = {0};
	json_t *o, *v;
	const char *k;
	char num[64], *s;

	if (arxiv_train_params_json(p, &b) < 0 || (o = json_loads(b.data, 0, NULL)) == NULL) {
		arxiv_buf_free(&b);
		return;
	}
	json_object_foreach(o, k, v) {
		if (json_is_null(v))
			continue;
		if (json_is_string(v))
			arxiv_mlflow_param(ml, k, json_string_value(v));
		else if ((s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(10))) != NULL) {
			snprintf(num, sizeof(num), "%s", s);
			arxiv_mlflow_param(ml, k, num);
			free(s);
		}
	}
	json_decref(o);
	arxiv_buf_free(&b);
}

/* The final metrics of metadata/metrics.json as MLflow metrics. */
static void
log_final(struct arxiv_mlflow *ml, const char *dir, int *best_epoch)
{
	static const char *const sets[] = { "val", "test" };
	static const char *const keys[] = { "accuracy", "macro_f1", "weighted_f1", "loss",
	    "field_set_accuracy" };
	char path[4200], key[64];
	json_t *o, *g, *v;
	size_t i, j;

	snprintf(path, sizeof(path), "%s/metadata/metrics.json", dir);
	if ((o = json_load_file(path, 0, NULL)) == NULL)
		return;
	*best_epoch = (int)json_integer_value(json_object_get(o, "best_epoch"));
	v = json_object_get(json_object_get(o, "train"), "loss");
	if (json_is_number(v))
		arxiv_mlflow_metric(ml, "final_train_loss", json_number_value(v), 0);
	for (i = 0; i < 2; i++) {
		if ((g = json_object_get(o, sets[i])) == NULL)
			continue;
		for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
			v = json_object_get(g, keys[j]);
			if (json_is_number(v)) {
				snprintf(key, sizeof(key), "final_%s_%s", sets[i], keys[j]);
				arxiv_mlflow_metric(ml, key, json_number_value(v), 0);
			}
		}
	}
	json_decref(o);
}

static struct arxiv_dataset *
load(const char *path, const struct arxiv_dataset *ref)
{
	struct arxiv_error e = {0};
	struct arxiv_dataset *d;
	const char *labels[64];
	size_t i, n = ref ? arxiv_dataset_nlabels(ref) : 0;

	for (i = 0; i < n && i < 64; i++)
		labels[i] = arxiv_dataset_label(ref, i);
	if ((d = arxiv_dataset_load(path, ref ? labels : NULL, n, &e)) == NULL) {
		prog_warnerr(&e);
		exit(1);
	}
	return d;
}

/* Whether name is one of the library's model kinds. */
static int
known_kind(const char *name)
{
	const char *k;
	size_t i;

	for (i = 0; (k = arxiv_model_kind_name(i)) != NULL; i++)
		if (strcmp(k, name) == 0)
			return 1;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct arxiv_train_params p = arxiv_train_default_params();
	struct arxiv_dataset *train, *val, *test = NULL;
	struct arxiv_error e = {0};
	struct progress pr = { NULL, 0, 0 };
	struct sigaction sa;
	struct stat sb;
	const char *out = "artifacts", *test_path = NULL, *chk;
	const char *run_name_opt = NULL, *parent = NULL;
	char run_name[128], *mn, *mx;
	int c, force = 0, verbose = 0, rc, best = 0;

	old_flags(argc, argv);
	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'M':
			if (!known_kind(optarg)) {
				warnx("%s: unknown model type (fast or bert)", optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			p.model_type = optarg;
			break;
		case 'o': out = optarg; break;
		case 'f': force = 1; break;
		case 'p': p.patience = (int)prog_num(optarg, 0, 1000, "patience"); break;
		case 'e': p.epochs = (int)prog_num(optarg, 1, 100000, "epoch count"); break;
		case 'l': p.lr = prog_real(optarg, 1e-9, 100, "learning rate"); break;
		case 'd': p.dim = (int)prog_num(optarg, 0, 1024, "dimension"); break;
		case 'g': p.word_ngrams = (int)prog_num(optarg, 1, 8, "n-gram order"); break;
		case 'b': p.buckets = (size_t)prog_num(optarg, 1, 1L << 30, "bucket count"); break;
		case 'w': p.class_weight = prog_real(optarg, 0, 2, "class weight"); break;
		case 'j': p.threads = (int)prog_num(optarg, 0, 64, "thread count"); break;
		case 's': p.seed = (uint64_t)prog_num(optarg, 0, 0x7fffffffL, "seed"); break;
		case O_VERBOSE: verbose = 1; break;
		case O_TEST: test_path = optarg; break;
		case 'v': p.vocab = optarg; break;
		case 'i': p.init_dir = optarg; break;
		case 'c': p.config = optarg; break;
		case 'D': p.device = optarg; break;
		case O_PRECISION: p.precision = optarg; break;
		case 'r': p.resume_dir = optarg; break;
		case O_BATCH: p.batch_size = (int)prog_num(optarg, 1, 65536, "batch size"); break;
		case O_ACCUM: p.grad_accum = (int)prog_num(optarg, 1, 65536, "accumulation"); break;
		case O_WARMUP: p.warmup_ratio = prog_real(optarg, 0, 1, "warm-up ratio"); break;
		case O_WDECAY: p.weight_decay = prog_real(optarg, 0, 10, "weight decay"); break;
		case O_GRADNORM: p.max_grad_norm = prog_real(optarg, 0, 1e6, "gradient norm"); break;
		case O_DROPOUT: p.dropout = prog_real(optarg, 0, 0.99, "dropout"); break;
		case O_L2: p.l2 = prog_real(optarg, 0, 1, "l2"); break;
		case O_LOSS:
			if (strcmp(optarg, "hinge") && strcmp(optarg, "softmax")) {
				warnx("%s: unknown loss (hinge or softmax)", optarg);
				return 2;
			}
			p.loss = optarg;
			break;
		case O_TEACHER: p.teacher = optarg; break;
		case 'u': p.unlabelled = optarg; break;
		case O_DALPHA: p.distill_alpha = prog_real(optarg, 0, 1, "distill alpha"); break;
		case O_DTEMP: p.distill_temperature = prog_real(optarg, 0.01, 100, "distill temperature"); break;
		case O_RUNNAME: run_name_opt = optarg; break;
		case O_PARENT: parent = optarg; break;
		case O_PARAM:
			if ((mx = strchr(optarg, '=')) == NULL) {
				warnx("%s: expected key=value", optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			*mx++ = '\0';
			if (arxiv_train_params_set(&p, optarg, mx, &e) < 0) {
				warnx("--param: %s", e.text);
				return 2;
			}
			break;
		case O_CHAR:
			mn = optarg;
			if ((mx = strchr(optarg, ':')) == NULL) {
				warnx("%s: invalid char n-gram range (expected MIN:MAX, 0:0 = none)", optarg);
				return 2;
			}
			*mx++ = '\0';
			p.char_minn = (int)prog_num(mn, 0, 16, "char n-gram minimum");
			p.char_maxn = (int)prog_num(mx, 0, 16, "char n-gram maximum");
			if (p.char_maxn < p.char_minn || (p.char_maxn && !p.char_minn)) {
				warnx("invalid char n-gram range %d:%d", p.char_minn, p.char_maxn);
				return 2;
			}
			break;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2) {
		prog_usage(&P, stderr);
		return 2;
	}
	p.verbose = verbose;
	if ((chk = arxiv_train_params_check(&p)) != NULL) {
		warnx("%s", chk);
		return 2;
	}
	if (p.teacher)
		p.loss = "softmax";	/* what distillation trains (and so what MLflow records) */
	arxiv_set_log(prog_log, &verbose);
	if (stat(out, &sb) == 0 && !force)
		errx(1, "%s: already exists (overwrite it with -f)", out);

	/* before loading: a signal during the (long) load must not be lost */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	p.stop = &stop_flag;

	train = load(argv[0], NULL);
	if (arxiv_dataset_count(train) == 0)
		errx(1, "%s: no training examples", argv[0]);
	val = load(argv[1], train);
	if (test_path) {
		test = load(test_path, train);
		p.test = test;
	}

	snprintf(run_name, sizeof(run_name), "%s %s", p.model_type ? p.model_type : arxiv_model_kind_name(0), out);
	pr.ml = arxiv_mlflow_start(NULL, "arxiv", run_name_opt ? run_name_opt : run_name);
	if (parent && *parent)		/* a trial of arxiv-hpo: nested under its search */
		arxiv_mlflow_tag(pr.ml, "mlflow.parentRunId", parent);
	pr.show = verbose || isatty(STDERR_FILENO);
	pr.epochs = p.epochs;
	p.on_epoch = on_epoch;
	p.ud = &pr;
	if (pr.ml)
		log_params(pr.ml, &p);

	rc = arxiv_train(&p, train, val, out, force, &e);
	if (rc == 0) {
		log_final(pr.ml, out, &best);
		arxiv_mlflow_artifacts(pr.ml, out);
	}
	arxiv_mlflow_end(pr.ml, rc < 0 ? (stop_flag ? "KILLED" : "FAILED") :
	    (stop_flag ? "KILLED" : "FINISHED"));
	arxiv_dataset_free(train);
	arxiv_dataset_free(val);
	arxiv_dataset_free(test);
	if (rc < 0) {
		prog_warnerr(&e);
		return 1;
	}
	if (stop_flag) {
		warnx("interrupted by %s: %s holds the best complete epoch (%d)",
		    stop_signal == SIGTERM ? "SIGTERM" : "SIGINT", out, best);
		return 1;
	}
	if (verbose)
		warnx("%s: best epoch %d", out, best);
	return prog_fshut();
}
