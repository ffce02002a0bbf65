/*
 * bert_pickle.cpp - pytorch_model.bin for the transformer plugin (bert.cpp):
 * a reader of torch.save's zip archive. Moved out of bert.cpp.
 */
#include <caffe2/serialize/inline_container.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bert_torch.h"

namespace arxiv_torch {

namespace {

/*
 * pytorch_model.bin: torch.save's zip archive holding data.pkl (a pickle of an
 * OrderedDict of tensors) and data/<key> (raw little-endian storages).
 * libtorch 1.13's own torch::jit::pickle_load turns collections.OrderedDict
 * into None and then fails, and every Hugging Face state dict is one, so this
 * is a small unpickler for exactly what torch.save writes for a state dict:
 * protocol 2-4 opcodes, OrderedDict, _rebuild_tensor_v2, _rebuild_parameter,
 * and persistent storages. Anything else is an error.
 */
struct PVal;
using PV = std::shared_ptr<PVal>;
struct PVal {
	enum Kind { None, Int, Float, Str, Tuple, List, Dict, Global, Tensor, Mark, Other } kind;
	int64_t i = 0;
	double f = 0;
	std::string s;			/* Str; Global "module.name" */
	std::vector<PV> items;		/* Tuple, List */
	std::vector<std::pair<PV, PV>> dict;
	at::Tensor t;
	explicit PVal(Kind k) : kind(k) {}
};

class StateUnpickler {
public:
	StateUnpickler(const std::string &path, caffe2::serialize::PyTorchStreamReader &zip,
	    const std::string &pkl) : path_(path), zip_(zip), p_(pkl) {}

	PV run()
	{
		for (;;) {
			unsigned char op = byte();
			switch (op) {
			case 0x80: byte(); break;			/* PROTO */
			case 0x95: take(8); break;			/* FRAME */
			case '.': return pop();				/* STOP */
			case 'c': {					/* GLOBAL */
				std::string mod = line(), name = line();
				auto v = mk(PVal::Global);
				v->s = mod + "." + name;
				push(v);
				break;
			}
			case 0x93: {					/* STACK_GLOBAL */
				PV name = pop(), mod = pop();
				auto v = mk(PVal::Global);
				v->s = mod->s + "." + name->s;
				push(v);
				break;
			}
			case 'q': memo(byte()); break;			/* BINPUT */
			case 'r': memo(u32()); break;			/* LONG_BINPUT */
			case 0x94: memo(memo_.size()); break;		/* MEMOIZE */
			case 'h': push(get(byte())); break;		/* BINGET */
			case 'j': push(get(u32())); break;		/* LONG_BINGET */
			case '(': push(mk(PVal::Mark)); break;
			case ')': push(mk(PVal::Tuple)); break;
			case ']': push(mk(PVal::List)); break;
			case '}': push(mk(PVal::Dict)); break;
			case 'N': push(mk(PVal::None)); break;
			case 0x88: case 0x89: {				/* NEWTRUE, NEWFALSE */
				auto v = mk(PVal::Int);
				v->i = op == 0x88;
				push(v);
				break;
			}
			case 't': { auto v = mk(PVal::Tuple); v->items = since_mark(); push(v); break; }
			case 0x85: case 0x86: case 0x87: {		/* TUPLE1..3 */
				auto v = mk(PVal::Tuple);
				size_t n = op - 0x84;
				if (stack_.size() < n)
					bad();
				v->items.assign(stack_.end() - n, stack_.end());
				stack_.resize(stack_.size() - n);
				push(v);
				break;
			}
			case 'K': integer(byte()); break;		/* BININT1 */
			case 'M': { uint32_t v = byte(); v |= (uint32_t)byte() << 8; integer(v); break; }
			case 'J': integer((int32_t)u32()); break;	/* BININT */
			case 0x8a: {					/* LONG1 */
				size_t n = byte();
				std::string b = take(n);
				int64_t v = 0;
				for (size_t k = 0; k < n && k < 8; k++)
					v |= (int64_t)(unsigned char)b[k] << (8 * k);
				if (n > 0 && n < 8 && ((unsigned char)b[n - 1] & 0x80))
					v -= (int64_t)1 << (8 * n);
				integer(v);
				break;
			}
			case 'G': {					/* BINFLOAT, big-endian */
				std::string b = take(8);
				uint64_t u = 0;
				for (int k = 0; k < 8; k++)
					u = (u << 8) | (unsigned char)b[k];
				auto v = mk(PVal::Float);
				memcpy(&v->f, &u, 8);
				push(v);
				break;
			}
			case 'X': str(take(u32())); break;		/* BINUNICODE */
			case 0x8c: str(take(byte())); break;		/* SHORT_BINUNICODE */
			case 'T': str(take(u32())); break;		/* BINSTRING */
			case 'U': str(take(byte())); break;		/* SHORT_BINSTRING */
			case 'a': { PV v = pop(); top(PVal::List)->items.push_back(v); break; }
			case 'e': { auto xs = since_mark(); auto l = top(PVal::List);
				l->items.insert(l->items.end(), xs.begin(), xs.end()); break; }
			case 's': { PV v = pop(), k = pop(); top(PVal::Dict)->dict.emplace_back(k, v); break; }
			case 'u': {
				auto xs = since_mark();
				auto d = top(PVal::Dict);
				if (xs.size() % 2)
					bad();
				for (size_t k = 0; k < xs.size(); k += 2)
					d->dict.emplace_back(xs[k], xs[k + 1]);
				break;
			}
			case 'b': pop(); break;				/* BUILD: state ignored */
			case 'Q': push(storage(pop())); break;		/* BINPERSID */
			case 'R': { PV args = pop(), fn = pop(); push(reduce(fn, args)); break; }
			case 0x81: { PV args = pop(), cls = pop(); push(reduce(cls, args)); break; } /* NEWOBJ */
			default:
				fail(path_, fmt("pickle opcode 0x%02x at byte %zu is not supported in a "
				    "state dict", op, pos_ - 1));
			}
		}
	}

private:
	const std::string &path_;
	caffe2::serialize::PyTorchStreamReader &zip_;
	const std::string &p_;
	size_t pos_ = 0;
	std::vector<PV> stack_;
	std::map<size_t, PV> memo_;
	std::map<std::string, at::Tensor> storages_;

	[[noreturn]] void bad() { fail(path_, "malformed pickle in data.pkl"); }
	static PV mk(PVal::Kind k) { return std::make_shared<PVal>(k); }
	unsigned char byte() { if (pos_ >= p_.size()) bad(); return (unsigned char)p_[pos_++]; }
	uint32_t u32()
	{
		uint32_t v = 0;
		for (int k = 0; k < 4; k++)
			v |= (uint32_t)byte() << (8 * k);
		return v;
	}
	std::string take(size_t n)
	{
		if (n > p_.size() - pos_)
			bad();
		pos_ += n;
		return p_.substr(pos_ - n, n);
	}
	std::string line()
	{
		size_t e = p_.find('\n', pos_);
		if (e == std::string::npos)
			bad();
		std::string r = p_.substr(pos_, e - pos_);
		pos_ = e + 1;
		return r;
	}
	void push(PV v) { stack_.push_back(std::move(v)); }
	PV pop()
	{
		if (stack_.empty())
			bad();
		PV v = stack_.back();
		stack_.pop_back();
		return v;
	}
	PV top(PVal::Kind k)
	{
		if (stack_.empty() || stack_.back()->kind != k)
			bad();
		return stack_.back();
	}
	void memo(size_t k) { if (stack_.empty()) bad(); memo_[k] = stack_.back(); }
	PV get(size_t k)
	{
		auto it = memo_.find(k);
		if (it == memo_.end())
			bad();
		return it->second;
	}
	void integer(int64_t i) { auto v = mk(PVal::Int); v->i = i; push(v); }
	void str(std::string s) { auto v = mk(PVal::Str); v->s = std::move(s); push(v); }
	std::vector<PV> since_mark()
	{
		size_t m = stack_.size();
		while (m > 0 && stack_[m - 1]->kind != PVal::Mark)
			m--;
		if (m == 0)
			bad();
		std::vector<PV> r(stack_.begin() + m, stack_.end());
		stack_.resize(m - 1);
		return r;
	}
	std::vector<int64_t> ints(const PV &v)
	{
		std::vector<int64_t> r;
		if (v->kind != PVal::Tuple)
			bad();
		for (auto &x : v->items) {
			if (x->kind != PVal::Int)
				bad();
			r.push_back(x->i);
		}
		return r;
	}
	/* ('storage', torch.FloatStorage, key, location, numel) */
	PV storage(const PV &pid)
	{
		if (pid->kind != PVal::Tuple || pid->items.size() < 5 ||
		    pid->items[1]->kind != PVal::Global || pid->items[2]->kind != PVal::Str)
			bad();
		static const std::map<std::string, at::ScalarType> types = {
			{ "torch.FloatStorage", at::kFloat }, { "torch.HalfStorage", at::kHalf },
			{ "torch.BFloat16Storage", at::kBFloat16 }, { "torch.DoubleStorage", at::kDouble },
			{ "torch.LongStorage", at::kLong }, { "torch.IntStorage", at::kInt },
			{ "torch.ShortStorage", at::kShort }, { "torch.CharStorage", at::kChar },
			{ "torch.ByteStorage", at::kByte }, { "torch.BoolStorage", at::kBool },
		};
		auto ty = types.find(pid->items[1]->s);
		if (ty == types.end())
			fail(path_, "unsupported storage type " + pid->items[1]->s);
		const std::string &key = pid->items[2]->s;
		auto v = mk(PVal::Tensor);
		auto it = storages_.find(key);
		if (it != storages_.end()) {
			v->t = it->second;
			return v;
		}
		std::string rec = "data/" + key;
		if (!zip_.hasRecord(rec))
			fail(path_, "missing storage " + rec);
		auto r = zip_.getRecord(rec);
		size_t nbytes = std::get<1>(r), es = c10::elementSize(ty->second);
		at::Tensor t = at::empty({(int64_t)(nbytes / es)}, at::TensorOptions().dtype(ty->second));
		memcpy(t.data_ptr(), std::get<0>(r).get(), (nbytes / es) * es);
		storages_[key] = t;
		v->t = t;
		return v;
	}
	PV reduce(const PV &fn, const PV &args)
	{
		if (fn->kind != PVal::Global || args->kind != PVal::Tuple)
			return mk(PVal::Other);
		const std::string &g = fn->s;
		if (g == "collections.OrderedDict" || g == "builtins.dict")
			return mk(PVal::Dict);
		if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor") {
			if (args->items.size() < 4 || args->items[0]->kind != PVal::Tensor ||
			    args->items[1]->kind != PVal::Int)
				bad();
			const at::Tensor &st = args->items[0]->t;
			auto size = ints(args->items[2]), stride = ints(args->items[3]);
			int64_t off = args->items[1]->i, need = off + 1;
			for (size_t k = 0; k < size.size(); k++) {
				if (size[k] == 0)
					need = 0;
				if (need)
					need += (size[k] - 1) * stride[k];
			}
			if (size.size() != stride.size() || need > st.numel())
				fail(path_, "tensor larger than its storage");
			auto v = mk(PVal::Tensor);
			v->t = st.as_strided(size, stride, off).clone();
			return v;
		}
		if (g == "torch._utils._rebuild_parameter" && !args->items.empty() &&
		    args->items[0]->kind == PVal::Tensor)
			return args->items[0];
		return mk(PVal::Other);
	}
};

}  // namespace

std::map<std::string, at::Tensor>
read_torch_bin(const std::string &path)
{
	std::map<std::string, at::Tensor> w;
	std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;

	try {
		zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
	} catch (const c10::Error &e) {
		std::string m = e.what_without_backtrace();
		fail(path, "not a torch.save zip archive: " + m.substr(0, m.find('\n')));
	}
	if (!zip->hasRecord("data.pkl"))
		fail(path, "no data.pkl in the archive");
	auto r = zip->getRecord("data.pkl");
	std::string pkl((const char *)std::get<0>(r).get(), std::get<1>(r));
	PV root = StateUnpickler(path, *zip, pkl).run();
	if (root->kind == PVal::Dict && root->dict.size() == 1 &&
	    root->dict[0].first->kind == PVal::Str && root->dict[0].first->s == "state_dict")
		root = root->dict[0].second;	/* {"state_dict": {...}} */
	if (root->kind != PVal::Dict)
		fail(path, "not a state dict (a dictionary of tensors)");
	for (auto &kv : root->dict) {
		if (kv.first->kind != PVal::Str || kv.second->kind != PVal::Tensor)
			fail(path, "not a state dict (a dictionary of tensors)");
		w[kv.first->s] = kv.second->t;
	}
	return w;
}

}  // namespace arxiv_torch
