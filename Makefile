# arxiv - a C toolchain that sorts scientific abstracts into fields.
# Knobs: PREFIX MANPREFIX DESTDIR LIBTORCH TORCH SANITIZE BUILD
.SUFFIXES:

VERSION   = 0.1.0
SOVER     = 1
PREFIX    = /usr/local
MANPREFIX = $(PREFIX)/share/man
LIBDIR    = $(PREFIX)/lib
DATADIR   = $(PREFIX)/share/arxiv
DESTDIR   =
BUILD     = build
SHARED    = ../shared

CC        = cc
CXX       = c++
PKG_CONFIG = pkg-config

WARN      = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
OPT       = -O2 -g
CFLAGS    = $(OPT)
CXXFLAGS  = $(OPT)
LDFLAGS   =

# SANITIZE=1 builds with AddressSanitizer + UBSan (used by `make asan`, in build-asan/).
SANITIZE  =
SANFLAGS_1 = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANFLAGS  = $(SANFLAGS_$(SANITIZE))

DEPS_PC   = jansson libutf8proc libcurl
DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPS_PC) 2>/dev/null)
# libcurl: headers only; lib/mlflow_rest.c dlopens it for http(s) tracking URIs
DEPS_LIBS   := $(shell $(PKG_CONFIG) --libs $(filter-out libcurl,$(DEPS_PC)) 2>/dev/null) -lstemmer -lm -lpthread -ldl

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DARXIV_BUILD -I$(BUILD) \
	-Ilib/include -Ilib $(WARN) -fvisibility=hidden -fPIC $(DEPS_CFLAGS) $(SANFLAGS) $(CFLAGS)
PROG_CFLAGS = -std=c11 -D_GNU_SOURCE -Ilib/include $(WARN) $(DEPS_CFLAGS) $(SANFLAGS) $(CFLAGS)

# libtorch: Debian's libtorch-dev by default; LIBTORCH=/path/to/libtorch for another
# (pytorch.org's CUDA build, or the one inside a pip-installed torch). TORCH=0 disables.
LIBTORCH  =
TORCH_INC_  = -isystem /usr/include/torch/csrc/api/include
TORCH_LIB_  =
TORCH_INC   = $(if $(LIBTORCH),-isystem $(LIBTORCH)/include -isystem $(LIBTORCH)/include/torch/csrc/api/include,$(TORCH_INC_))
TORCH_LIBS  = $(if $(LIBTORCH),-L$(LIBTORCH)/lib -Wl$(comma)-rpath$(comma)$(LIBTORCH)/lib,) -ltorch -ltorch_cpu -lc10 \
	$(TORCH_CUDA)
# A CUDA libtorch: keep its CUDA libraries in the plugin's NEEDED list even where
# the linker defaults to --as-needed (nothing of ours calls them directly, but
# without them libtorch registers no CUDA kernels and reports no GPU).
TORCH_CUDA  = $(if $(wildcard $(LIBTORCH)/lib/libtorch_cuda.so),-Wl$(comma)--push-state$(comma)--no-as-needed \
	-ltorch_cuda $(if $(wildcard $(LIBTORCH)/lib/libc10_cuda.so),-lc10_cuda) -Wl$(comma)--pop-state)
# libtorch 2.x from about 2.10 on needs C++20 (ATen.h says so); Debian's 1.13 is C++17.
TORCH_STD   = $(if $(and $(LIBTORCH),$(shell grep -s -l 'C++20 or later' $(LIBTORCH)/include/ATen/ATen.h)),c++20,c++17)
comma := ,
TORCH     := $(if $(LIBTORCH),1,$(if $(wildcard /usr/include/torch/script.h),1,0))

LIB_SRC   := $(sort $(wildcard lib/*.c))
LIB_OBJ   := $(LIB_SRC:lib/%.c=$(BUILD)/obj/%.o)
TORCH_SRC := $(sort $(wildcard lib/*.cpp))
TORCH_OBJ := $(TORCH_SRC:lib/%.cpp=$(BUILD)/obj/%.o)
PROG_SRC  := $(sort $(wildcard bin/arxiv-*.c))
PROGS     := $(PROG_SRC:bin/%.c=$(BUILD)/bin/%)
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
MAN1      := $(sort $(wildcard man/man1/*.1))
MANALL    := $(sort $(wildcard man/man*/*.[1-9]))

SOLIB     = $(BUILD)/lib/libarxiv.so.$(SOVER)
ALIB      = $(BUILD)/lib/libarxiv.a
TORCHLIB  = $(BUILD)/lib/libarxiv_torch.so.$(SOVER)
LIBS_ALL  = $(SOLIB) $(ALIB) $(if $(filter 1,$(TORCH)),$(TORCHLIB),) $(BUILD)/lib/arxiv.pc

RPATH     = -Wl,-rpath,'$$ORIGIN/../lib'
PROG_LIBS = -L$(BUILD)/lib -larxiv $(DEPS_LIBS)

all: $(LIBS_ALL) $(PROGS)

$(BUILD)/obj/%.o: lib/%.c lib/include/arxiv.h $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: lib/%.cpp lib/include/arxiv.h $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CXX) -std=$(TORCH_STD) -DARXIV_BUILD -Ilib/include -Ilib -fPIC -fvisibility=hidden -Wall -Wextra \
		$(TORCH_INC) $(SANFLAGS) $(CXXFLAGS) -c -o $@ $<

# The configured data directory, rewritten only when PREFIX/DATADIR change, so a
# `make install PREFIX=...` rebuilds what depends on it and nothing else.
$(BUILD)/config.h: FORCE
	@mkdir -p $(@D)
	@printf '#define DATADIR "%s"\n' '$(DATADIR)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/util.o: $(BUILD)/config.h
# libpq: only its header at build time; pgstore.c dlopen()s libpq.so.5.
$(BUILD)/obj/pgstore.o $(BUILD)/obj/pgstore_load.o $(BUILD)/obj/pgstore_par.o \
    $(BUILD)/obj/pgstore_index.o $(BUILD)/tests/test_pgstore: ALL_CFLAGS += \
    $(shell $(PKG_CONFIG) --cflags libpq 2>/dev/null)
FORCE:

$(SOLIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libarxiv.so.$(SOVER) -Wl,-rpath,'$$ORIGIN' $(SANFLAGS) $(LDFLAGS) \
		-o $@ $(LIB_OBJ) $(DEPS_LIBS)
	ln -sf libarxiv.so.$(SOVER) $(BUILD)/lib/libarxiv.so

$(ALIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

# The libtorch shim is a plugin of libarxiv, loaded with dlopen on the first
# transformer call, so the text filters never pay libtorch's start-up cost.
$(TORCHLIB): $(TORCH_OBJ) $(SOLIB)
	@mkdir -p $(@D)
	$(CXX) -shared -Wl,-soname,libarxiv_torch.so.$(SOVER) -Wl,-rpath,'$$ORIGIN' $(SANFLAGS) $(LDFLAGS) \
		-o $@ $(TORCH_OBJ) -L$(BUILD)/lib -larxiv $(TORCH_LIBS) $(DEPS_LIBS)

$(BUILD)/lib/arxiv.pc: lib/arxiv.pc.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		lib/arxiv.pc.in > $@

# arxiv-serve's HTTP server is lib/httpd.c (internal header lib/httpd.h)
$(BUILD)/bin/arxiv-serve: PROG_CFLAGS += -Ilib
$(BUILD)/bin/arxiv-serve: lib/httpd.h
$(BUILD)/bin/arxiv-harvest: LDEXTRA = $(shell $(PKG_CONFIG) --libs libxml-2.0 libcurl)
$(BUILD)/bin/arxiv-harvest: PROG_CFLAGS += $(shell $(PKG_CONFIG) --cflags libxml-2.0)
$(BUILD)/bin/arxiv-map: LDEXTRA = -lz
$(PROGS): bin/prog.h
# A program in several files: bin/arxiv-NAME.c (main) plus its parts in bin/NAME/,
# compiled into that program only (PROG_PARTS), so bin/ keeps one program a file.
HPO_PARTS := $(sort $(wildcard bin/hpo/*.c))
$(BUILD)/bin/arxiv-hpo: PROG_PARTS = $(HPO_PARTS)
$(BUILD)/bin/arxiv-hpo: $(HPO_PARTS) bin/hpo/hpo.h
HARVEST_PARTS := $(sort $(wildcard bin/harvest/*.c))
$(BUILD)/bin/arxiv-harvest: PROG_PARTS = $(HARVEST_PARTS)
$(BUILD)/bin/arxiv-harvest: $(HARVEST_PARTS) bin/harvest/oai.h
SERVE_PARTS := $(sort $(wildcard bin/serve/*.c))
$(BUILD)/bin/arxiv-serve: PROG_PARTS = $(SERVE_PARTS)
$(BUILD)/bin/arxiv-serve: $(SERVE_PARTS) bin/serve/serve.h
REPORT_PARTS := $(sort $(wildcard bin/report/*.c))
$(BUILD)/bin/arxiv-report: PROG_PARTS = $(REPORT_PARTS)
$(BUILD)/bin/arxiv-report: $(REPORT_PARTS) bin/report/report.h
STATS_PARTS := $(sort $(wildcard bin/stats/*.c))
$(BUILD)/bin/arxiv-stats: PROG_PARTS = $(STATS_PARTS)
$(BUILD)/bin/arxiv-stats: $(STATS_PARTS) bin/stats/stats.h
$(BUILD)/bin/%: bin/%.c $(SOLIB) lib/include/arxiv.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -DVERSION='"$(VERSION)"' $(RPATH) $(LDFLAGS) \
		-o $@ $< $(PROG_PARTS) $(PROG_LIBS) $(LDEXTRA)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(ALIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -UARXIV_BUILD $(LDFLAGS) -o $@ $< $(PROG_PARTS) $(ALIB) $(DEPS_LIBS) \
		$(LDEXTRA)
# a program's part under test: test_oai is arxiv-harvest's page parser
$(BUILD)/tests/test_oai: PROG_PARTS = $(HARVEST_PARTS)
$(BUILD)/tests/test_oai: LDEXTRA = $(shell $(PKG_CONFIG) --libs libxml-2.0)
$(BUILD)/tests/test_oai: ALL_CFLAGS += $(shell $(PKG_CONFIG) --cflags libxml-2.0)
$(BUILD)/tests/test_oai: $(HARVEST_PARTS) bin/harvest/oai.h bin/prog.h

# The transformer plugin's AdamW against torch::optim::AdamW (C++, where libtorch is).
ifeq ($(TORCH),1)
UNITS += $(BUILD)/tests/test_bert_adamw
endif
$(BUILD)/tests/test_bert_adamw: tests/unit/test_bert_adamw.cpp tests/unit/tap.h $(BUILD)/obj/bert_adamw.o
	@mkdir -p $(@D)
	$(CXX) -std=$(TORCH_STD) -Ilib/include -Ilib -Itests/unit -Wall -Wextra $(TORCH_INC) $(SANFLAGS) \
		$(CXXFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/obj/bert_adamw.o $(TORCH_LIBS)

units: $(UNITS)

# `make check`: every C unit test and every bats test, one summary line at the end.
check: all units
	@BUILD=$(BUILD) SHARED=$(SHARED) tests/run.sh

# AddressSanitizer + UBSan build of everything, in its own tree, then the same tests.
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 OPT='-O1 -g' check

FUZZ_TIME = 60
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
	@for f in $^; do n=$${f##*/}; mkdir -p $(BUILD)/fuzz/corpus-$$n; \
		echo "== $$n ($(FUZZ_TIME)s)"; \
		seeds=; [ -d tests/fuzz/seeds/$$n ] && seeds=tests/fuzz/seeds/$$n; \
		ARXIV_DATADIR=data $$f -max_total_time=$(FUZZ_TIME) -max_len=4096 \
			$(BUILD)/fuzz/corpus-$$n $$seeds > $(BUILD)/fuzz/$$n.log 2>&1 || \
			{ tail -40 $(BUILD)/fuzz/$$n.log; exit 1; }; tail -2 $(BUILD)/fuzz/$$n.log; done

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) lib/include/arxiv.h
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -DARXIV_BUILD -DDATADIR='"$(DATADIR)"' -Ilib/include -Ilib -g -O1 \
		-fsanitize=fuzzer,address,undefined $(DEPS_CFLAGS) -o $@ $< $(LIB_SRC) $(DEPS_LIBS)

# arxiv-harvest's page parser and its -k recovery (bin/harvest/), with libxml2
$(BUILD)/fuzz/fuzz_oai: tests/fuzz/fuzz_oai.c $(HARVEST_PARTS) bin/harvest/oai.h bin/prog.h $(LIB_SRC) \
    lib/include/arxiv.h
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -DARXIV_BUILD -DDATADIR='"$(DATADIR)"' -Ilib/include -Ilib -g -O1 \
		-fsanitize=fuzzer,address,undefined $(DEPS_CFLAGS) \
		$(shell $(PKG_CONFIG) --cflags libxml-2.0) -o $@ $< $(HARVEST_PARTS) $(LIB_SRC) \
		$(DEPS_LIBS) $(shell $(PKG_CONFIG) --libs libxml-2.0)

# Build the transformer plugin against the current PyPI torch wheel's libtorch
# (downloaded once, cached) and check the CUDA libraries stay linked. Heavy
# (a 540 MB wheel): not part of `make check` or CI.
check-torch2:
	@BUILD=$(BUILD) tests/torch2/check.sh

bench: all
	@BUILD=$(BUILD) SHARED=$(SHARED) tests/bench/run.sh

lint:
	mandoc -Tlint -W warning $(MANALL)
	shellcheck -x -S warning pipelines/*.sh tests/*.sh tests/bench/*.sh .ci/run

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(DATADIR) $(DESTDIR)$(MANPREFIX)
	for p in $(PROGS); do cp -f $$p $(DESTDIR)$(PREFIX)/bin/; done
	cp -f $(SOLIB) $(ALIB) $(DESTDIR)$(LIBDIR)/
	$(if $(filter 1,$(TORCH)),cp -f $(TORCHLIB) $(DESTDIR)$(LIBDIR)/)
	ln -sf libarxiv.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libarxiv.so
	cp -f lib/include/arxiv.h $(DESTDIR)$(PREFIX)/include/
	cp -f $(BUILD)/lib/arxiv.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	cp -Rf data/. $(DESTDIR)$(DATADIR)/
	for m in $(MANALL); do s=$${m%/*}; s=$${s##*/}; mkdir -p $(DESTDIR)$(MANPREFIX)/$$s; \
		cp -f $$m $(DESTDIR)$(MANPREFIX)/$$s/; done

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(PREFIX)/bin/$${p##*/}; done
	rm -f $(DESTDIR)$(LIBDIR)/libarxiv.so* $(DESTDIR)$(LIBDIR)/libarxiv.a \
		$(DESTDIR)$(LIBDIR)/libarxiv_torch.so* $(DESTDIR)$(LIBDIR)/pkgconfig/arxiv.pc \
		$(DESTDIR)$(PREFIX)/include/arxiv.h
	rm -rf $(DESTDIR)$(DATADIR)
	for m in $(MANALL); do s=$${m%/*}; s=$${s##*/}; rm -f $(DESTDIR)$(MANPREFIX)/$$s/$${m##*/}; done

clean:
	rm -rf build build-asan

.PHONY: all units check asan fuzz bench lint install uninstall clean FORCE check-torch2

# Deployment (deploy/, compose.yaml): the Compose stack end to end on a real Docker
# engine (tests/docker/check.sh), and hadolint over the Dockerfiles.
docker-check: all
	@BUILD=$(BUILD) tests/docker/check.sh
lint-docker:
	@tests/docker/hadolint.sh deploy/*/Dockerfile
.PHONY: docker-check lint-docker
install: install-pipelines
install-pipelines:
	mkdir -p $(DESTDIR)$(DATADIR)/pipelines
	cp -f pipelines/run_pipeline.sh pipelines/spread.sh $(DESTDIR)$(DATADIR)/pipelines/
.PHONY: install-pipelines
