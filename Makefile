# `make demo` and `make test` are the whole set-up: each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST := $(PY) -m pytest -q
# Tests run in parallel, one worker per CPU (pytest-xdist; work stealing, since a few files hold
# most of the time: a module fixture may then be built once per worker). Much of a test's time
# is single-threaded (Python, tracing, subprocess start-up), so two workers on two cores cut the
# suite's wall time.
TEST_WORKERS ?= auto
PARALLEL := -n $(TEST_WORKERS) --dist worksteal

REF_VENV := benchmarks/.venv-reference
# Before each pass: the CPU, the flags that choose TensorFlow's kernels, the oneDNN setting, and
# the low-precision convolution tests that setting skips.
CPU_LINE = $(PY) -c "from amr_tf import cpu; print(cpu.flags_line())"

.PHONY: demo test test-fast test-numerics lint bench reference-venv clean

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m amr_tf.demo

# The whole suite on this CPU's default kernels, then the floating-point tests again on the
# kernels an AVX2-only CPU runs (oneDNN held to AVX2) and on TensorFlow's own (oneDNN off).
test: $(STAMP)
	@$(CPU_LINE)
	$(PYTEST) $(PARALLEL) tests
	$(MAKE) --no-print-directory test-numerics

# Quick iteration: the suite less the tests marked slow (whole CLI runs, kills and resumes,
# multi-process runs), on this CPU's default kernels only.
test-fast: $(STAMP)
	$(PYTEST) $(PARALLEL) -m "not slow" tests

# On a CPU with nothing above AVX2 for oneDNN, holding it to AVX2 changes no kernel: the first
# pass already ran these tests on them, so the AVX2 pass is skipped there (and says so).
test-numerics: $(STAMP)
	@if $(PY) -c "from amr_tf import cpu; raise SystemExit(not cpu.above_avx2())"; then \
	  echo "numerics tests with oneDNN held to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2):"; \
	  ONEDNN_MAX_CPU_ISA=AVX2 $(CPU_LINE) && \
	  ONEDNN_MAX_CPU_ISA=AVX2 $(PYTEST) $(PARALLEL) -m numerics tests; \
	else \
	  echo "numerics tests with oneDNN held to AVX2: not run: this CPU has nothing above AVX2 for oneDNN," \
	       "so the first pass ran them on AVX2 kernels already"; \
	fi
	@echo "numerics tests with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0):"
	@TF_ENABLE_ONEDNN_OPTS=0 $(CPU_LINE)
	TF_ENABLE_ONEDNN_OPTS=0 $(PYTEST) $(PARALLEL) -m numerics tests

# pyflakes, pycodestyle and import order (.ruff.toml); .ci/run runs it before the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m amr_tf.bench --k=8

# torch (CPU) for benchmarks/against_original.py, in its own environment: never in .venv.
reference-venv:
	test -x $(REF_VENV)/bin/python || $(PYTHON) -m venv $(REF_VENV)
	$(REF_VENV)/bin/python -m pip install --quiet -r benchmarks/reference-requirements.txt

clean:
	rm -rf runs/demo
