/*
 * bert_torch.h - what the C++ files of the transformer plugin share: the error
 * type every extern "C" edge of bert.cpp turns into a struct arxiv_error, and
 * the reader of torch.save checkpoints (bert_pickle.cpp). Not installed.
 */
#ifndef ARXIV_BERT_TORCH_H
#define ARXIV_BERT_TORCH_H

#include <map>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

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

}  // namespace arxiv_torch

#endif
