# edgebench: thin wrappers around cargo and the edgebench binary.
SHELL := /bin/bash
CARGO ?= cargo
BIN := target/release/edgebench
# libtorch for the `dppo` feature (issue 5) lives in the project venv.
# The venv's Python is the system python3 (scripts/setup.sh); ask it its version.
PYTHON_VERSION := $(shell python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export LIBTORCH := $(CURDIR)/.venv/lib/python$(PYTHON_VERSION)/site-packages/torch
export LD_LIBRARY_PATH := $(LIBTORCH)/lib:$(LD_LIBRARY_PATH)
# Every build enables the DPPO agent and MPI; `make setup` provides libtorch and MPICH.
FEATURES := --features harness/dppo,harness/mpi
# `make train`: the shipped default checkpoint (about 15 minutes on 2 cores; 20 at most).
TRAIN_STEPS ?= 4000000

.PHONY: help setup build bench test test-fast regress regress-run python pytest train train-general heldout paper traces importbench microbench speedcheck fuzz fmt lint clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

setup: ## Install what the build needs (apt: cmake, libclang-dev, MPICH; .venv with torch 2.13.0); idempotent
	@bash scripts/setup.sh

build: setup ## Release build of the workspace
	$(CARGO) build --release --locked --workspace --all-targets $(FEATURES)

bench: build ## Run the default scenario, every policy, seeds 1,2,3, into results/bench; report (tables, figures); print the summary
	$(BIN) run --scenario default --seeds 1,2,3 --out results/bench
	cp solvers/checkpoints/default-train.parquet results/bench/train.parquet
	$(BIN) report --results results/bench
	@echo
	@cat results/bench/summary.md
	@echo 'Tables with 95 % confidence intervals: results/bench/report/tables.md and tables.tex'
	@echo "Figures (SVG and PNG): $$(ls results/bench/report/figures/*.png | tr '\n' ' ')"
	@echo 'The report as one page: results/bench/report/index.html'

test: setup ## Run every test of the workspace (release profile, shared with bench), the regression suite, then the Python package's tests
	$(CARGO) test --release --locked --workspace $(FEATURES)
	$(MAKE) --no-print-directory regress-run
	$(MAKE) --no-print-directory pytest

# The slow tests (names, as `cargo test --skip` matches them): 1 000 random
# MILP instances against brute force, every slot of the default preset, 300
# lookahead instances, the exact optimum of 24 small runs, the learning test.
SLOW_TESTS := milp_matches_brute_force no_heuristic_beats_the_milp_on_any_slot lookahead_decisions_are_valid_and_never_below the_bound_is_never_above_the_exact_optimum a_short_training_learns
test-fast: setup ## The edit-compile loop: the workspace's tests without the slow ones (SLOW_TESTS), no regression suite, no Python
	$(CARGO) test --release --locked --workspace $(FEATURES) -- $(addprefix --skip ,$(SLOW_TESTS))

VENV_PY := .venv/bin/python
python: setup ## Build the Python package `edgebench` into .venv (maturin, release profile, the workspace's target/)
	$(VENV_PY) -m pip install -q --disable-pip-version-check -r python/requirements.txt
	VIRTUAL_ENV=$(CURDIR)/.venv .venv/bin/maturin develop --release --locked --manifest-path python/Cargo.toml

pytest: python ## The Python package's tests (python/tests)
	EDGEBENCH_CARGO_FEATURES=$(subst --features ,,$(FEATURES)) $(VENV_PY) -m pytest -q python/tests

REGRESS := results/regress
regress: build regress-run ## Regression check of policy quality against harness/regress/*.toml (tiny, reduced default: every policy; a reduced held-out trace: the general checkpoint)

# 24 seeds of the whole 200-slot held-out world: fewer leave the `default`-only
# checkpoint within tolerance (docs/measurements.md, 2026-12-04).
HELDOUT_REGRESS_SEEDS := 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24
regress-run:
	$(BIN) run --scenario tiny --seeds 1,2,3,4,5,6,7,8,9,10 --quiet --out $(REGRESS)/tiny
	$(BIN) regress --results $(REGRESS)/tiny --baseline harness/regress/tiny.toml
	$(BIN) run --scenario default --slots 60 --terminals 24 --seeds 1,2,3,4,5,6 --quiet --out $(REGRESS)/default-reduced
	$(BIN) regress --results $(REGRESS)/default-reduced --baseline harness/regress/default-reduced.toml
	$(BIN) run --scenario scenarios/heldout/grid5-pedestrian.toml --seeds $(HELDOUT_REGRESS_SEEDS) \
	  --policies dppo,greedy,nearest --checkpoint shipped:general --quiet --out $(REGRESS)/heldout-reduced
	$(BIN) regress --results $(REGRESS)/heldout-reduced --baseline harness/regress/heldout-reduced.toml

paper: build ## Paper-scale runs and sweeps (default preset, every policy and the bound; milp-oracle in the main run); every figure and table into results/paper
	$(BIN) run --scenario default --seeds 1,2,3,4,5 --policies dppo,milp,milp-lookahead,milp-oracle,nearest,greedy,local,random,bound --out results/paper/default
	cp solvers/checkpoints/default-train.parquet results/paper/default/train.parquet
	$(BIN) report --results results/paper/default
	$(BIN) sweep --scenario default --vary terminals=12,24,36,48,72 --seeds 1,2,3 --out results/paper/sweep-terminals
	$(BIN) report --results results/paper/sweep-terminals
	$(BIN) sweep --scenario default --vary speed=1,4,8,15 --seeds 1,2,3 --out results/paper/sweep-speed
	$(BIN) report --results results/paper/sweep-speed
	$(BIN) sweep --scenario default --vary deadline=150,300,800 --seeds 1,2,3 --out results/paper/sweep-deadline
	$(BIN) report --results results/paper/sweep-deadline
	$(BIN) sweep --scenario default --vary cache=128,256,384,768 --seeds 1,2,3 --out results/paper/sweep-cache
	$(BIN) report --results results/paper/sweep-cache
	@echo "Tables and figures: results/paper/*/report/"

train: build ## Train the DPPO agent on `default` (2 workers, seed 1) and install it as the shipped `default` checkpoint (then run train-general: it starts from this one)
	$(BIN) train --scenario default --workers 2 --seed 1 --steps $(TRAIN_STEPS) --out results/train-default
	mkdir -p solvers/checkpoints
	cp results/train-default/policy.safetensors solvers/checkpoints/default.safetensors
	cp results/train-default/policy.json solvers/checkpoints/default.json
	cp results/train-default/train.parquet solvers/checkpoints/default-train.parquet

# `make train-general` (issue 21): the default checkpoint fine-tuned on a
# mixture of world types, none of them a held-out world: `default`, three
# families of sampled worlds (scenarios/train/: generated mobility, windows
# and terminal subsets of the SUMO traces, subsets of the Melbourne sites),
# `melbourne` and `dense`; shipped as `--checkpoint shipped:general`
# (docs/heldout.md).
GENERAL_STEPS ?= 1500000
GENERAL_WORLDS := --scenario default --scenario scenarios/train/generated.toml --scenario scenarios/train/traces.toml \
  --scenario scenarios/train/sites.toml --scenario melbourne --scenario dense --weights 4,2,2,1,1,1
train-general: build ## Fine-tune the default checkpoint on a mixture of world types (at most 30 minutes on 2 cores) and install it as the shipped `general` checkpoint
	$(BIN) train $(GENERAL_WORLDS) --init solvers/checkpoints/default.safetensors --init-temperature 3 --lr 0.0003 \
	  --rollout 64 --gamma 0.99 --workers 2 --seed 21 --steps $(GENERAL_STEPS) --out results/train-general
	cp results/train-general/policy.safetensors solvers/checkpoints/general.safetensors
	cp results/train-general/policy.json solvers/checkpoints/general.json
	cp results/train-general/train.parquet solvers/checkpoints/general-train.parquet
	cp results/train-general/train_worlds.parquet solvers/checkpoints/general-train_worlds.parquet

heldout: build ## The held-out evaluation (docs/heldout.md): `score` with both shipped checkpoints on every held-out SUMO world, seeds 1-3
	bash scripts/heldout.sh

traces: build ## Regenerate the sample SUMO traces in scenarios/data/traces (installs SUMO into .venv)
	bash scripts/make-traces.sh

importbench: build ## Time `edgebench trace import` on a SUMO-made FCD file of 1.2 million vehicle records (SUMO into .venv; speed, peak RSS)
	bash scripts/make-big-fcd.sh results/importbench/sumo.fcd.xml
	/usr/bin/time -f "peak RSS %M KB, wall %e s" $(BIN) trace import --format sumo-fcd results/importbench/sumo.fcd.xml -o results/importbench/sumo.parquet

FUZZ_SECONDS ?= 300
fuzz: setup ## Fuzz every parser of outside input for FUZZ_SECONDS each (cargo-fuzz, stable, -s none; its own instrumented build in fuzz/target)
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

microbench: setup ## Criterion micro-benchmarks of the hot paths (hot_paths, sim_step, milp_build, milp_solve, milp_lookahead_solve, milp_lookahead_joint_solve) and the MILP scaling table
	$(CARGO) bench --locked -p harness --bench hot_paths $(FEATURES)
	$(CARGO) bench --locked -p harness --bench sim_step
	$(CARGO) bench --locked -p solvers --bench milp
	$(CARGO) bench --locked -p solvers --bench milp_scaling

fmt: ## Format the code
	$(CARGO) fmt --all

lint: ## cargo fmt --check, clippy, and clippy of the build without optional features (no MILP, DPPO or MPI)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets $(FEATURES) -- -D warnings
	$(CARGO) clippy --release --locked --workspace --all-targets --no-default-features -- -D warnings

clean: ## Remove build output and results
	$(CARGO) clean
	rm -rf results

speedcheck: build ## Time `edgebench run` with nearest on 13 nodes, 30 terminals, 10,000 slots (target: < 3 s)
	@time $(BIN) run --scenario harness/benches/speed-13n.toml --policies nearest --seeds 1 --slots 10000 --quiet --out results/speedcheck
