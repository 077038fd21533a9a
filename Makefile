# lrlab: `make` builds build/lrlab; `make test` runs every test; `make data`
# provides CIFAR-10 (DATASET=cifar100|fashion-mnist|mnist another data set); `make fuzz` runs the fuzz targets for a bounded time;
# `make asan` runs the tests under AddressSanitizer + UBSan; `make install`
# (PREFIX=/usr/local, DESTDIR for staging) installs the program, its models,
# sweep files and docs.
CC      ?= cc
BUILD   ?= build
OPT     ?= -O3 -march=native
CFLAGS  ?= $(OPT)
CFLAGS  += -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Iinclude -Isrc -fopenmp -MMD -MP
LDLIBS  += -ldnnl -lpng -ljpeg -lz -lpthread -lm
LDFLAGS += -fopenmp

LIB_SRC  := $(filter-out src/cli/%,$(wildcard src/*.c src/*/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

DATA_DIR ?= data/cifar-10-batches-bin

# MPI (data-parallel `mpirun -np N lrlab train`, src/dist/dist.c): built when
# pkg-config finds an MPI (Debian: libopenmpi-dev), or with MPI=1; MPI=0
# builds the one-rank stub. $(BUILD)/mpi.h records the choice (rewritten
# only when it changes, so switching rebuilds dist.o).
MPI ?= $(shell pkg-config --exists mpi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags mpi-c)
LDLIBS     += $(shell pkg-config --libs mpi-c)
endif

# `lrlab --version`: VERSION, and `git describe` when built from a git tree
# ($(BUILD)/version.h is rewritten only when the text changes).
VERSION  := 0.3.0
DESCRIBE := $(shell git describe --always --dirty 2>/dev/null)
VERSION_TEXT := $(VERSION)$(if $(DESCRIBE), (git $(DESCRIBE)))

all: $(BUILD)/lrlab $(TESTS) $(BUILD)/tools/synth_cifar $(BUILD)/tools/synth_data

$(BUILD)/tools/synth_cifar: tests/tools/synth_cifar.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c11 -Wall $< -o $@

$(BUILD)/tools/synth_data: tests/tools/synth_data.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c11 -Wall $< -o $@ -lpng -ljpeg -lz

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/version.h: FORCE
	@mkdir -p $(dir $@)
	@v='#define LRLAB_VERSION "$(VERSION_TEXT)"'; [ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" >$@

$(BUILD)/mpi.h: FORCE
	@mkdir -p $(dir $@)
	@v='#define LRLAB_MPI $(MPI)'; [ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" >$@

$(BUILD)/src/dist/dist.o: $(BUILD)/mpi.h
$(BUILD)/src/dist/dist.o: CFLAGS += -include $(BUILD)/mpi.h $(MPI_CFLAGS)

$(BUILD)/src/cli/main.o: $(BUILD)/version.h
$(BUILD)/src/cli/main.o: CFLAGS += -include $(BUILD)/version.h

$(BUILD)/liblrlab.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/lrlab: $(CLI_OBJ) $(BUILD)/liblrlab.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/liblrlab.a tests/test.h tests/test_files.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/liblrlab.a -o $@ $(LDLIBS)

# Install the missing Debian packages: to build and run (deps), and to test
# (deps-test adds PyTorch for the cross-checks, clang/libFuzzer, valgrind).
deps:
	sh scripts/install-deps.sh

deps-test:
	sh scripts/install-deps.sh --test

test: all
	LRLAB=$(BUILD)/lrlab TEST_BIN=$(BUILD)/tests SYNTH=$(BUILD)/tools/synth_cifar sh tests/run.sh

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fopenmp -fsanitize=address,undefined" test

# make data DATASET=cifar100|fashion-mnist|mnist [DATASET_DIR=DIR] (scripts/get-dataset.sh)
DATASET ?= cifar10
data:
	sh scripts/get-dataset.sh $(DATASET) $(if $(filter cifar10,$(DATASET)),$(DATA_DIR),$(DATASET_DIR))

# The seed's study on the real data: every run of experiments/seed.sweep, 30
# epochs (resumes where it stopped), then its table and its curves, and
# (where ../shared is) the comparison with PyTorch's reference runs.
SWEEP_FLAGS ?= --jobs 2
SEED_PLOT ?= --only const-lr0.01,step-lr0.01,multistep-lr0.02,exp-lr0.04,warmup-step,warmup-multistep,warmup-exp
# PyTorch's runs of three of them (the seed's program on the same data), beside lrlab's
REFERENCE_RUNS ?= ../shared/reference-runs
VS_TORCH = runs/seed/const-lr0.01 $(REFERENCE_RUNS)/torch_const_lr0.01.log \
	runs/seed/exp-lr0.04 $(REFERENCE_RUNS)/torch_exp_lr0.04_g0.885.log \
	runs/seed/warmup-exp $(REFERENCE_RUNS)/torch_warmup40x5_exp0.885_lr0.001.log
seed-study: all data
	$(BUILD)/lrlab sweep experiments/seed.sweep --data $(DATA_DIR) $(SWEEP_FLAGS)
	$(BUILD)/lrlab report $$($(BUILD)/lrlab sweep experiments/seed.sweep --list) -o runs/seed/report.md
	$(BUILD)/lrlab plot $$($(BUILD)/lrlab sweep experiments/seed.sweep --list $(SEED_PLOT)) -o runs/seed/curves.png
	@if [ -d $(REFERENCE_RUNS) ]; then \
	    $(BUILD)/lrlab report $(VS_TORCH) -o runs/seed/vs-pytorch.md && \
	    $(BUILD)/lrlab plot $(VS_TORCH) -o runs/seed/vs-pytorch.png; \
	else echo "no $(REFERENCE_RUNS): runs/seed/vs-pytorch.* not made"; fi
	@cat runs/seed/report.md

# airbench94's recipe on the real data (experiments/airbench94.sweep; README
# "airbench94's recipe"): one run, resumed where it stopped; then its
# accuracies with and without TTA. AIRBENCH_FLAGS: e.g. --seeds 5.
AIRBENCH_FLAGS ?=
airbench94: all data
	$(BUILD)/lrlab sweep experiments/airbench94.sweep --data $(DATA_DIR) $(AIRBENCH_FLAGS)
	@grep -h "tta_test_acc" $$($(BUILD)/lrlab sweep experiments/airbench94.sweep --list $(AIRBENCH_FLAGS) | sed 's/$$/.log/')

# bin/lrlab finds share/lrlab/models and share/lrlab/experiments beside it
# (cli_search_dirs), so the installed program runs from any directory.
PREFIX ?= /usr/local
SHARE = $(DESTDIR)$(PREFIX)/share
install: $(BUILD)/lrlab
	install -d $(DESTDIR)$(PREFIX)/bin $(SHARE)/lrlab/models $(SHARE)/lrlab/experiments $(SHARE)/doc/lrlab/docs/img
	install -m 755 $(BUILD)/lrlab $(DESTDIR)$(PREFIX)/bin/lrlab
	install -m 644 models/* $(SHARE)/lrlab/models
	install -m 644 experiments/*.sweep experiments/*.tune $(SHARE)/lrlab/experiments
	install -m 644 README.md BENCHMARKS.md $(SHARE)/doc/lrlab
	install -m 644 docs/*.md $(SHARE)/doc/lrlab/docs
	install -m 644 docs/img/* $(SHARE)/doc/lrlab/docs/img

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/lrlab $(SHARE)/lrlab $(SHARE)/doc/lrlab

FUZZ_SECONDS ?= 60
fuzz:
	sh fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-fuzz build-valgrind

.PHONY: all deps deps-test test seed-study airbench94 asan data fuzz clean install uninstall FORCE
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
