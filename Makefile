# Two commands on a fresh machine with only Python:
#   make demo   - allyship pool -> simulated self-informant pairs -> validation report (out/demo/)
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

.PHONY: demo test test-slow bench data clean browser canonical calibrate docs lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p out/demo
	$(BIN)/allyscale pool check item_pools/allyship.yaml
	# the paired design allyship calls for: 400 White targets, each rated by themself and by one person of
	# color; informants lenient on four items (non-invariant across forms by construction); the targets also
	# answer two external measures (arbi: convergent, r = .6 with allyship; sdes: discriminant, r = .15) and
	# the self-report again at a retest (stability .8), written to out/demo/allyship_pairs_retest.csv
	$(BIN)/allyscale simulate --pool item_pools/allyship.yaml --dyads 400 --seed 2023 --structure second_order \
		--thresholds skewed --self-other-corr 0.5 --leniency tr_emp1=0.5,ac_shr2=0.5,aw_slf4=0.5,ab_col5=0.5 \
		--external arbi=0.6 --external sdes=0.15 --retest 0.8 --out out/demo/allyship_pairs.csv
	$(BIN)/allyscale validate out/demo/allyship_pairs.csv --pool item_pools/allyship.yaml --pairs --target-id target \
		--collapse --external 'arbi=arbi*' --external 'sdes=sdes*' --expect 'arbi=> .30' --expect 'sdes=|r| < .30' \
		--retest out/demo/allyship_pairs_retest.csv $(DEMO_ESTIMATOR) \
		--shorten 5 --shorten-seed 2023 --shorten-workers 2 --shorten-max-evaluations 1500 --out out/demo/report
	# from pool to measure (the report's section before the conclusion): a 30-item short form (5 items per
	# category, every subcategory covered) searched on the self-reports of a random half of the targets,
	# confirmed on the other half, written as pool YAML beside the report
	$(BIN)/allyscale pool check out/demo/report/short_form.yaml > /dev/null
	@echo "report: out/demo/report/report.html; short form: out/demo/report/short_form.yaml"

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

# the API documentation from the numpydoc docstrings (out/docs/index.html); the test run checks that it builds
docs: $(STAMP)
	$(BIN)/python -m sphinx -E -q -W --keep-going -b html docs/api out/docs

# ruff's rules and formatter, mypy (also run by the test suite: tests/test_habits.py)
lint: $(STAMP)
	$(BIN)/ruff check allyscale tests studies benchmarks
	$(BIN)/ruff format --check allyscale tests studies benchmarks
	$(BIN)/mypy

# the canonical allyship study, run in full and published in docs/canonical_study.md (resumable)
canonical: $(STAMP)
	$(BIN)/python studies/canonical_report.py --workers 2

# error rates of the fit verdict and the preferred structure on known truths -> docs/verdicts.md (resumable)
calibrate: $(STAMP)
	$(BIN)/python studies/calibrate_verdicts.py --workers 2

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
