/*
 * bert.cpp - the transformer model of libarxiv: a BERT encoder with a linear
 * classification head, in libtorch, behind the C table of bert_plugin.h.
 *
 * With bert_io.cpp (its files: config.json, the weights, the tokenizer
 * settings), bert_device.cpp (threads, device and precision), bert_pickle.cpp
 * (the reader of pytorch_model.bin), bert_train.cpp (the training loop) and
 * bert_adamw.cpp (its optimiser), the C++ of the plugin (bert_torch.h is
 * their shared header). It is built into the plugin libarxiv_torch.so.1
 * (never into libarxiv itself), which bert_loader.c dlopen()s on first use.
 * Every extern "C" entry point catches every exception and reports it in a
 * struct arxiv_error; no C++ type crosses the table.
 *
 * The model is Hugging Face's BertForSequenceClassification, tensor for
 * tensor: the same parameter names ("bert.embeddings.word_embeddings.weight",
 * "bert.encoder.layer.N.attention.self.query.weight", ..., "bert.pooler.dense.*",
 * "classifier.*"), the same config.json, the same arithmetic (post-LayerNorm
 * encoder, tanh pooler over [CLS], dropout, linear head). It is written with
 * ATen functions over a flat list of named tensors rather than torch::nn
 * modules: the names are then exactly HF's, and inference can fuse the query,
 * key and value projections into one matrix product.
 *
 * Files:
 *   import (arxiv-train -i DIR): DIR/config.json, DIR/vocab.txt, and
 *     DIR/model.safetensors or DIR/pytorch_model.bin (torch.save's zip format).
 *   artifacts: model/config.json, model/model.safetensors (HF names, loadable
 *     by BertForSequenceClassification.from_pretrained), tokenizer/vocab.txt,
 *     tokenizer/tokenizer_config.json (HF), tokenizer/preprocess.json (ours:
 *     seq_len, lowercase, preprocessing signature, vocabulary hash).
 *   checkpoint (every epoch): config.json, vocab.txt, model.safetensors,
 *     best.safetensors, optimizer.pt, rng.pt, state.json (written last).
 */
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/version.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <jansson.h>

extern "C" {
#include "bert_plugin.h"
}
#include "bert_torch.h"

#define PLUGIN_API extern "C" __attribute__((visibility("default")))

namespace arxiv_torch {

std::string
fmt(const char *f, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	return buf;
}

[[noreturn]] void
fail(const std::string &src, const std::string &msg, long line)
{
	throw Failure(src, line, msg);
}

/* ------------------------------------------------------------ errors */

/* The library's error (from a C call) as an exception. */
[[noreturn]] void
rethrow(const arxiv_error &e)
{
	throw Failure(e.source, e.line, e.text);
}

/* Run f, turning every exception into err; returns 0 or -1. */
template <class F>
int
guard(arxiv_error *err, F f)
{
	try {
		f();
		return 0;
	} catch (const Failure &e) {
		arxiv_error_set(err, e.source.c_str(), e.line, "%s", e.what());
	} catch (const c10::Error &e) {
		/* first line of libtorch's message, without its C++ backtrace */
		std::string m = e.what_without_backtrace();
		m = m.substr(0, m.find('\n'));
		arxiv_error_set(err, "", 0, "libtorch: %s", m.c_str());
	} catch (const std::bad_alloc &) {
		arxiv_error_set(err, "", 0, "out of memory");
	} catch (const std::exception &e) {
		arxiv_error_set(err, "", 0, "%s", e.what());
	} catch (...) {
		arxiv_error_set(err, "", 0, "unknown C++ exception");
	}
	return -1;
}

/* ------------------------------------------------------------ model */

at::Tensor &
param(Bert &m, const std::string &name)
{
	auto it = std::find(m.names.begin(), m.names.end(), name);
	if (it == m.names.end())
		throw std::logic_error("no parameter " + name);
	return m.params[it - m.names.begin()];
}

/* The parameter list of the config, HF order, with shapes, uninitialised. */
void
make_params(Bert &m, size_t n_labels)
{
	const Config &c = m.cfg;
	auto add = [&](const std::string &n, std::vector<int64_t> shape) {
		m.names.push_back(n);
		m.params.push_back(at::empty(shape, at::kFloat));
		bool nodecay = n.size() > 5 && (n.compare(n.size() - 5, 5, ".bias") == 0 ||
		    n.find("LayerNorm.weight") != std::string::npos);
		m.decay.push_back(!nodecay);
	};
	auto ln = [&](const std::string &p) {
		add(p + ".LayerNorm.weight", {c.hidden});
		add(p + ".LayerNorm.bias", {c.hidden});
	};
	auto lin = [&](const std::string &p, int64_t out, int64_t in) {
		add(p + ".weight", {out, in});
		add(p + ".bias", {out});
	};
	m.names.clear();
	m.params.clear();
	m.decay.clear();
	add("bert.embeddings.word_embeddings.weight", {c.vocab, c.hidden});
	add("bert.embeddings.position_embeddings.weight", {c.max_pos, c.hidden});
	add("bert.embeddings.token_type_embeddings.weight", {c.type_vocab, c.hidden});
	ln("bert.embeddings");
	for (int64_t i = 0; i < c.layers; i++) {
		std::string p = fmt("bert.encoder.layer.%lld.", (long long)i);
		lin(p + "attention.self.query", c.hidden, c.hidden);
		lin(p + "attention.self.key", c.hidden, c.hidden);
		lin(p + "attention.self.value", c.hidden, c.hidden);
		lin(p + "attention.output.dense", c.hidden, c.hidden);
		ln(p + "attention.output");
		lin(p + "intermediate.dense", c.inter, c.hidden);
		lin(p + "output.dense", c.hidden, c.inter);
		ln(p + "output");
	}
	lin("bert.pooler.dense", c.hidden, c.hidden);
	m.n_labels = n_labels;
	m.has_head = n_labels > 0;
	if (m.has_head)
		lin("classifier", (int64_t)n_labels, c.hidden);
}

/* Hugging Face's _init_weights for one tensor. */
void
init_param(Bert &m, size_t i)
{
	const std::string &n = m.names[i];
	at::NoGradGuard ng;
	at::Tensor &t = m.params[i];

	if (n.find("LayerNorm.weight") != std::string::npos)
		t.fill_(1.0);
	else if (n.compare(n.size() - 5, 5, ".bias") == 0)
		t.zero_();
	else {
		t.normal_(0.0, m.cfg.init_range);
		if (n == "bert.embeddings.word_embeddings.weight")
			t[m.cfg.pad].zero_();
	}
}

/* Point the named handles at m.params (after loading or moving). */
void
bind(Bert &m)
{
	m.word = param(m, "bert.embeddings.word_embeddings.weight");
	m.pos = param(m, "bert.embeddings.position_embeddings.weight");
	m.type = param(m, "bert.embeddings.token_type_embeddings.weight");
	m.elnw = param(m, "bert.embeddings.LayerNorm.weight");
	m.elnb = param(m, "bert.embeddings.LayerNorm.bias");
	m.layer.assign(m.cfg.layers, Layer());
	for (int64_t i = 0; i < m.cfg.layers; i++) {
		std::string p = fmt("bert.encoder.layer.%lld.", (long long)i);
		Layer &l = m.layer[i];
		l.qw = param(m, p + "attention.self.query.weight");
		l.qb = param(m, p + "attention.self.query.bias");
		l.kw = param(m, p + "attention.self.key.weight");
		l.kb = param(m, p + "attention.self.key.bias");
		l.vw = param(m, p + "attention.self.value.weight");
		l.vb = param(m, p + "attention.self.value.bias");
		l.aow = param(m, p + "attention.output.dense.weight");
		l.aob = param(m, p + "attention.output.dense.bias");
		l.ln1w = param(m, p + "attention.output.LayerNorm.weight");
		l.ln1b = param(m, p + "attention.output.LayerNorm.bias");
		l.iw = param(m, p + "intermediate.dense.weight");
		l.ib = param(m, p + "intermediate.dense.bias");
		l.ow = param(m, p + "output.dense.weight");
		l.ob = param(m, p + "output.dense.bias");
		l.ln2w = param(m, p + "output.LayerNorm.weight");
		l.ln2b = param(m, p + "output.LayerNorm.bias");
		if (m.fused) {
			/* inference: one [3H, H] product; q, k, v become views of it */
			at::NoGradGuard ng;
			int64_t H = m.cfg.hidden;
			l.qkvw = at::cat({l.qw, l.kw, l.vw}, 0).contiguous();
			l.qkvb = at::cat({l.qb, l.kb, l.vb}, 0).contiguous();
			const char *part[] = { "query", "key", "value" };
			for (int j = 0; j < 3; j++) {
				param(m, p + "attention.self." + part[j] + ".weight") = l.qkvw.narrow(0, j * H, H);
				param(m, p + "attention.self." + part[j] + ".bias") = l.qkvb.narrow(0, j * H, H);
			}
			l.qw = l.qkvw.narrow(0, 0, H);
			l.kw = l.qkvw.narrow(0, H, H);
			l.vw = l.qkvw.narrow(0, 2 * H, H);
			l.qb = l.qkvb.narrow(0, 0, H);
			l.kb = l.qkvb.narrow(0, H, H);
			l.vb = l.qkvb.narrow(0, 2 * H, H);
		}
	}
	m.poolw = param(m, "bert.pooler.dense.weight");
	m.poolb = param(m, "bert.pooler.dense.bias");
	if (m.has_head) {
		m.clsw = param(m, "classifier.weight");
		m.clsb = param(m, "classifier.bias");
	}
}

/* Mixed precision for the forward pass on CUDA (fp16) and, with libtorch >=
 * 2.4, MPS (bf16). Thread-local in libtorch, so safe per call. */
struct Autocast {
	bool on;
	at::DeviceType dt;
	explicit Autocast(const Bert &m) : on(m.amp), dt(m.dev.type())
	{
		if (!on)
			return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
		at::autocast::set_autocast_enabled(dt, true);
		at::autocast::set_autocast_dtype(dt, m.amp_dtype);
#else
		at::autocast::set_enabled(true);
		at::autocast::set_autocast_gpu_dtype(m.amp_dtype);
#endif
	}
	~Autocast()
	{
		if (!on)
			return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
		at::autocast::set_autocast_enabled(dt, false);
#else
		at::autocast::set_enabled(false);
#endif
		at::autocast::clear_cache();
	}
};

at::Tensor
activation(const Bert &m, const at::Tensor &x)
{
	if (m.cfg.act == "relu")
		return at::relu(x);
	if (m.cfg.act == "gelu")
		return at::gelu(x);
	return at::gelu(x, "tanh");	/* gelu_new, gelu_pytorch_tanh */
}

/* ids, mask: [B, L] int64 on m.dev. wemb: the word embeddings of ids to use
 * instead of looking them up (explanations take the gradient there), or undefined. */
Fwd
forward(const Bert &m, const at::Tensor &ids, const at::Tensor &mask, bool train, bool head,
    const at::Tensor &wemb = at::Tensor())
{
	const Config &c = m.cfg;
	int64_t B = ids.size(0), L = ids.size(1), H = c.hidden, nh = c.heads, hd = H / nh;
	Autocast ac(m);
	Fwd f;

	at::Tensor pos_ids = at::arange(L, ids.options());
	at::Tensor x = (wemb.defined() ? wemb : at::embedding(m.word, ids, c.pad)) +
	    at::embedding(m.pos, pos_ids).unsqueeze(0) + m.type[0];
	x = at::layer_norm(x, {H}, m.elnw, m.elnb, c.eps);
	x = at::dropout(x, c.hdrop, train);
	/* HF: (1 - mask) * finfo(float32).min added to the scores */
	at::Tensor ext = (1.0 - mask.to(at::kFloat).view({B, 1, 1, L})) *
	    (double)std::numeric_limits<float>::lowest();
	double scale = 1.0 / std::sqrt((double)hd);
#if ARXIV_HAVE_SDPA
	at::Tensor bmask;
	if (m.sdpa)
		bmask = mask.to(at::kBool).view({B, 1, 1, L});
#endif
	for (const Layer &l : m.layer) {
		at::Tensor q, k, v;
		if (m.fused && l.qkvw.defined()) {
			at::Tensor qkv = at::linear(x, l.qkvw, l.qkvb).view({B, L, 3, nh, hd})
			    .permute({2, 0, 3, 1, 4});
			q = qkv[0];
			k = qkv[1];
			v = qkv[2];
		} else {
			q = at::linear(x, l.qw, l.qb).view({B, L, nh, hd}).transpose(1, 2);
			k = at::linear(x, l.kw, l.kb).view({B, L, nh, hd}).transpose(1, 2);
			v = at::linear(x, l.vw, l.vb).view({B, L, nh, hd}).transpose(1, 2);
		}
		at::Tensor ctx;
#if ARXIV_HAVE_SDPA
		if (m.sdpa) {
			/* one fused kernel (flash / memory-efficient / cuDNN, libtorch's
			 * choice); the boolean mask keeps padding out as ext does */
			ctx = at::scaled_dot_product_attention(q, k, v, bmask,
			    train ? c.adrop : 0.0).transpose(1, 2).reshape({B, L, H});
		} else
#endif
		{
			at::Tensor s = at::matmul(q, k.transpose(-1, -2)) * scale + ext;
			at::Tensor p = at::softmax(s, -1);
			p = at::dropout(p, c.adrop, train);
			ctx = at::matmul(p, v).transpose(1, 2).reshape({B, L, H});
		}
		at::Tensor a = at::dropout(at::linear(ctx, l.aow, l.aob), c.hdrop, train);
		x = at::layer_norm(a + x, {H}, l.ln1w, l.ln1b, c.eps);
		at::Tensor i = activation(m, at::linear(x, l.iw, l.ib));
		at::Tensor o = at::dropout(at::linear(i, l.ow, l.ob), c.hdrop, train);
		x = at::layer_norm(o + x, {H}, l.ln2w, l.ln2b, c.eps);
	}
	f.hidden = x;
	f.pooled = at::tanh(at::linear(x.select(1, 0), m.poolw, m.poolb));
	if (head && m.has_head)
		f.logits = at::linear(at::dropout(f.pooled, c.cdrop, train), m.clsw, m.clsb).to(at::kFloat);
	return f;
}

/* ------------------------------------------------------------ batches */

/* Rows idx of (ids, mask, stride S), cut to the longest: [B, Lmax] int64 on dev. */
void
make_batch(const Bert &m, const uint32_t *ids, const uint8_t *mask, size_t S,
    const std::vector<size_t> &len, const size_t *idx, size_t B, at::Tensor &ti, at::Tensor &tm)
{
	size_t L = 1;

	for (size_t b = 0; b < B; b++)
		L = std::max(L, len[idx[b]]);
	ti = at::zeros({(int64_t)B, (int64_t)L}, at::kLong);
	tm = at::zeros({(int64_t)B, (int64_t)L}, at::kLong);
	int64_t *pi = ti.data_ptr<int64_t>(), *pm = tm.data_ptr<int64_t>();
	for (size_t b = 0; b < B; b++) {
		const uint32_t *ri = ids + idx[b] * S;
		const uint8_t *rm = mask + idx[b] * S;
		for (size_t j = 0; j < L; j++) {
			pi[b * L + j] = j < len[idx[b]] ? ri[j] : m.cfg.pad;
			pm[b * L + j] = j < len[idx[b]] ? (rm[j] != 0) : 0;
		}
	}
	if (m.dev.is_cuda()) {
		/* pinned host memory: the copies are asynchronous, the next batch is
		 * built while this one runs */
		ti = ti.pin_memory().to(m.dev, /*non_blocking=*/true);
		tm = tm.pin_memory().to(m.dev, /*non_blocking=*/true);
	} else if (m.dev != at::kCPU) {
		ti = ti.to(m.dev);
		tm = tm.to(m.dev);
	}
}

/* Length of each row: one past the last mask position set. */
std::vector<size_t>
row_lengths(const uint8_t *mask, size_t n, size_t S)
{
	std::vector<size_t> len(n);

	for (size_t i = 0; i < n; i++) {
		size_t l = S;
		while (l > 0 && mask[i * S + l - 1] == 0)
			l--;
		len[i] = std::max<size_t>(l, 1);
	}
	return len;
}

/* Inference order: longest first, in batches of at most max_b rows and
 * max_tok padded tokens. */
std::vector<std::pair<size_t, size_t>>
infer_batches(const std::vector<size_t> &len, std::vector<size_t> &order, size_t max_b,
    size_t max_tok)
{
	std::vector<std::pair<size_t, size_t>> r;

	order.resize(len.size());
	for (size_t i = 0; i < order.size(); i++)
		order[i] = i;
	std::stable_sort(order.begin(), order.end(),
	    [&](size_t a, size_t b) { return len[a] > len[b]; });
	for (size_t i = 0; i < order.size();) {
		size_t L = std::max<size_t>(len[order[i]], 1), b = 0;
		while (i + b < order.size() && b < max_b && (b + 1) * L <= std::max(max_tok, L))
			b++;
		r.emplace_back(i, b);
		i += b;
	}
	return r;
}

void
topk_fill(const at::Tensor &logits, const size_t *idx, size_t B, size_t k, arxiv_prediction *out)
{
	at::Tensor p = at::softmax(logits.to(at::kCPU, at::kFloat), -1);
	auto tk = p.topk((int64_t)k, -1);
	at::Tensor v = std::get<0>(tk).contiguous(), ix = std::get<1>(tk).contiguous();
	const float *pv = v.data_ptr<float>();
	const int64_t *pi = ix.data_ptr<int64_t>();

	for (size_t b = 0; b < B; b++) {
		arxiv_prediction &o = out[idx[b]];
		o.k = k;
		for (size_t j = 0; j < k; j++) {
			o.label[j] = (int32_t)pi[b * k + j];
			o.score[j] = pv[b * k + j];
		}
	}
}

/* ------------------------------------------------------------ loading */

void
make_model(Bert &m, const Config &cfg, size_t n_labels)
{
	m.cfg = cfg;
	make_params(m, n_labels);
}

/* Model from an artifacts directory (model/ + tokenizer/), or from a plain
 * Hugging Face folder (config.json, weights). Its tokenizer (vocab.txt,
 * preprocess.json or tokenizer_config.json) is libarxiv's (prep.c): info
 * tells it what it needs, a plain folder's sequence limit included
 * (min(512, max_position_embeddings), or sentence_bert_config.json's). */
std::unique_ptr<Bert>
load_model(const std::string &dir, const arxiv_model_opts *o, arxiv_torch_info *info)
{
	auto m = std::make_unique<Bert>();
	bool art = exists(join(dir, "model/config.json"));
	std::string mdir = art ? join(dir, "model") : dir;
	Config cfg = parse_config(join(mdir, "config.json"));

	make_model(*m, cfg, cfg.labels.size());
	m->seq_len = (size_t)std::min<int64_t>(512, m->cfg.max_pos);
	if (!art)
		read_st_config(*m, dir);
	{
		std::string wp = art ? join(mdir, "model.safetensors") : weights_path(dir);
		auto w = read_weights(wp, true);
		/* a BertModel checkpoint has no head: embeddings only */
		if (w.find("classifier.weight") == w.end()) {
			make_params(*m, 0);
			m->cfg.labels.clear();
			if (!art && !exists(join(dir, "modules.json")))
				m->pool = Bert::Pool::Cls;
		}
		assign_weights(*m, std::move(w), wp, Src::Load, true);
	}
	if (o != nullptr)
		set_threads(o->threads);
	pick_device(*m, o ? o->device : "auto", o ? o->precision : "auto");
	m->fused = true;
	to_device(*m, false);
	info->artifacts = art;
	info->vocab_size = (size_t)m->cfg.vocab;
	info->max_pos = (size_t)m->cfg.max_pos;
	info->seq_len = m->seq_len;
	return m;
}

/* ------------------------------------------------------------ inference */

/* n rows of S token ids (mask 1 then 0, as arxiv_tok_encode pads them). */
int
run_infer(const Bert &m, const uint32_t *ids, const uint8_t *mask, size_t n, size_t S, size_t k,
    arxiv_prediction *out, float *emb, arxiv_error *err)
{
	return guard(err, [&] {
		if (out != nullptr && !m.has_head)
			fail("", "this model has no classification head (embeddings only)");
		if (n == 0)
			return;
		c10::InferenceMode im;
		for (size_t i = 0; i < n * S; i++)
			if ((int64_t)ids[i] >= m.cfg.vocab)
				fail("", fmt("token id %u out of the vocabulary", ids[i]), (long)(i / S) + 1);
		std::vector<size_t> len = row_lengths(mask, n, S), order;
		auto batches = infer_batches(len, order, 64, 16384);
		k = std::min({k, m.n_labels, (size_t)ARXIV_TOPK_MAX});
		for (auto &bt : batches) {
			at::Tensor ti, tm;
			make_batch(m, ids, mask, S, len, &order[bt.first], bt.second, ti, tm);
			Fwd f = forward(m, ti, tm, false, out != nullptr);
			if (out != nullptr)
				topk_fill(f.logits, &order[bt.first], bt.second, k, out);
			if (emb != nullptr) {
				at::Tensor p = f.pooled;
				if (m.pool != Bert::Pool::Pooler) {
					at::Tensor h = f.hidden.to(at::kFloat);
					if (m.pool == Bert::Pool::Cls) {
						p = h.select(1, 0);
					} else {	/* sentence-transformers' Pooling, mean */
						at::Tensor w = tm.unsqueeze(-1).to(at::kFloat);
						p = (h * w).sum(1) / at::clamp_min(w.sum(1), 1e-9);
					}
				}
				if (m.normalize)	/* torch.nn.functional.normalize(p=2, eps=1e-12) */
					p = p / at::clamp_min(p.to(at::kFloat).norm(2, {1}, true), 1e-12);
				p = p.to(at::kCPU, at::kFloat).contiguous();
				const float *pp = p.data_ptr<float>();
				size_t H = (size_t)m.cfg.hidden;
				for (size_t b = 0; b < bt.second; b++)
					memcpy(emb + order[bt.first + b] * H, pp + b * H, H * sizeof(float));
			}
		}
	});
}

/*
 * Explanation of one answer (approximate): gradient x input on the word
 * embeddings of the logit margin of label win over label run, summed over the
 * hidden size, per token of the L ids of one sequence, into attr[L]. (libarxiv
 * sums the tokens into words, bert_loader.c.)
 */
void
explain_impl(const Bert &m, const uint32_t *ids, size_t L, int win, int run, float *attr)
{
	if (!m.has_head)
		fail("", "this model has no classification head");
	if (win < 0 || run < 0 || (size_t)win >= m.n_labels || (size_t)run >= m.n_labels || L == 0)
		fail("", "explain: label or length out of range");
	for (size_t j = 0; j < L; j++)
		if ((int64_t)ids[j] >= m.cfg.vocab)
			fail("", fmt("token id %u out of the vocabulary", ids[j]));
	std::vector<size_t> order{0}, len{L};
	std::vector<uint8_t> mask(L, 1);
	at::Tensor ti, tm;
	make_batch(m, ids, mask.data(), L, len, order.data(), 1, ti, tm);
	at::AutoGradMode grad(true);
	at::Tensor we = at::embedding(m.word, ti, m.cfg.pad).detach().to(at::kFloat).requires_grad_(true);
	Fwd f = forward(m, ti, tm, false, true, we);
	at::Tensor margin = f.logits.select(0, 0)[win] - f.logits.select(0, 0)[run];
	margin.backward();
	at::Tensor a = (we.grad() * we).sum(-1).select(0, 0).to(at::kCPU, at::kFloat).contiguous();
	memcpy(attr, a.data_ptr<float>(), L * sizeof(float));
}

}  // namespace arxiv_torch

using namespace arxiv_torch;

/* ------------------------------------------------------------ the C table */

static int
plugin_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
    struct arxiv_error *err)
{
	return guard(err, [&] { train_impl(p, train, val, tmp_dir, val_out); });
}

static int
plugin_train_tok(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    struct arxiv_torch_tok *out, struct arxiv_error *err)
{
	return guard(err, [&] { train_tok_impl(p, train, out); });
}

static void *
plugin_load(const char *dir, const struct arxiv_model_opts *o, struct arxiv_torch_info *info,
    struct arxiv_error *err)
{
	Bert *b = nullptr;

	if (guard(err, [&] { b = load_model(dir, o, info).release(); }) != 0)
		return nullptr;
	return b;
}

static void
plugin_free(void *m)
{
	try {
		delete static_cast<Bert *>(m);
	} catch (...) {
	}
}

static size_t
plugin_dim(const void *m)
{
	return m ? (size_t)static_cast<const Bert *>(m)->cfg.hidden : 0;
}

static size_t
plugin_nlabels(const void *m)
{
	return m ? static_cast<const Bert *>(m)->n_labels : 0;
}

static int
plugin_predict(const void *m, const uint32_t *ids, const uint8_t *mask, size_t n, size_t len,
    size_t k, struct arxiv_prediction *out, struct arxiv_error *err)
{
	return run_infer(*static_cast<const Bert *>(m), ids, mask, n, len, k, out, nullptr, err);
}

static int
plugin_embed(const void *m, const uint32_t *ids, const uint8_t *mask, size_t n, size_t len,
    float *out, struct arxiv_error *err)
{
	return run_infer(*static_cast<const Bert *>(m), ids, mask, n, len, 0, nullptr, out, err);
}

static int
plugin_explain(const void *m, const uint32_t *ids, size_t len, int win, int run, float *attr,
    struct arxiv_error *err)
{
	return guard(err, [&] { explain_impl(*static_cast<const Bert *>(m), ids, len, win, run,
	    attr); });
}

static int
plugin_forward_ids(const void *mp, const uint32_t *ids, const uint8_t *mask, size_t n,
    size_t len, float *logits, float *pooled, struct arxiv_error *err)
{
	const Bert &m = *static_cast<const Bert *>(mp);

	return guard(err, [&] {
		c10::InferenceMode im;
		std::vector<size_t> lens(n, len), idx(n);
		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		/* as given: padded to len, the mask says which positions count */
		at::Tensor ti = at::empty({(int64_t)n, (int64_t)len}, at::kLong);
		at::Tensor tm = at::empty({(int64_t)n, (int64_t)len}, at::kLong);
		for (size_t i = 0; i < n * len; i++) {
			if ((int64_t)ids[i] >= m.cfg.vocab)
				fail("", fmt("token id %u out of the vocabulary", ids[i]), (long)(i / len) + 1);
			ti.data_ptr<int64_t>()[i] = ids[i];
			tm.data_ptr<int64_t>()[i] = mask[i] != 0;
		}
		Fwd f = forward(m, ti.to(m.dev), tm.to(m.dev), false, logits != nullptr);
		if (logits != nullptr) {
			if (!m.has_head)
				fail("", "this model has no classification head");
			at::Tensor l = f.logits.to(at::kCPU, at::kFloat).contiguous();
			memcpy(logits, l.data_ptr<float>(), n * m.n_labels * sizeof(float));
		}
		if (pooled != nullptr) {
			at::Tensor pp = f.pooled.to(at::kCPU, at::kFloat).contiguous();
			memcpy(pooled, pp.data_ptr<float>(), n * (size_t)m.cfg.hidden * sizeof(float));
		}
	});
}

static const struct arxiv_torch_api plugin_table = {
	ARXIV_TORCH_ABI,
	TORCH_VERSION,
	plugin_train,
	plugin_train_tok,
	plugin_load,
	plugin_free,
	plugin_dim,
	plugin_predict,
	plugin_embed,
	plugin_forward_ids,
	plugin_nlabels,
	plugin_explain,
};

PLUGIN_API const struct arxiv_torch_api *
arxiv_torch_plugin(void)
{
	return &plugin_table;
}
