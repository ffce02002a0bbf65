/*
 * bert_adamw.cpp - the optimiser of the transformer's training loop
 * (bert_train.cpp): AdamW over parameter groups, one kernel per operation
 * for every tensor of a group instead of one per tensor (torch::optim::AdamW
 * runs about ten small kernels per parameter tensor, each a launch and, on a
 * GPU, a queue entry: some 2,000 per step for BERT-base).
 *
 * The arithmetic is torch::optim::AdamW's and torch.optim.AdamW's, per
 * parameter tensor p with gradient g, step count t (on the host), moments m
 * and v, learning rate lr (set before each step by the schedule), weight
 * decay wd (per group):
 *
 *     p <- p * (1 - lr * wd)                      decoupled weight decay
 *     m <- m * beta1 + g * (1 - beta1)
 *     v <- v * beta2 + g * g * (1 - beta2)
 *     p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * Multi-tensor path (every libtorch; the CPU's): the same operations in the
 * same order as torch::optim::AdamW, each as one at::_foreach_* call over the
 * group, as PyTorch 1.13's _multi_tensor_adamw does them (mul + add rather
 * than 2.x's lerp for m), so that on the CPU, where the _foreach_ ops run the
 * per-tensor kernels, the results are torch::optim::AdamW's to the bit.
 * Fused path (CUDA tensors, libtorch >= 2.0): at::_fused_adamw_, the kernel
 * behind torch.optim.AdamW(fused=True), with the step counts as float
 * tensors on the device (as PyTorch keeps them for it).
 */
#include <ATen/ATen.h>
#include <torch/serialize.h>
#include <torch/version.h>

#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bert_torch.h"

#define ARXIV_ADAMW_FUSED \
	(TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 0))

namespace arxiv_torch {

AdamW::AdamW(std::vector<AdamWGroup> groups, double lr, double beta1, double beta2, double eps)
    : lr_(lr), b1_(beta1), b2_(beta2), eps_(eps)
{
	at::NoGradGuard ng;
	bool all_cuda = true;
	size_t n = 0;

	for (auto &in : groups) {
		Group gr;
		gr.wd = in.weight_decay;
		for (auto &p : in.params) {
			gr.p.push_back(p);
			gr.m.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
			gr.v.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
			gr.step.push_back(0);
			all_cuda = all_cuda && p.is_cuda() && at::isFloatingType(p.scalar_type());
			n++;
		}
		g_.push_back(std::move(gr));
	}
#if ARXIV_ADAMW_FUSED
	fused_ = n > 0 && all_cuda;
	if (fused_)
		for (auto &gr : g_)
			for (auto &p : gr.p)
				gr.dstep.push_back(at::zeros({}, p.options().dtype(at::kFloat)));
#else
	(void)all_cuda;
	(void)n;
#endif
}

void
AdamW::zero_grad()
{
	at::NoGradGuard ng;
	std::vector<at::Tensor> gs;

	for (auto &gr : g_)
		for (auto &p : gr.p)
			if (p.grad().defined()) {
				p.mutable_grad().detach_();
				gs.push_back(p.grad());
			}
	if (!gs.empty())
		at::_foreach_zero_(gs);
}

void
AdamW::step()
{
	at::NoGradGuard ng;

	for (auto &gr : g_) {
		std::vector<at::Tensor> P, G, M, V, S;
		std::vector<size_t> ix;
		for (size_t i = 0; i < gr.p.size(); i++) {
			if (!gr.p[i].grad().defined())
				continue;
			P.push_back(gr.p[i]);
			G.push_back(gr.p[i].grad());
			M.push_back(gr.m[i]);
			V.push_back(gr.v[i]);
			ix.push_back(i);
			gr.step[i]++;
		}
		if (P.empty())
			continue;
#if ARXIV_ADAMW_FUSED
		if (fused_) {
			for (size_t i : ix)
				S.push_back(gr.dstep[i]);
			at::_foreach_add_(S, 1);
			at::_fused_adamw_(P, G, M, V, at::TensorList(), S, lr_, b1_, b2_, gr.wd, eps_,
			    /*amsgrad=*/false, /*maximize=*/false);
			continue;
		}
#endif
		if (gr.wd != 0)
			at::_foreach_mul_(P, 1 - lr_ * gr.wd);
		at::_foreach_mul_(M, b1_);
		at::_foreach_add_(M, G, 1 - b1_);
		at::_foreach_mul_(V, b2_);
		at::_foreach_addcmul_(V, G, G, 1 - b2_);
		std::vector<at::Scalar> bc2_sqrt, step_size;
		for (size_t i : ix) {
			long t = gr.step[i];
			bc2_sqrt.emplace_back(std::sqrt(1 - std::pow(b2_, t)));
			step_size.emplace_back(-(lr_ / (1 - std::pow(b1_, t))));
		}
		std::vector<at::Tensor> denom = at::_foreach_sqrt(V);
		at::_foreach_div_(denom, bc2_sqrt);
		at::_foreach_add_(denom, eps_);
		at::_foreach_addcdiv_(P, M, denom, step_size);
	}
}

/* [layout: groups, their sizes, every step count] then m, v of each parameter. */
void
AdamW::save(std::ostream &os) const
{
	std::vector<int64_t> meta{(int64_t)g_.size()};
	std::vector<at::Tensor> t;

	for (auto &gr : g_)
		meta.push_back((int64_t)gr.p.size());
	for (auto &gr : g_)
		for (long s : gr.step)
			meta.push_back(s);
	t.push_back(at::tensor(meta, at::kLong));
	for (auto &gr : g_)
		for (size_t i = 0; i < gr.p.size(); i++) {
			t.push_back(gr.m[i]);
			t.push_back(gr.v[i]);
		}
	torch::save(t, os);
}

void
AdamW::load(const std::string &file)
{
	at::NoGradGuard ng;
	std::vector<at::Tensor> t;
	const char *bad = "not this model's AdamW state (written by another version or model?)";

	try {
		torch::load(t, file, at::Device(at::kCPU));
	} catch (const c10::Error &) {
		throw Failure(file, 0, bad);
	}
	if (t.empty() || t[0].scalar_type() != at::kLong || t[0].dim() != 1)
		throw Failure(file, 0, bad);
	at::Tensor meta = t[0].contiguous();
	const int64_t *mp = meta.data_ptr<int64_t>();
	size_t nm = (size_t)meta.numel(), n = 0;
	if (nm < 1 || (size_t)mp[0] != g_.size() || nm < 1 + g_.size())
		throw Failure(file, 0, bad);
	for (size_t k = 0; k < g_.size(); k++) {
		if ((size_t)mp[1 + k] != g_[k].p.size())
			throw Failure(file, 0, bad);
		n += g_[k].p.size();
	}
	if (nm != 1 + g_.size() + n || t.size() != 1 + 2 * n)
		throw Failure(file, 0, bad);
	size_t si = 1 + g_.size(), ti = 1;
	for (auto &gr : g_)
		for (size_t i = 0; i < gr.p.size(); i++) {
			const at::Tensor &m = t[ti++], &v = t[ti++];
			if (!m.sizes().equals(gr.p[i].sizes()) || !v.sizes().equals(gr.p[i].sizes()))
				throw Failure(file, 0, bad);
			gr.m[i].copy_(m);
			gr.v[i].copy_(v);
			gr.step[i] = (long)mp[si++];
			if (!gr.dstep.empty())
				gr.dstep[i].fill_((double)gr.step[i]);
		}
}

}  // namespace arxiv_torch
