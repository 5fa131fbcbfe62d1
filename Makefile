# Two commands on a fresh machine with only Python:
#   make demo   - allyship pool -> simulated data -> analysis summary (out/demo/)
#   make test   - the test suite
PYTHON ?= python3
VENV   := .venv
# allyscale's matrices are small: multi-threaded BLAS costs far more than it gains (and contends on
# shared 2-core machines), so the demo and the tests run BLAS single-threaded.
export OMP_NUM_THREADS = 1
export OPENBLAS_NUM_THREADS = 1
export MKL_NUM_THREADS = 1
DEMO_ESTIMATOR ?=
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-slow bench data clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p out/demo
	$(BIN)/allyscale pool check item_pools/allyship.yaml
	$(BIN)/allyscale simulate --pool item_pools/allyship.yaml --n 800 --seed 2023 --structure second_order \
		--thresholds skewed --careless 0.03 --forms --out out/demo/allyship_n800.csv
	$(BIN)/allyscale validate out/demo/allyship_n800.csv --pool item_pools/allyship.yaml --group form $(DEMO_ESTIMATOR) \
		--out out/demo/report
	@echo "report: out/demo/report/report.html"

test: $(STAMP) browser
	$(BIN)/python -m pytest

# the report test renders report.html in headless Chromium (Debian package 'chromium')
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	    else echo "install Chromium (e.g. 'sudo apt-get install chromium') for the report rendering test"; fi; }

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

# the canonical small data sets in data/simulated/ (made by the CLI)
data: $(STAMP)
	$(BIN)/allyscale simulate --pool item_pools/allyship.yaml --n 500 --seed 1 --out data/simulated/allyship_n500.csv
	$(BIN)/allyscale simulate --pool item_pools/allyship.yaml --n 300 --seed 2 --structure second_order \
		--thresholds skewed --out data/simulated/allyship_second_order_n300.csv
	$(BIN)/allyscale simulate --pool item_pools/allyship.yaml --n 400 --seed 3 --careless 0.05 --missing 0.03 \
		--mechanism MAR --method-loading 0.3 --out data/simulated/allyship_contaminated_n400.csv

clean:
	rm -rf $(VENV) out .pytest_cache
