/*
 * test_bert_adamw.cpp - the transformer plugin's AdamW (lib/bert_adamw.cpp)
 * against libtorch's own torch::optim::AdamW, which the training loop used
 * before: the same random parameters and gradients, two parameter groups
 * (weight decay and none), a learning rate changed before every step, a
 * parameter without a gradient in some steps; after every step each
 * parameter must agree to 1e-6 relative. Also: the state written by save()
 * and read by load() continues the same run; a state of another shape is
 * refused. Built only where libtorch is (C++, linked with bert_adamw.o).
 */
#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/optim/adamw.h>
#include <torch/version.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "bert_torch.h"
#undef CHECK	/* glog's, from c10 */
#undef CHECK_NEAR
#include "tap.h"

using arxiv_torch::AdamW;
using arxiv_torch::AdamWGroup;

/* Largest |a - b| / max(|b|, 1e-3) over every element of every tensor. */
static double
max_rel(const std::vector<at::Tensor> &a, const std::vector<at::Tensor> &b)
{
	double r = 0;

	for (size_t i = 0; i < a.size(); i++) {
		at::Tensor x = a[i].detach().cpu(), y = b[i].detach().cpu();
		at::Tensor d = (x - y).abs() / y.abs().clamp_min(1e-3);
		r = std::max(r, d.max().item<double>());
	}
	return r;
}

static std::vector<at::Tensor>
clones(const std::vector<at::Tensor> &v, at::Device dev = at::kCPU)
{
	std::vector<at::Tensor> r;

	for (auto &t : v)
		r.push_back(t.detach().clone().to(dev).set_requires_grad(true));
	return r;
}

static double
lr_at(int s)
{
	/* warm-up then decay, as the training loop's schedule */
	return 1e-3 * (s < 5 ? (double)(s + 1) / 5 : (double)(40 - s) / 35);
}

/* Gradient of step s for tensor i (seeded: the same for every optimiser). */
static at::Tensor
grad_for(const at::Tensor &p, int s, size_t i)
{
	at::Generator g = at::detail::createCPUGenerator(1000 * (uint64_t)s + i);
	return at::randn(p.sizes(), g) * (0.5 + (double)i);
}

static void
set_grads(std::vector<at::Tensor> &ps, int s)
{
	for (size_t i = 0; i < ps.size(); i++) {
		if (i == 3 && s % 3 == 1) {	/* no gradient in some steps: skipped */
			ps[i].mutable_grad() = at::Tensor();
			continue;
		}
		at::Tensor g = grad_for(ps[i], s, i).to(ps[i].device());
		if (ps[i].grad().defined())
			ps[i].mutable_grad().copy_(g);
		else
			ps[i].mutable_grad() = g;
	}
}

static std::vector<AdamWGroup>
groups_of(const std::vector<at::Tensor> &ps, double wd)
{
	std::vector<AdamWGroup> g(2);
	g[0].params = {ps[0], ps[1], ps[3]};	/* matrices: decay */
	g[0].weight_decay = wd;
	g[1].params = {ps[2], ps[4]};		/* biases, LayerNorm: none */
	g[1].weight_decay = 0.0;
	return g;
}

int
main(void)
{
	const int steps = 40;
	const double wd = 0.01;
	at::manual_seed(7);
	std::vector<at::Tensor> init = {
		at::randn({64, 32}), at::randn({16, 64}), at::randn({32}), at::randn({8, 8}),
		at::randn({16}),
	};
	std::vector<at::Tensor> ref = clones(init), ours = clones(init);

	using torch::optim::AdamWOptions;
	std::vector<torch::optim::OptimizerParamGroup> tg;
	tg.emplace_back(std::vector<at::Tensor>{ref[0], ref[1], ref[3]},
	    std::make_unique<AdamWOptions>(AdamWOptions(1e-3).weight_decay(wd).eps(1e-8)));
	tg.emplace_back(std::vector<at::Tensor>{ref[2], ref[4]},
	    std::make_unique<AdamWOptions>(AdamWOptions(1e-3).weight_decay(0.0).eps(1e-8)));
	torch::optim::AdamW topt(std::move(tg), AdamWOptions(1e-3));
	AdamW opt(groups_of(ours, wd), 1e-3, 0.9, 0.999, 1e-8);

	CHECK(std::string(opt.path()) == "multi-tensor", "CPU tensors take the multi-tensor path (%s)",
	    opt.path());
	double worst = 0, moved = 0;
	std::string saved;
	for (int s = 0; s < steps; s++) {
		set_grads(ref, s);
		set_grads(ours, s);
		for (auto &pg : topt.param_groups())
			static_cast<AdamWOptions &>(pg.options()).lr(lr_at(s));
		opt.set_lr(lr_at(s));
		topt.step();
		opt.step();
		worst = std::max(worst, max_rel(ours, ref));
		if (s == steps / 2 - 1) {
			std::ostringstream os;
			opt.save(os);
			saved = os.str();
		}
	}
	moved = max_rel(ours, init);
	CHECK(moved > 1e-2, "the parameters moved (%g relative)", moved);
	CHECK(worst <= 1e-6, "%d steps, two groups, changing lr: torch::optim::AdamW's parameters "
	    "to 1e-6 relative (worst %g)", steps, worst);

	/* CUDA (where there is one): the fused kernel with libtorch >= 2.0, the same
	 * run as above, against torch::optim::AdamW's CPU results (float32 in
	 * another order of operations: 1e-4 relative) */
	if (torch::cuda::is_available()) {
		std::vector<at::Tensor> gp = clones(init, at::Device(at::kCUDA));
		AdamW og(groups_of(gp, wd), 1e-3, 0.9, 0.999, 1e-8);
		std::string want = TORCH_VERSION_MAJOR >= 2 ? "fused" : "multi-tensor";
		CHECK(og.path() == want, "CUDA tensors take the %s path (%s)", want.c_str(), og.path());
		for (int s = 0; s < steps; s++) {
			set_grads(gp, s);
			og.set_lr(lr_at(s));
			og.step();
		}
		double d = max_rel(gp, ref);
		CHECK(d <= 1e-4, "CUDA, %d steps: torch::optim::AdamW's CPU parameters to 1e-4 relative "
		    "(worst %g)", steps, d);
	} else {
		printf("# no CUDA device here: the fused path is not run\n");
	}

	/* the bias corrections matter: without them the first step is 10x larger */
	{
		std::vector<at::Tensor> a = clones(init);
		AdamW o(groups_of(a, wd), 1e-3);
		set_grads(a, 0);
		o.step();
		at::Tensor g0 = grad_for(init[2], 0, 2);
		/* step 1 of Adam: m/sqrt(v) = g/|g| after bias correction: a move of lr */
		at::Tensor want = init[2] - 1e-3 * g0 / (g0.abs() + 1e-8);
		CHECK(max_rel({a[2]}, {want}) < 1e-4, "first step moves each weight by lr (bias-corrected)");
	}

	/* resume: the state after step steps/2 - 1, then the rest of the run */
	{
		char path[] = "/tmp/test_bert_adamw.XXXXXX";
		int fd = mkstemp(path);
		CHECK(fd >= 0, "temporary file");
		FILE *f = fdopen(fd, "wb");
		fwrite(saved.data(), 1, saved.size(), f);
		fclose(f);
		/* replay the first half exactly to get the parameters, then load the state */
		std::vector<at::Tensor> a = clones(init);
		{
			AdamW o(groups_of(a, wd), 1e-3);
			for (int s = 0; s < steps / 2; s++) {
				set_grads(a, s);
				o.set_lr(lr_at(s));
				o.step();
			}
		}
		AdamW o2(groups_of(a, wd), 1e-3);
		o2.load(path);
		for (int s = steps / 2; s < steps; s++) {
			set_grads(a, s);
			o2.set_lr(lr_at(s));
			o2.step();
		}
		double d = max_rel(a, ours);
		CHECK(d == 0, "save, load and continue: the uninterrupted run's parameters (diff %g)", d);

		std::vector<at::Tensor> other = {at::zeros({3})};
		std::vector<AdamWGroup> og(1);
		og[0].params = other;
		AdamW o3(og, 1e-3);
		bool refused = false;
		try {
			o3.load(path);
		} catch (const arxiv_torch::Failure &e) {
			refused = std::string(e.what()).find("not this model's AdamW state") == 0 &&
			    e.source == path;
		}
		CHECK(refused, "a state of other parameters is refused, naming the file");
		unlink(path);
	}

	/* zero_grad: gradients zeroed, kept allocated (as torch::optim's) */
	{
		opt.zero_grad();
		bool zero = true;
		for (auto &p : ours)
			if (p.grad().defined())
				zero = zero && p.grad().abs().max().item<double>() == 0;
		CHECK(zero && ours[0].grad().defined(), "zero_grad zeroes every gradient");
	}
	return tap_done();
}
