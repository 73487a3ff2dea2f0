# Benchmarks against the peers, side by side (issue 7); included from the Makefile.
# `make bench` takes tens of minutes (kubernetes.core needs minutes per round);
# `make bench-quick` is the same run with small N, under 3 minutes.
# Results, plot and the control plane's state go to benchmarks/results/ (git-ignored).
.PHONY: bench bench-quick bench-profile bench-charts

bench: venv tools collection-link
	$(PYTHON) benchmarks/bench.py $(BENCH_ARGS)

bench-quick: venv tools collection-link
	$(PYTHON) benchmarks/bench.py --quick $(BENCH_ARGS)

# profile one module run against the cluster a `make bench BENCH_ARGS=--keep-cluster` left running
bench-profile: venv collection-link
	$(PYTHON) benchmarks/profile_module.py $(PROFILE_ARGS)

# render times of charts from a chart repository and an OCI registry, cold and warm (no control plane needed)
bench-charts: venv tools collection-link
	$(PYTHON) benchmarks/charts.py $(BENCH_ARGS)
