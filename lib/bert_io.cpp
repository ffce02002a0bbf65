/*
 * bert_io.cpp - the files of the transformer plugin (bert.cpp): file and JSON
 * helpers, config.json (Hugging Face's BertConfig), the weights (safetensors
 * or pytorch_model.bin, read into the model under HF's names and written back
 * as safetensors), the tokenizer settings, and a sentence-transformers
 * folder's pooling. Moved out of bert.cpp, which keeps the model, its forward
 * pass, inference and the C table.
 */
#include <ATen/ATen.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/stat.h>

#include <jansson.h>

#include "bert_torch.h"

namespace arxiv_torch {

/* ------------------------------------------------------------ files */

std::string
join(const std::string &dir, const std::string &name)
{
	if (dir.empty())
		return name;
	return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string
dirname_of(const std::string &path)
{
	size_t s = path.rfind('/');

	if (s == std::string::npos)
		return ".";
	return s == 0 ? "/" : path.substr(0, s);
}

bool
exists(const std::string &path)
{
	struct stat st;

	return stat(path.c_str(), &st) == 0;
}

void
mkdir_p(const std::string &dir)
{
	std::string cur;
	size_t i = 0;

	while (i <= dir.size()) {
		size_t j = dir.find('/', i);
		if (j == std::string::npos)
			j = dir.size();
		cur = dir.substr(0, j);
		if (!cur.empty() && mkdir(cur.c_str(), 0777) != 0 && errno != EEXIST)
			fail(cur, fmt("cannot create directory: %s", strerror(errno)));
		i = j + 1;
	}
}

std::string
read_file(const std::string &path)
{
	std::ifstream f(path, std::ios::binary);
	if (!f)
		fail(path, fmt("cannot open: %s", strerror(errno)));
	std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	if (f.bad())
		fail(path, "read error");
	return s;
}

/* Write data to path through a mkstemp temporary + rename (arxiv_atomic_write). */
void
write_file(const std::string &path, const std::string &data)
{
	struct arxiv_error e;

	if (arxiv_atomic_write(path.c_str(), nullptr, data.data(), data.size(), &e) < 0)
		fail(e.source, e.text);
}

void
copy_file(const std::string &from, const std::string &to)
{
	write_file(to, read_file(from));
}

/* Write a JSON value (not stolen) to path, indented, keys sorted. */
void
write_json(const std::string &path, json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s == nullptr)
		throw std::bad_alloc();
	std::string data(s);
	free(s);
	write_file(path, data + "\n");
}

JsonPtr
load_json(const std::string &path, bool object = true)
{
	json_error_t je;
	json_t *j = json_load_file(path.c_str(), 0, &je);

	if (j == nullptr) {
		if (!exists(path))
			fail(path, fmt("cannot open: %s", strerror(ENOENT)));
		fail(path, fmt("invalid JSON: %s", je.text), je.line);
	}
	if (object && !json_is_object(j)) {
		json_decref(j);
		fail(path, "not a JSON object");
	}
	return JsonPtr(j);
}

/* ------------------------------------------------------------ config */

int64_t
cfg_int(json_t *j, const char *key, int64_t def, int64_t lo, int64_t hi, const std::string &path)
{
	json_t *v = json_object_get(j, key);

	if (v == nullptr || json_is_null(v)) {
		if (def < 0)
			fail(path, fmt("missing \"%s\"", key));
		return def;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		fail(path, fmt("\"%s\" must be an integer in %lld..%lld", key, (long long)lo,
		    (long long)hi));
	return json_integer_value(v);
}

double
cfg_real(json_t *j, const char *key, double def, double lo, double hi, const std::string &path)
{
	json_t *v = json_object_get(j, key);

	if (v == nullptr || json_is_null(v))
		return def;
	if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
		fail(path, fmt("\"%s\" must be a number in %g..%g", key, lo, hi));
	return json_number_value(v);
}

Config
parse_config(const std::string &path)
{
	JsonPtr jp = load_json(path);
	json_t *j = jp.j;
	Config c;
	json_t *v;

	if ((v = json_object_get(j, "model_type")) != nullptr && json_is_string(v) &&
	    strcmp(json_string_value(v), "bert") != 0)
		fail(path, fmt("model_type \"%s\" is not supported (only \"bert\")",
		    json_string_value(v)));
	if ((v = json_object_get(j, "position_embedding_type")) != nullptr &&
	    json_is_string(v) && strcmp(json_string_value(v), "absolute") != 0)
		fail(path, fmt("position_embedding_type \"%s\" is not supported (only \"absolute\")",
		    json_string_value(v)));
	c.vocab = cfg_int(j, "vocab_size", -1, 1, 10000000, path);
	c.hidden = cfg_int(j, "hidden_size", -1, 1, 65536, path);
	c.layers = cfg_int(j, "num_hidden_layers", -1, 1, 1000, path);
	c.heads = cfg_int(j, "num_attention_heads", -1, 1, 1024, path);
	c.inter = cfg_int(j, "intermediate_size", -1, 1, 1 << 20, path);
	c.max_pos = cfg_int(j, "max_position_embeddings", 512, 1, 1 << 20, path);
	c.type_vocab = cfg_int(j, "type_vocab_size", 2, 1, 1 << 20, path);
	c.pad = cfg_int(j, "pad_token_id", 0, 0, c.vocab - 1, path);
	c.eps = cfg_real(j, "layer_norm_eps", 1e-12, 0, 1, path);
	c.hdrop = cfg_real(j, "hidden_dropout_prob", 0.1, 0, 1, path);
	c.adrop = cfg_real(j, "attention_probs_dropout_prob", 0.1, 0, 1, path);
	c.cdrop = cfg_real(j, "classifier_dropout", c.hdrop, 0, 1, path);
	c.init_range = cfg_real(j, "initializer_range", 0.02, 0, 10, path);
	if (c.hidden % c.heads != 0)
		fail(path, fmt("hidden_size %lld is not a multiple of num_attention_heads %lld",
		    (long long)c.hidden, (long long)c.heads));
	if ((v = json_object_get(j, "hidden_act")) != nullptr) {
		if (!json_is_string(v))
			fail(path, "\"hidden_act\" must be a string");
		c.act = json_string_value(v);
		if (c.act != "gelu" && c.act != "relu" && c.act != "gelu_new" &&
		    c.act != "gelu_pytorch_tanh")
			fail(path, fmt("hidden_act \"%s\" is not supported (gelu, gelu_new, relu)",
			    c.act.c_str()));
	}
	if ((v = json_object_get(j, "id2label")) != nullptr && json_is_object(v)) {
		size_t n = json_object_size(v);
		c.labels.resize(n);
		const char *key;
		json_t *lv;
		json_object_foreach(v, key, lv) {
			char *end;
			long id = strtol(key, &end, 10);
			if (*end != '\0' || id < 0 || (size_t)id >= n || !json_is_string(lv) ||
			    !c.labels[id].empty())
				fail(path, fmt("id2label: bad entry \"%s\"", key));
			c.labels[id] = json_string_value(lv);
		}
	}
	json_incref(j);
	c.raw = std::shared_ptr<json_t>(j, json_decref);
	return c;
}

/* ------------------------------------------------------------ weights */

/* A tensor from a checkpoint as float32 CPU. With hold (inference), an
 * aligned F32 tensor is not copied: it points into the read-only mapping of the
 * file, which hold keeps alive. */
at::Tensor
st_tensor(const arxiv_st_tensor &t, const std::string &src,
    const std::shared_ptr<arxiv_st> &hold = nullptr)
{
	std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
	at::ScalarType st;

	switch (t.dtype) {
	case ARXIV_F32: st = at::kFloat; break;
	case ARXIV_F16: st = at::kHalf; break;
	case ARXIV_BF16: st = at::kBFloat16; break;
	default:
		fail(src, fmt("tensor %s: dtype is not F32, F16 or BF16", t.name));
	}
	at::Tensor x = at::empty(shape, at::TensorOptions().dtype(st));
	if ((size_t)x.nbytes() != t.nbytes)
		fail(src, fmt("tensor %s: %zu bytes for its shape, file has %zu", t.name,
		    (size_t)x.nbytes(), t.nbytes));
	if (hold && st == at::kFloat && ((uintptr_t)t.data % alignof(float)) == 0 && t.nbytes > 0) {
		std::shared_ptr<arxiv_st> keep = hold;
		return at::from_blob(const_cast<void *>(t.data), shape, [keep](void *) {},
		    at::TensorOptions().dtype(at::kFloat));
	}
	memcpy(x.data_ptr(), t.data, t.nbytes);
	return x.to(at::kFloat);
}

/* pytorch_model.bin: read_torch_bin in bert_pickle.cpp. */

/* Refuse a tensor with a NaN or an infinity: it would answer "confidence":nan. */
void
check_finite(const std::map<std::string, at::Tensor> &w, const std::string &path)
{
	for (auto &kv : w)
		if (kv.second.is_floating_point() && !at::isfinite(kv.second).all().item<bool>())
			fail(path, "tensor '" + kv.first + "': non-finite value (NaN or Inf); the "
			    "model is damaged (retrain it)");
}

std::map<std::string, at::Tensor> read_weights_raw(const std::string &path, bool shared);

/* Read every tensor of a safetensors or pytorch_model.bin file; shared: the
 * tensors may share the file's read-only mapping (inference only). Every
 * value must be finite. */
std::map<std::string, at::Tensor>
read_weights(const std::string &path, bool shared = false)
{
	std::map<std::string, at::Tensor> w = read_weights_raw(path, shared);

	check_finite(w, path);
	return w;
}

std::map<std::string, at::Tensor>
read_weights_raw(const std::string &path, bool shared)
{
	std::map<std::string, at::Tensor> w;
	size_t n = path.size();

	if (n >= 4 && path.compare(n - 4, 4, ".bin") == 0) {
		for (auto &kv : read_torch_bin(path))
			if (kv.second.is_floating_point())
				w[kv.first] = kv.second.to(at::kFloat).contiguous();
			else if (kv.first.find(".position_ids") == std::string::npos)
				fail(path, "tensor " + kv.first + ": not a floating-point tensor");
		return w;
	}
	arxiv_error e{};
	arxiv_st *st = arxiv_st_open(path.c_str(), &e);
	if (st == nullptr)
		rethrow(e);
	std::shared_ptr<arxiv_st> hold(st, arxiv_st_close);
	for (size_t i = 0; i < arxiv_st_count(st); i++) {
		arxiv_st_tensor t;
		if (arxiv_st_get(st, i, &t) != 0)
			fail(path, fmt("cannot read tensor %zu", i));
		std::string name = t.name;
		if (name.size() >= 13 && name.compare(name.size() - 13, 13, ".position_ids") == 0)
			continue;	/* a buffer, not a weight (older transformers saved it) */
		w[name] = st_tensor(t, path, shared ? hold : nullptr);
	}
	return w;
}

std::string
shape_str(at::IntArrayRef s)
{
	std::string r = "[";
	for (size_t i = 0; i < s.size(); i++)
		r += (i ? ", " : "") + std::to_string(s[i]);
	return r + "]";
}

/*
 * Put the checkpoint's tensors into m. Import: HF names with or without the
 * "bert." prefix (BertModel), TF-era gamma/beta names, pretraining heads
 * (cls.*) dropped; a missing pooler is initialised, and the classifier is
 * initialised when missing or when keep_head is false. Artifact: every tensor
 * must be there, nothing else.
 */
void
assign_weights(Bert &m, std::map<std::string, at::Tensor> w, const std::string &src, Src mode,
    bool keep_head)
{
	if (mode != Src::Artifact) {
		bool prefixed = false;
		for (auto &kv : w)
			if (kv.first.compare(0, 5, "bert.") == 0)
				prefixed = true;
		std::map<std::string, at::Tensor> r;
		for (auto &kv : w) {
			std::string n = kv.first;
			if (n.compare(0, 4, "cls.") == 0 || n.find(".position_ids") != std::string::npos) {
				arxiv_log(ARXIV_LOG_DEBUG, "%s: ignoring %s", src.c_str(), n.c_str());
				continue;
			}
			if (!prefixed && n.compare(0, 11, "classifier.") != 0)
				n = "bert." + n;
			size_t g;
			if ((g = n.rfind(".gamma")) != std::string::npos && g + 6 == n.size())
				n = n.substr(0, g) + ".weight";
			if ((g = n.rfind(".beta")) != std::string::npos && g + 5 == n.size())
				n = n.substr(0, g) + ".bias";
			r[n] = kv.second;
		}
		w.swap(r);
	}
	for (size_t i = 0; i < m.names.size(); i++) {
		const std::string &n = m.names[i];
		bool head = n.compare(0, 11, "classifier.") == 0;
		auto it = w.find(n);
		if (mode == Src::Import && head && !keep_head) {
			if (it != w.end())
				w.erase(it);
			init_param(m, i);
			continue;
		}
		if (it == w.end()) {
			if (mode == Src::Import && (head || n.compare(0, 12, "bert.pooler.") == 0)) {
				arxiv_log(ARXIV_LOG_INFO, "%s: %s not in the checkpoint, initialised",
				    src.c_str(), n.c_str());
				init_param(m, i);
				continue;
			}
			fail(src, "missing tensor " + n);
		}
		if (!it->second.is_floating_point())
			fail(src, "tensor " + n + ": not a floating-point tensor");
		if (it->second.sizes() != m.params[i].sizes())
			fail(src, "tensor " + n + " has shape " + shape_str(it->second.sizes()) +
			    ", config.json needs " + shape_str(m.params[i].sizes()));
		m.params[i] = it->second.to(at::kFloat).contiguous();	/* w owned it */
		w.erase(it);
	}
	if (!w.empty())
		fail(src, "unexpected tensor " + w.begin()->first);
}

/* Save the parameters (float32, HF names) as safetensors. */
void
save_weights(const Bert &m, const std::string &path)
{
	std::vector<at::Tensor> cpu;
	std::vector<arxiv_st_tensor> t(m.names.size());
	arxiv_error e{};

	for (size_t i = 0; i < m.names.size(); i++) {
		cpu.push_back(m.params[i].detach().to(at::kCPU, at::kFloat).contiguous());
		t[i].name = m.names[i].c_str();
		t[i].dtype = ARXIV_F32;
		t[i].ndim = (int)cpu[i].dim();
		for (int d = 0; d < t[i].ndim; d++)
			t[i].shape[d] = cpu[i].size(d);
		t[i].data = cpu[i].data_ptr();
		t[i].nbytes = cpu[i].nbytes();
	}
	static const char *const meta[] = { "format", "pt" };
	if (arxiv_st_save(path.c_str(), t.data(), t.size(), meta, 1, &e) != 0)
		rethrow(e);
}

/* ------------------------------------------------------------ tokenizer */

/* HF tokenizer_config.json: do_lower_case (default true, as BertTokenizer). */
bool
read_lowercase(const std::string &dir)
{
	std::string p = join(dir, "tokenizer_config.json");

	if (!exists(p))
		return true;
	JsonPtr j = load_json(p);
	json_t *v = json_object_get(j.j, "do_lower_case");
	return v == nullptr || json_is_true(v);
}

/* ------------------------------------------------------------ loading */

/* Weights file of a checkpoint folder. */
std::string
weights_path(const std::string &dir)
{
	std::string st = join(dir, "model.safetensors"), bin = join(dir, "pytorch_model.bin");

	if (exists(st))
		return st;
	if (exists(bin))
		return bin;
	if (exists(join(dir, "model.safetensors.index.json")) ||
	    exists(join(dir, "pytorch_model.bin.index.json")))
		fail(dir, "sharded checkpoints are not supported");
	fail(dir, "no model.safetensors or pytorch_model.bin");
}

arxiv_prep
tokenizer_settings(const Bert &m)
{
	arxiv_prep p = arxiv_prep_default();

	snprintf(p.input, sizeof(p.input), "wordpiece");
	if (snprintf(p.prep, sizeof(p.prep), "%s", m.prep.c_str()) >= (int)sizeof(p.prep))
		fail("", "preprocessing signature too long");
	p.seq_len = m.seq_len;
	p.lowercase = m.lowercase;
	p.vocab_hash = m.vocab_hash;
	p.has_vocab_hash = 1;
	p.vocab_size = (size_t)m.cfg.vocab;
	return p;
}

/*
 * A sentence-transformers folder (modules.json): the Pooling module's config
 * (pooling_mode_mean_tokens or pooling_mode_cls_token; the other modes are
 * refused), a Normalize module, and max_seq_length of sentence_bert_config.json,
 * as SentenceTransformer(dir).encode() applies them. No modules.json: the
 * [CLS] state of a bare BertModel, the trained pooler of a checkpoint with a
 * classification head. (Our artifacts keep their trained pooler.)
 */
void
read_st_config(Bert &m, const std::string &dir)
{
	std::string mp = join(dir, "modules.json");

	if (!exists(mp)) {
		/* a plain checkpoint: decided once the weights are read (bert_load):
		 * with a classification head, its trained pooler; a bare BertModel,
		 * the [CLS] state, as SPECTER (that pooler was trained for
		 * next-sentence prediction only) */
		return;
	}
	JsonPtr j = load_json(mp, false);
	bool pooling = false;
	size_t i;
	json_t *mod;

	if (!json_is_array(j.j))
		fail(mp, "not a JSON array of modules");
	json_array_foreach(j.j, i, mod) {
		json_t *t = json_object_get(mod, "type"), *pa = json_object_get(mod, "path");
		std::string type = json_is_string(t) ? json_string_value(t) : "";
		std::string path = json_is_string(pa) ? json_string_value(pa) : "";
		if (type == "sentence_transformers.models.Normalize") {
			m.normalize = true;
		} else if (type == "sentence_transformers.models.Pooling") {
			std::string cp = join(join(dir, path), "config.json");
			JsonPtr c = load_json(cp);
			auto on = [&](const char *k) { return json_is_true(json_object_get(c.j, k)); };
			int modes = on("pooling_mode_mean_tokens") + on("pooling_mode_cls_token") +
			    on("pooling_mode_max_tokens") + on("pooling_mode_mean_sqrt_len_tokens") +
			    on("pooling_mode_weightedmean_tokens") + on("pooling_mode_lasttoken");
			if (modes != 1 || !(on("pooling_mode_mean_tokens") || on("pooling_mode_cls_token")))
				fail(cp, "only one pooling mode, mean_tokens or cls_token, is supported");
			m.pool = on("pooling_mode_mean_tokens") ? Bert::Pool::Mean : Bert::Pool::Cls;
			pooling = true;
		} else if (type != "sentence_transformers.models.Transformer") {
			fail(mp, fmt("module type \"%s\" is not supported", type.c_str()));
		} else if (!path.empty()) {
			fail(mp, "the Transformer module must be the folder itself (path \"\")");
		}
	}
	if (!pooling)
		fail(mp, "no sentence_transformers.models.Pooling module");
	std::string sp = join(dir, "sentence_bert_config.json");
	if (exists(sp)) {
		JsonPtr c = load_json(sp);
		if (json_object_get(c.j, "max_seq_length") != nullptr)
			m.seq_len = (size_t)cfg_int(c.j, "max_seq_length", 512, 2, m.cfg.max_pos, sp);
	}
}

}  // namespace arxiv_torch
