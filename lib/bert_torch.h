/*
 * bert_torch.h - what the C++ files of the transformer plugin share: the error
 * type every extern "C" edge of bert.cpp turns into a struct arxiv_error, the
 * reader of torch.save checkpoints (bert_pickle.cpp), the model (bert.cpp)
 * and what the training loop (bert_train.cpp) uses of it, and the AdamW
 * optimiser (bert_adamw.cpp). Not installed.
 */
#ifndef ARXIV_BERT_TORCH_H
#define ARXIV_BERT_TORCH_H

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/version.h>
#include <jansson.h>

extern "C" {
#include "bert_plugin.h"
}

/* libtorch 1.13 (Debian) and 2.x from one source: what differs is guarded here. */
#define ARXIV_TORCH_AT_LEAST(a, b) \
	(TORCH_VERSION_MAJOR > (a) || (TORCH_VERSION_MAJOR == (a) && TORCH_VERSION_MINOR >= (b)))
#define ARXIV_HAVE_SDPA ARXIV_TORCH_AT_LEAST(2, 0)

namespace arxiv_torch {

struct Failure : std::runtime_error {
	std::string source;
	long line;
	Failure(std::string src, long ln, const std::string &msg)
	    : std::runtime_error(msg), source(std::move(src)), line(ln) {}
};

/* printf into a std::string (up to 1 KiB). */
std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Throw a Failure naming src (and line). */
[[noreturn]] void fail(const std::string &src, const std::string &msg, long line = 0);

/* Every tensor of a torch.save zip archive holding a state dict (pytorch_model.bin). */
std::map<std::string, at::Tensor> read_torch_bin(const std::string &path);

/* ------------------------------------------------------------ bert.cpp */

/* The library's error (from a C call) as an exception. */
[[noreturn]] void rethrow(const arxiv_error &e);

/* files */
std::string join(const std::string &dir, const std::string &name);
std::string dirname_of(const std::string &path);
bool exists(const std::string &path);
void mkdir_p(const std::string &dir);
void write_file(const std::string &path, const std::string &data);
void copy_file(const std::string &from, const std::string &to);
void write_json(const std::string &path, json_t *j);

struct JsonPtr {
	json_t *j = nullptr;
	JsonPtr() = default;
	explicit JsonPtr(json_t *x) : j(x) {}
	JsonPtr(const JsonPtr &) = delete;
	JsonPtr &operator=(const JsonPtr &) = delete;
	JsonPtr(JsonPtr &&o) noexcept : j(o.j) { o.j = nullptr; }
	JsonPtr &operator=(JsonPtr &&o) noexcept { std::swap(j, o.j); return *this; }
	~JsonPtr() { json_decref(j); }
};

/* The JSON file path (an object unless object is false). */
JsonPtr load_json(const std::string &path, bool object);

struct Config {
	int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, inter = 0;
	int64_t max_pos = 512, type_vocab = 2, pad = 0;
	double eps = 1e-12, hdrop = 0.1, adrop = 0.1, cdrop = 0.1, init_range = 0.02;
	std::string act = "gelu";
	std::vector<std::string> labels;	/* id2label, may be empty */
	std::shared_ptr<json_t> raw;		/* the whole config.json, for export */
};

struct Layer {
	at::Tensor qw, qb, kw, kb, vw, vb, aow, aob, ln1w, ln1b, iw, ib, ow, ob, ln2w, ln2b;
	at::Tensor qkvw, qkvb;	/* fused for inference */
};

struct Bert {
	Config cfg;
	std::vector<std::string> names;		/* HF names, HF order */
	std::vector<at::Tensor> params;
	std::vector<bool> decay;		/* AdamW weight decay applies */
	at::Tensor word, pos, type, elnw, elnb, poolw, poolb, clsw, clsb;
	std::vector<Layer> layer;
	size_t n_labels = 0;
	bool has_head = false, fused = false;
	at::Device dev = at::kCPU;
	bool amp = false;
	at::ScalarType amp_dtype = at::kFloat;
	bool sdpa = false;	/* fused attention (libtorch >= 2, not on the CPU) */
	/* tokenizer settings of training, written to tokenizer/ (the plugin
	 * gets token ids from libarxiv, prep.c and bert_loader.c, which hold the
	 * model's cleaner, tokeniser and vocabulary) */
	uint64_t vocab_hash = 0;
	size_t seq_len = 256;	/* also a plain folder's limit, reported by load */
	bool lowercase = true;
	std::string prep;
	/* embeddings: the tanh pooler over [CLS] (our own and HF BertModel's), or
	 * what a sentence-transformers folder says: mean of the token states or
	 * the [CLS] state, then L2-normalised when it has a Normalize module */
	enum class Pool { Pooler, Mean, Cls } pool = Pool::Pooler;
	bool normalize = false;
};

struct Fwd {
	at::Tensor hidden, pooled, logits;
};

/* Import: training from a checkpoint (a missing pooler or classifier is
 * initialised); Load: inference (names normalised the same way, nothing
 * initialised: every tensor of the model must be there); Artifact: our own
 * files, exact names. */
enum class Src { Import, Load, Artifact };

Config parse_config(const std::string &path);
/* A sentence-transformers folder's pooling, normalisation and sequence limit (bert_io.cpp). */
void read_st_config(Bert &m, const std::string &dir);
/* Point the named handles at m.params (after loading or moving). */
void bind(Bert &m);
void make_model(Bert &m, const Config &cfg, size_t n_labels);
void init_param(Bert &m, size_t i);
bool read_lowercase(const std::string &dir);
arxiv_prep tokenizer_settings(const Bert &m);
void set_threads(int n);
void pick_device(Bert &m, const char *want, const char *precision);
void to_device(Bert &m, bool requires_grad);

/* weights */
std::string weights_path(const std::string &dir);
std::map<std::string, at::Tensor> read_weights(const std::string &path, bool shared);
void assign_weights(Bert &m, std::map<std::string, at::Tensor> w, const std::string &src,
    Src mode, bool keep_head);
void save_weights(const Bert &m, const std::string &path);

/* tokens and batches */
std::vector<size_t> row_lengths(const uint8_t *mask, size_t n, size_t S);
void make_batch(const Bert &m, const uint32_t *ids, const uint8_t *mask, size_t S,
    const std::vector<size_t> &len, const size_t *idx, size_t B, at::Tensor &ti, at::Tensor &tm);
std::vector<std::pair<size_t, size_t>> infer_batches(const std::vector<size_t> &len,
    std::vector<size_t> &order, size_t max_b, size_t max_tok);
void topk_fill(const at::Tensor &logits, const size_t *idx, size_t B, size_t k,
    arxiv_prediction *out);

/* ids, mask: [B, L] int64 on m.dev; wemb: word embeddings to use instead of
 * looking ids up, or an undefined tensor. */
Fwd forward(const Bert &m, const at::Tensor &ids, const at::Tensor &mask, bool train, bool head,
    const at::Tensor &wemb);

/* ------------------------------------------------------------ bert_adamw.cpp */

/*
 * AdamW (decoupled weight decay, bias-corrected moments, eps outside the
 * square root), the arithmetic of torch::optim::AdamW and of PyTorch's
 * torch.optim.AdamW, over groups of parameters with their own weight decay,
 * one kernel per operation for all the tensors of a group: on CUDA with
 * libtorch >= 2.0 the fused kernel (at::_fused_adamw_), otherwise the
 * multi-tensor path (at::_foreach_*, as torch.optim's _multi_tensor_adamw).
 * The step counts stay on the host; nothing is read back from the device.
 * A parameter without a gradient is left alone (its step count too).
 */
struct AdamWGroup {
	std::vector<at::Tensor> params;
	double weight_decay = 0;
};

class AdamW {
public:
	AdamW(std::vector<AdamWGroup> groups, double lr, double beta1 = 0.9, double beta2 = 0.999,
	    double eps = 1e-8);
	void set_lr(double lr) { lr_ = lr; }
	double lr() const { return lr_; }
	/* Every gradient to zero (kept allocated, as torch::optim's zero_grad). */
	void zero_grad();
	void step();
	/* "fused" or "multi-tensor": the path step() takes for these parameters. */
	const char *path() const { return fused_ ? "fused" : "multi-tensor"; }
	/* The moments and step counts, to resume (torch::save of a tensor list). */
	void save(std::ostream &os) const;
	void load(const std::string &file);

private:
	struct Group {
		std::vector<at::Tensor> p, m, v;
		std::vector<long> step;
		std::vector<at::Tensor> dstep;	/* fused: the step counts on the device */
		double wd = 0;
	};
	std::vector<Group> g_;
	double lr_, b1_, b2_, eps_;
	bool fused_ = false;
};

/* ------------------------------------------------------------ bert_train.cpp */

/* arxiv_train() for the transformer: fine-tune, checkpoint every epoch, leave
 * the best epoch's artifacts in tmp (model/, tokenizer/). */
void train_impl(const arxiv_train_params *p, const arxiv_dataset *train, const arxiv_dataset *val,
    const std::string &tmp, arxiv_prediction *val_out);
/* The plugin's train_tok: the tokenizer train_impl uses for p and train. */
void train_tok_impl(const arxiv_train_params *p, const arxiv_dataset *train, arxiv_torch_tok *out);

}  // namespace arxiv_torch

#endif
