# `make demo` and `make test` are the whole set-up: each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST := $(PY) -m pytest -q

.PHONY: demo test test-numerics bench clean

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
	$(PYTEST) tests
	$(MAKE) --no-print-directory test-numerics

test-numerics: $(STAMP)
	@echo "numerics tests with oneDNN held to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2):"
	ONEDNN_MAX_CPU_ISA=AVX2 $(PYTEST) -m numerics tests
	@echo "numerics tests with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0):"
	TF_ENABLE_ONEDNN_OPTS=0 $(PYTEST) -m numerics tests

bench: $(STAMP)
	$(PY) -m amr_tf.bench --k=8

clean:
	rm -rf runs/demo
