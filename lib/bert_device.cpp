/*
 * bert_device.cpp - where the transformer plugin (bert.cpp) computes: CPU
 * threads (libtorch's and OpenBLAS's), a warning about the slow reference
 * BLAS, the device (cpu, cuda[:N], mps) and the precision (fp32, or fp16/bf16
 * autocast on a GPU), and moving the parameters there. Moved out of bert.cpp.
 */
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <dlfcn.h>
#include <limits.h>

#include "bert_torch.h"

namespace arxiv_torch {

/* ------------------------------------------------------------ devices */

/*
 * Debian's libtorch does its CPU matrix products through libblas.so.3, which
 * the alternatives system points at OpenBLAS or at the reference BLAS (about
 * ten times slower). Say so once when it is the reference one.
 */
void
check_blas()
{
	static std::once_flag once;

	std::call_once(once, [] {
		void *h = dlopen("libblas.so.3", RTLD_LAZY | RTLD_NOLOAD);
		Dl_info info;
		char real[PATH_MAX];

		if (h == nullptr)
			return;	/* not linked through libblas.so.3 (MKL, another libtorch) */
		void *f = dlsym(h, "sgemm_");
		if (f != nullptr && dladdr(f, &info) && info.dli_fname != nullptr &&
		    realpath(info.dli_fname, real) != nullptr) {
			bool fast = strstr(real, "openblas") || strstr(real, "blis") ||
			    strstr(real, "mkl") || strstr(real, "atlas");
			arxiv_log(fast ? ARXIV_LOG_DEBUG : ARXIV_LOG_WARN, "BLAS: %s%s", real,
			    fast ? "" : " is the slow reference BLAS: install libopenblas-dev, or "
			    "update-alternatives --config libblas.so.3-x86_64-linux-gnu");
		}
		dlclose(h);
	});
}

/* CPU threads for libtorch's own loops and for OpenBLAS's matrix products
 * (OpenBLAS keeps its own pool, sized to every core unless told). */
void
set_threads(int n)
{
	if (n <= 0)
		return;
	at::set_num_threads(n);
	void *h = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD);
	if (h != nullptr) {
		void (*fn)(int);
		*(void **)&fn = dlsym(h, "openblas_set_num_threads");
		if (fn != nullptr)
			fn(n);
		dlclose(h);
	}
}

/* Does this CUDA device compute in bf16? (Ampere and later; asked by trying,
 * since the CPU-only libtorch has no device-properties header.) */
bool
cuda_bf16(const at::Device &dev)
{
	try {
		at::Tensor a = at::ones({16, 16}, at::TensorOptions().device(dev).dtype(at::kBFloat16));
		return at::matmul(a, a).sum().item<float>() == 16.0f * 256.0f;
	} catch (const std::exception &) {
		return false;
	}
}

void
pick_device(Bert &m, const char *want, const char *precision)
{
	std::string d = want && *want ? want : "auto";
	std::string pr = precision && *precision ? precision : "auto";

	if (pr != "auto" && pr != "fp32" && pr != "fp16" && pr != "bf16")
		fail("", fmt("unknown precision \"%s\" (auto, fp32, fp16, bf16)", pr.c_str()));

	check_blas();
	if (d == "auto") {
		if (torch::cuda::is_available())
			d = "cuda";
		else if (at::hasMPS())
			d = "mps";
		else
			d = "cpu";
	}
	if (d == "cpu") {
		m.dev = at::kCPU;
		if (pr == "fp16" || pr == "bf16")
			fail("", fmt("precision %s: only on a GPU (the CPU trains in fp32)", pr.c_str()));
	} else if (d.compare(0, 4, "cuda") == 0) {
		long idx = 0;
		if (d.size() > 4) {
			char *end;
			if (d[4] != ':' || (idx = strtol(d.c_str() + 5, &end, 10), *end != '\0') ||
			    idx < 0 || d.size() == 5)
				fail("", fmt("unknown device \"%s\" (auto, cpu, cuda, cuda:N, mps)", d.c_str()));
		}
		if (!torch::cuda::is_available())
			fail("", "device cuda: no CUDA device, or this libtorch was built without "
			    "CUDA (build with make LIBTORCH=/path/to/libtorch)");
		/* device_count() is size_t in 1.13, a signed DeviceIndex in 2.x */
		long ndev = (long)torch::cuda::device_count();
		if (idx >= ndev)
			fail("", fmt("device %s: only %ld CUDA devices", d.c_str(), ndev));
		m.dev = at::Device(at::kCUDA, (c10::DeviceIndex)idx);
		if (pr == "auto")
			pr = cuda_bf16(m.dev) ? "bf16" : "fp16";
		m.amp = pr != "fp32";
		/* fp16 autocast trains with loss scaling; bf16 needs none */
		m.amp_dtype = pr == "bf16" ? at::kBFloat16 : at::kHalf;
		m.sdpa = ARXIV_HAVE_SDPA;
	} else if (d == "mps") {
		if (!at::hasMPS())
			fail("", "device mps: Metal is not available (or this libtorch lacks MPS)");
		m.dev = at::Device(at::kMPS);
		m.sdpa = ARXIV_HAVE_SDPA;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
		m.amp = pr != "fp32";
		m.amp_dtype = pr == "fp16" ? at::kHalf : at::kBFloat16;
#else
		arxiv_log(ARXIV_LOG_INFO, "mps: fp32 (bf16 autocast needs libtorch >= 2.4)");
#endif
	} else {
		fail("", fmt("unknown device \"%s\" (auto, cpu, cuda, cuda:N, mps)", d.c_str()));
	}
	arxiv_log(ARXIV_LOG_DEBUG, "bert: device %s%s, %s attention", m.dev.str().c_str(),
	    m.amp ? (m.amp_dtype == at::kHalf ? " fp16" : " bf16") : " fp32",
	    m.sdpa ? "fused (scaled_dot_product_attention)" : "eager");
}

void
to_device(Bert &m, bool requires_grad)
{
	for (auto &t : m.params) {
		t = t.to(m.dev).detach();
		t.set_requires_grad(requires_grad);
	}
	bind(m);
}

}  // namespace arxiv_torch
