/*
 * bert_train.cpp - fine-tuning the transformer of bert.cpp (arxiv_train()
 * with -M bert): the data sets as token ids, the epoch order (length
 * buckets), the optimiser and its schedule (linear warm-up and decay), fp16
 * loss scaling, gradient clipping, validation after every epoch, early
 * stopping, the divergence check, and the checkpoint a run resumes from.
 * Moved out of bert.cpp, which keeps the model, its files and inference.
 */
#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>
#include <torch/serialize.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <jansson.h>

#include "bert_torch.h"

namespace arxiv_torch {

namespace {

/* ------------------------------------------------------------ gradients */

/*
 * fp16 loss scaling: divide every gradient by scale and look for inf/NaN in
 * one multi-tensor call (what torch.cuda.amp.GradScaler does), one host read
 * of the flag. true when every gradient is finite.
 */
bool
unscale_grads(const std::vector<at::Tensor> &params, double scale)
{
	at::NoGradGuard ng;
	std::vector<at::Tensor> g;

	for (const auto &t : params)
		if (t.grad().defined())
			g.push_back(t.grad());
	if (g.empty())
		return true;
	at::Tensor found = at::zeros({1}, g[0].options().dtype(at::kFloat));
	at::Tensor inv = at::full({1}, 1.0 / scale, g[0].options().dtype(at::kFloat));
	if (g[0].is_cuda()) {
		at::_amp_foreach_non_finite_check_and_unscale_(g, found, inv);
	} else {
		for (auto &x : g) {	/* the CPU kernel of that op came with libtorch 2.x */
			x.mul_(inv);
			found.add_(at::logical_not(at::isfinite(x)).any().to(at::kFloat));
		}
	}
	return found.item<float>() == 0.0f;
}

/*
 * Gradient clipping by global norm, as torch::nn::utils::clip_grad_norm_
 * computes it (norm of the per-tensor norms, coefficient clamped at 1), but
 * without reading the norm back to the host: no synchronisation per step.
 */
void
clip_grads(const std::vector<at::Tensor> &params, double max_norm)
{
	at::NoGradGuard ng;
	std::vector<at::Tensor> g;

	for (const auto &t : params)
		if (t.grad().defined())
			g.push_back(t.grad());
	if (g.empty())
		return;
	std::vector<at::Tensor> norms = at::_foreach_norm(g, 2);
	at::Tensor total = norms.size() == 1 ? norms[0] : at::stack(norms).norm(2);
	at::Tensor coef = at::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
	for (auto &x : g)
		x.mul_(coef);
}

/* ------------------------------------------------------------ training */

struct TrainSet {
	const arxiv_dataset *d;
	const uint32_t *ids = nullptr;
	const uint8_t *mask = nullptr;
	size_t S = 0;
	std::vector<size_t> len;
};

/* The token ids of a data set (libarxiv tokenises JSONL text before train). */
TrainSet
prepare(const Bert &m, const arxiv_dataset *d)
{
	TrainSet s;

	s.d = d;
	if (d->ids != nullptr) {
		if (d->vocab_hash != m.vocab_hash)
			fail(d->name, fmt("tokenised with another vocabulary (hash %016llx) than the "
			    "checkpoint's vocab.txt (%016llx); run arxiv-tok with that vocab.txt",
			    (unsigned long long)d->vocab_hash, (unsigned long long)m.vocab_hash));
		if ((int64_t)d->seq_len > m.cfg.max_pos)
			fail(d->name, fmt("seq_len %zu exceeds max_position_embeddings %lld",
			    d->seq_len, (long long)m.cfg.max_pos));
		s.ids = d->ids;
		s.mask = d->mask;
		s.S = d->seq_len;
		for (size_t i = 0; i < d->n * s.S; i++)
			if ((int64_t)s.ids[i] >= m.cfg.vocab)
				fail(d->name, fmt("token id %u out of the vocabulary", s.ids[i]),
				    (long)(i / s.S) + 1);
	} else {
		fail(d->name, "no token ids");
	}
	s.len = row_lengths(s.mask, d->n, s.S);
	return s;
}

/* The order of one epoch: a seeded shuffle, then sort-by-length buckets of 50
 * batches (each batch padded to its longest), the batches shuffled again. */
std::vector<std::vector<size_t>>
epoch_batches(const std::vector<size_t> &len, size_t bs, uint64_t seed, int epoch)
{
	std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + (uint64_t)epoch);
	size_t n = len.size();
	std::vector<size_t> perm(n);
	std::vector<std::vector<size_t>> batches;

	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n; i > 1; i--)
		std::swap(perm[i - 1], perm[rng() % i]);
	size_t mega = bs * 50;
	for (size_t s = 0; s < n; s += mega) {
		size_t e = std::min(n, s + mega);
		std::stable_sort(perm.begin() + s, perm.begin() + e,
		    [&](size_t a, size_t b) { return len[a] > len[b]; });
		for (size_t b = s; b < e; b += bs)
			batches.emplace_back(perm.begin() + b, perm.begin() + std::min(e, b + bs));
	}
	for (size_t i = batches.size(); i > 1; i--)
		std::swap(batches[i - 1], batches[rng() % i]);
	return batches;
}

struct EvalResult {
	double loss = 0, acc = 0, macro_f1 = 0;
};

EvalResult
evaluate(const Bert &m, const TrainSet &s, size_t bs, arxiv_prediction *out)
{
	const arxiv_dataset *d = s.d;
	EvalResult r;
	std::vector<size_t> order;
	std::vector<arxiv_prediction> preds(d->n);
	size_t k = std::min<size_t>(m.n_labels, ARXIV_TOPK_MAX);
	double loss = 0;
	size_t counted = 0;
	at::NoGradGuard ng;

	auto batches = infer_batches(s.len, order, std::max<size_t>(bs, 32), 16384);
	for (auto &bt : batches) {
		at::Tensor ti, tm;
		make_batch(m, s.ids, s.mask, s.S, s.len, &order[bt.first], bt.second, ti, tm);
		Fwd f = forward(m, ti, tm, false, true, at::Tensor());
		topk_fill(f.logits, &order[bt.first], bt.second, k, preds.data());
		std::vector<int64_t> y;
		std::vector<int64_t> rows;
		for (size_t b = 0; b < bt.second; b++) {
			int32_t l = d->label[order[bt.first + b]];
			if (l >= 0 && (size_t)l < m.n_labels) {
				y.push_back(l);
				rows.push_back((int64_t)b);
			}
		}
		if (!y.empty()) {
			at::Tensor lg = f.logits.to(at::kCPU).index_select(0, at::tensor(rows));
			loss += torch::nn::functional::cross_entropy(lg, at::tensor(y),
			    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
			    .item<double>();
			counted += y.size();
		}
	}
	std::vector<const char *> names;
	for (auto &l : m.cfg.labels)
		names.push_back(l.c_str());
	std::unique_ptr<arxiv_metrics, void (*)(arxiv_metrics *)> mt(
	    arxiv_metrics_new(m.n_labels, names.data()), arxiv_metrics_free);
	if (!mt)
		throw std::bad_alloc();
	for (size_t i = 0; i < d->n; i++)
		if (d->label[i] >= 0)
			arxiv_metrics_add(mt.get(), d->label[i], &preds[i], d->fields ? d->fields[i] : 0);
	r.loss = counted ? loss / (double)counted : 0;
	r.acc = arxiv_metrics_accuracy(mt.get());
	r.macro_f1 = arxiv_metrics_macro_f1(mt.get());
	if (out != nullptr)
		std::copy(preds.begin(), preds.end(), out);
	return r;
}

/* Everything that must match for a resume to continue the same run. */
JsonPtr
run_fingerprint(const arxiv_train_params *p, size_t n_train, size_t n_val)
{
	json_t *j = json_object();
	json_object_set_new(j, "seed", json_string(fmt("%llu", (unsigned long long)p->seed).c_str()));
	json_object_set_new(j, "epochs", json_integer(p->epochs));
	json_object_set_new(j, "batch_size", json_integer(p->batch_size));
	json_object_set_new(j, "grad_accum", json_integer(p->grad_accum));
	json_object_set_new(j, "lr", json_real(p->lr));
	json_object_set_new(j, "warmup_ratio", json_real(p->warmup_ratio));
	json_object_set_new(j, "weight_decay", json_real(p->weight_decay));
	json_object_set_new(j, "max_grad_norm", json_real(p->max_grad_norm));
	json_object_set_new(j, "n_train", json_integer((json_int_t)n_train));
	json_object_set_new(j, "n_val", json_integer((json_int_t)n_val));
	return JsonPtr(j);
}

void
save_rng(const std::string &path)
{
	at::Generator g = at::detail::getDefaultCPUGenerator();
	at::Tensor st;
	{
		std::lock_guard<std::mutex> lock(g.mutex());
		st = g.get_state();
	}
	std::ostringstream os;
	torch::save(st, os);
	write_file(path, os.str());
}

void
load_rng(const std::string &path)
{
	at::Tensor st;
	torch::load(st, path);
	at::Generator g = at::detail::getDefaultCPUGenerator();
	std::lock_guard<std::mutex> lock(g.mutex());
	g.set_state(st);
}

void
remove_tree_files(const std::string &dir, const std::vector<std::string> &files)
{
	for (auto &f : files)
		unlink(join(dir, f).c_str());
	rmdir(dir.c_str());
}

const std::vector<std::string> ckpt_files = {
	"config.json", "vocab.txt", "model.safetensors", "best.safetensors", "optimizer.pt",
	"rng.pt", "state.json", "tokenizer_config.json"
};

/* Write the export config.json: the source config with our labels. */
void
write_config(const Bert &m, const std::string &path)
{
	json_t *j = json_deep_copy(m.cfg.raw.get());
	JsonPtr hold(j);
	json_t *id2 = json_object(), *l2i = json_object();

	for (size_t i = 0; i < m.cfg.labels.size(); i++) {
		json_object_set_new(id2, std::to_string(i).c_str(), json_string(m.cfg.labels[i].c_str()));
		json_object_set_new(l2i, m.cfg.labels[i].c_str(), json_integer((json_int_t)i));
	}
	json_object_set_new(j, "id2label", id2);
	json_object_set_new(j, "label2id", l2i);
	json_t *arch = json_array();
	json_array_append_new(arch, json_string("BertForSequenceClassification"));
	json_object_set_new(j, "architectures", arch);
	json_object_set_new(j, "model_type", json_string("bert"));
	json_object_set_new(j, "problem_type", json_string("single_label_classification"));
	json_object_set_new(j, "torch_dtype", json_string("float32"));
	json_object_set_new(j, "hidden_dropout_prob", json_real(m.cfg.hdrop));
	json_object_set_new(j, "attention_probs_dropout_prob", json_real(m.cfg.adrop));
	json_object_del(j, "_name_or_path");
	json_object_del(j, "num_labels");
	write_json(path, j);
}

void
write_tokenizer(const Bert &m, const std::string &vocab_src, const std::string &dir)
{
	mkdir_p(dir);
	copy_file(vocab_src, join(dir, "vocab.txt"));
	json_t *j = json_object();
	JsonPtr hold(j);
	json_object_set_new(j, "tokenizer_class", json_string("BertTokenizer"));
	json_object_set_new(j, "do_lower_case", json_boolean(m.lowercase));
	json_object_set_new(j, "model_max_length", json_integer((json_int_t)m.seq_len));
	json_object_set_new(j, "unk_token", json_string("[UNK]"));
	json_object_set_new(j, "sep_token", json_string("[SEP]"));
	json_object_set_new(j, "pad_token", json_string("[PAD]"));
	json_object_set_new(j, "cls_token", json_string("[CLS]"));
	json_object_set_new(j, "mask_token", json_string("[MASK]"));
	write_json(join(dir, "tokenizer_config.json"), j);
	arxiv_prep ts = tokenizer_settings(m);
	arxiv_error e{};
	if (arxiv_prep_write(join(dir, "preprocess.json").c_str(), &ts, &e) < 0)
		rethrow(e);
}

/*
 * Where checkpoints go when not resuming: arxiv_train() works in
 * "<out>.tmp.<host>-<pid>.XXXXXX", removed on failure, so checkpoints live beside it in
 * "<out>.ckpt" (resume with -r <out>.ckpt); any other tmp_dir gets
 * "<tmp_dir>/checkpoint".
 */
std::string
checkpoint_dir_for(const std::string &tmp)
{
	size_t k = tmp.rfind(".tmp.");

	if (k != std::string::npos && k > 0 && tmp.find('/', k) == std::string::npos)
		return tmp.substr(0, k) + ".ckpt";
	return join(tmp, "checkpoint");
}

double
lr_factor(long step, long warm, long total)
{
	if (step < warm)
		return (double)step / (double)std::max(1L, warm);
	return std::max(0.0, (double)(total - step) / (double)std::max(1L, total - warm));
}

/* The tokenizer and architecture of a run (train_tok in bert_plugin.h): the
 * checkpoint's (resume), the init folder's (-i) or the config's (-c, with
 * the vocab.txt beside it); a tensor stream's seq_len and lowercasing, else
 * min(256, max_pos) and the checkpoint's do_lower_case (a config: true). */
struct TokChoice {
	std::string src_dir, cfg_path, vocab_path;
	Config cfg;
	size_t seq_len = 256;
	bool lowercase = true;
};

TokChoice
choose_tok(const arxiv_train_params *p, const arxiv_dataset *train)
{
	TokChoice c;
	bool resume = p->resume_dir != nullptr && *p->resume_dir;

	if (resume) {
		std::string ck = p->resume_dir;
		c.cfg_path = join(ck, "config.json");
		c.vocab_path = join(ck, "vocab.txt");
		if (!exists(join(ck, "state.json")))
			fail(ck, "not a checkpoint directory (no state.json)");
	} else if (p->init_dir != nullptr && *p->init_dir) {
		c.src_dir = p->init_dir;
		c.cfg_path = join(c.src_dir, "config.json");
		c.vocab_path = join(c.src_dir, "vocab.txt");
	} else if (p->config != nullptr && *p->config) {
		c.cfg_path = p->config;
		c.vocab_path = join(dirname_of(c.cfg_path), "vocab.txt");
		if (!exists(c.vocab_path))
			fail(c.cfg_path, "no vocab.txt beside the config (the tokenizer's vocabulary)");
	} else {
		fail("", "the bert model needs a checkpoint folder (-i) or a config.json (-c)");
	}
	c.cfg = parse_config(c.cfg_path);
	if (!c.src_dir.empty()) {
		c.lowercase = read_lowercase(c.src_dir);
	} else if (resume) {
		JsonPtr ts = load_json(join(p->resume_dir, "tokenizer_config.json"), true);
		json_t *v = json_object_get(ts.j, "do_lower_case");
		c.lowercase = v == nullptr || json_is_true(v);
	}
	if (train->ids != nullptr) {
		c.seq_len = train->seq_len;
		c.lowercase = (train->tok_flags & 1) != 0;
	} else {
		c.seq_len = (size_t)std::min<int64_t>(256, c.cfg.max_pos);
	}
	return c;
}

}  // namespace

void
train_tok_impl(const arxiv_train_params *p, const arxiv_dataset *train, arxiv_torch_tok *out)
{
	TokChoice c = choose_tok(p, train);

	if (c.vocab_path.size() >= sizeof(out->vocab))
		fail(c.vocab_path, "path too long");
	snprintf(out->vocab, sizeof(out->vocab), "%s", c.vocab_path.c_str());
	out->vocab_size = (size_t)c.cfg.vocab;
	out->seq_len = c.seq_len;
	out->lowercase = c.lowercase;
}

void
train_impl(const arxiv_train_params *p, const arxiv_dataset *train, const arxiv_dataset *val,
    const std::string &tmp, arxiv_prediction *val_out)
{
	Bert m;
	std::string src_dir, cfg_path, vocab_path;
	bool resume = p->resume_dir != nullptr && *p->resume_dir;
	std::string auto_ck = checkpoint_dir_for(tmp);
	std::string ck = resume ? std::string(p->resume_dir) : auto_ck;
	bool own_ck = ck == auto_ck;	/* removed once training has finished */

	/* arxiv_train() resolves lr 0 to the transformer default (5e-5) */
	double lr = p->lr > 0 ? p->lr : 5e-5;
	if (p->lr > 0.01)
		arxiv_log(ARXIV_LOG_WARN, "learning rate %g is high for BERT (typical: 2e-5 to 1e-4)",
		    p->lr);
	if (train->n == 0)
		fail(train->name, "no training records");
	if (val == nullptr || val->n == 0)
		fail(val ? val->name : "", "no validation records");
	if (p->epochs < 1 || p->batch_size < 1 || p->grad_accum < 1)
		fail("", "epochs, batch size and gradient accumulation must be >= 1");
	if (train->n_labels < 1 || (val->n_labels != train->n_labels))
		fail(val->name, "training and validation sets have different label sets");

	/* architecture, vocabulary, initial weights */
	TokChoice tc = choose_tok(p, train);
	src_dir = tc.src_dir;
	cfg_path = tc.cfg_path;
	vocab_path = tc.vocab_path;
	Config cfg = tc.cfg;
	std::vector<std::string> labels(train->labels, train->labels + train->n_labels);
	bool keep_head = cfg.labels == labels;
	if (p->dropout > 0) {
		cfg.hdrop = cfg.adrop = cfg.cdrop = p->dropout;
	}
	cfg.labels = labels;
	make_model(m, cfg, labels.size());
	m.vocab_hash = train->vocab_hash;	/* libarxiv checked it against vocab_path */
	set_threads(p->threads);
	at::manual_seed(p->seed);
	if (!src_dir.empty()) {
		std::string wp = weights_path(src_dir);
		assign_weights(m, read_weights(wp, false), wp, Src::Import, keep_head);
		if (!keep_head)
			arxiv_log(ARXIV_LOG_INFO, "classifier initialised for %zu labels", labels.size());
	} else if (resume) {
		std::string wp = join(ck, "model.safetensors");
		assign_weights(m, read_weights(wp, false), wp, Src::Artifact, true);
	} else {
		for (size_t i = 0; i < m.params.size(); i++)
			init_param(m, i);
	}
	m.seq_len = tc.seq_len;
	m.lowercase = tc.lowercase;
	m.prep = train->prep ? train->prep : "";
	pick_device(m, p->device, p->precision);
	to_device(m, true);

	TrainSet tr = prepare(m, train), va = prepare(m, val);
	if (val->ids != nullptr && train->ids != nullptr && val->seq_len != train->seq_len)
		fail(val->name, "seq_len differs from the training set's");

	/* optimiser: AdamW, no decay on biases and LayerNorm weights */
	std::vector<at::Tensor> dec, nodec;
	for (size_t i = 0; i < m.params.size(); i++)
		(m.decay[i] ? dec : nodec).push_back(m.params[i]);
	std::vector<AdamWGroup> groups(2);
	groups[0].params = dec;
	groups[0].weight_decay = p->weight_decay;
	groups[1].params = nodec;
	groups[1].weight_decay = 0.0;
	AdamW opt(std::move(groups), lr, 0.9, 0.999, 1e-8);
	arxiv_log(ARXIV_LOG_DEBUG, "optimiser: AdamW, %s", opt.path());

	size_t bs = (size_t)p->batch_size, accum = (size_t)p->grad_accum;
	size_t nb = epoch_batches(tr.len, bs, p->seed, 1).size();
	long steps_per_epoch = (long)((nb + accum - 1) / accum);
	long total = steps_per_epoch * p->epochs;
	long warm = (long)std::ceil(p->warmup_ratio * (double)total);
	long step = 0;
	int start_epoch = 1, best_epoch = 0, bad = 0;
	double best_loss = std::numeric_limits<double>::infinity(), scale = 65536.0;
	long good_steps = 0;
	JsonPtr fp = run_fingerprint(p, train->n, val->n);
	std::string mdir = join(tmp, "model"), tdir = join(tmp, "tokenizer");
	std::string best_path = join(mdir, "model.safetensors");

	mkdir_p(mdir);
	write_config(m, join(mdir, "config.json"));
	write_tokenizer(m, vocab_path, tdir);
	if (resume) {
		JsonPtr st = load_json(join(ck, "state.json"), true);
		json_t *f = json_object_get(st.j, "run");
		const char *key;
		json_t *v;
		json_object_foreach(fp.j, key, v) {
			json_t *w = json_object_get(f, key);
			if (w == nullptr || !json_equal(v, w)) {
				char *a = json_dumps(v, JSON_ENCODE_ANY), *b = w ? json_dumps(w, JSON_ENCODE_ANY) : nullptr;
				std::string msg = fmt("checkpoint was made with %s %s, this run has %s; "
				    "resume with the same settings and data", key, b ? b : "(none)", a ? a : "?");
				free(a);
				free(b);
				fail(ck, msg);
			}
		}
		start_epoch = (int)json_integer_value(json_object_get(st.j, "epoch")) + 1;
		step = (long)json_integer_value(json_object_get(st.j, "step"));
		best_epoch = (int)json_integer_value(json_object_get(st.j, "best_epoch"));
		best_loss = json_number_value(json_object_get(st.j, "best_val_loss"));
		bad = (int)json_integer_value(json_object_get(st.j, "bad_epochs"));
		scale = json_number_value(json_object_get(st.j, "loss_scale"));
		good_steps = (long)json_integer_value(json_object_get(st.j, "good_steps"));
		opt.load(join(ck, "optimizer.pt"));
		load_rng(join(ck, "rng.pt"));
		if (best_epoch > 0)
			copy_file(join(ck, "best.safetensors"), best_path);
		arxiv_log(ARXIV_LOG_INFO, "resuming from %s after epoch %d", ck.c_str(), start_epoch - 1);
		if (start_epoch > p->epochs || (p->patience > 0 && bad >= p->patience))
			start_epoch = p->epochs + 1;	/* finished already */
	}

	bool fp16 = m.amp && m.amp_dtype == at::kHalf;
	bool stopped = false;
	std::vector<at::Tensor> all(m.params.begin(), m.params.end());
	for (int epoch = start_epoch; epoch <= p->epochs && !stopped; epoch++) {
		if (p->stop && *p->stop) {
			stopped = true;
			break;
		}
		auto t0 = std::chrono::steady_clock::now();
		auto batches = epoch_batches(tr.len, bs, p->seed, epoch);
		/* the loss sum stays on the device: read back once an epoch, not
		 * once a step (a host synchronisation stalls the GPU's queue) */
		at::Tensor tl_sum = at::zeros({}, at::TensorOptions().device(m.dev).dtype(at::kDouble));
		double tl = 0;
		size_t seen = 0;
		for (size_t g = 0; g < batches.size() && !stopped; g += accum) {
			size_t ge = std::min(batches.size(), g + accum);
			opt.zero_grad();
			for (size_t b = g; b < ge; b++) {
				at::Tensor ti, tm;
				const auto &ix = batches[b];
				make_batch(m, tr.ids, tr.mask, tr.S, tr.len, ix.data(), ix.size(), ti, tm);
				std::vector<int64_t> y(ix.size());
				for (size_t r = 0; r < ix.size(); r++) {
					int32_t l = train->label[ix[r]];
					if (l < 0 || (size_t)l >= m.n_labels)
						fail(train->name, "unlabelled record", (long)ix[r] + 1);
					y[r] = l;
				}
				at::Tensor ty = at::tensor(y).to(m.dev);
				Fwd f = forward(m, ti, tm, true, true, at::Tensor());
				at::Tensor loss = torch::nn::functional::cross_entropy(f.logits, ty);
				tl_sum.add_(loss.detach().to(at::kDouble) * (double)ix.size());
				seen += ix.size();
				loss = loss / (double)(ge - g);
				if (fp16)
					loss = loss * scale;
				loss.backward();
			}
			bool finite = true;
			if (fp16)
				finite = unscale_grads(all, scale);
			if (finite) {
				if (p->max_grad_norm > 0)
					clip_grads(all, p->max_grad_norm);
				double f = lr_factor(step, warm, total);
				opt.set_lr(lr * f);
				opt.step();
				if (fp16 && ++good_steps % 2000 == 0)
					scale *= 2;
			} else {
				scale /= 2;
				good_steps = 0;
				arxiv_log(ARXIV_LOG_DEBUG, "fp16 overflow: step skipped, loss scale %g", scale);
			}
			step++;
			if (p->stop && *p->stop)
				stopped = true;
		}
		tl = tl_sum.item<double>();
		if (stopped)
			break;	/* the last complete epoch's checkpoint stays */
		opt.zero_grad();
		EvalResult ev = evaluate(m, va, bs, nullptr);
		double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
		arxiv_epoch_stats es{};
		es.epoch = epoch;
		es.train_loss = seen ? tl / (double)seen : 0;
		es.val_loss = ev.loss;
		if (!std::isfinite(es.train_loss) || !std::isfinite(es.val_loss))
			fail("", fmt("training diverged at epoch %d (loss is not finite); lower the "
			    "learning rate (now %g)", epoch, lr));
		es.val_accuracy = ev.acc;
		es.val_macro_f1 = ev.macro_f1;
		es.seconds = secs;
		es.examples_per_s = secs > 0 ? (double)seen / secs : 0;
		es.best = ev.loss < best_loss;
		if (es.best) {
			best_loss = ev.loss;
			best_epoch = epoch;
			bad = 0;
			save_weights(m, best_path);
		} else {
			bad++;
		}
		/* checkpoint: weights, optimiser, RNG, then state.json last */
		mkdir_p(ck);
		save_weights(m, join(ck, "model.safetensors"));
		if (es.best)
			copy_file(best_path, join(ck, "best.safetensors"));
		{
			std::ostringstream os;
			opt.save(os);
			write_file(join(ck, "optimizer.pt"), os.str());
		}
		save_rng(join(ck, "rng.pt"));
		if (!resume || epoch == start_epoch) {
			write_config(m, join(ck, "config.json"));
			copy_file(vocab_path, join(ck, "vocab.txt"));
			copy_file(join(tdir, "tokenizer_config.json"), join(ck, "tokenizer_config.json"));
		}
		json_t *st = json_object();
		JsonPtr hold(st);
		json_object_set_new(st, "epoch", json_integer(epoch));
		json_object_set_new(st, "step", json_integer(step));
		json_object_set_new(st, "best_epoch", json_integer(best_epoch));
		json_object_set_new(st, "best_val_loss", json_real(best_loss));
		json_object_set_new(st, "bad_epochs", json_integer(bad));
		json_object_set_new(st, "loss_scale", json_real(scale));
		json_object_set_new(st, "good_steps", json_integer(good_steps));
		json_object_set(st, "run", fp.j);
		write_json(join(ck, "state.json"), st);
		arxiv_log(epoch == start_epoch ? ARXIV_LOG_INFO : ARXIV_LOG_DEBUG,
		    "checkpoint of epoch %d in %s (resume with -r)", epoch, ck.c_str());
		if (p->on_epoch)
			p->on_epoch(&es, p->ud);
		if (p->patience > 0 && bad >= p->patience) {
			arxiv_log(ARXIV_LOG_INFO, "early stop after epoch %d (best %d)", epoch, best_epoch);
			break;
		}
	}
	if (best_epoch == 0)
		fail("", "training stopped before the first epoch ended");
	/* the artifacts hold the best epoch: its validation predictions */
	assign_weights(m, read_weights(best_path, false), best_path, Src::Artifact, true);
	to_device(m, false);
	if (val_out != nullptr)
		evaluate(m, va, bs, val_out);
	if (own_ck && !stopped)
		remove_tree_files(ck, ckpt_files);
}

}  // namespace arxiv_torch
