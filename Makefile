# The two commands of the README:
#   make demo   plan the bundled presets, then a short real SLTrain training run on this machine
#   make test   every test layer (installs npm packages, the engine venv and the Debian packages)
.PHONY: demo test deps build venv test-deps bench

RUN_DIR ?= .sltrain/runs/demo
DEMO_PRESETS := llama_60m llama_130m llama_350m llama_1b llama_7b

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deps: node_modules/.stamp

build: deps
	node scripts/build.mjs

venv:
	scripts/setup-venv.sh

test-deps:
	scripts/setup-test-deps.sh
	scripts/setup-code-server.sh

demo: build
	scripts/setup-venv.sh
	@for m in $(DEMO_PRESETS); do node dist/cli.js plan --model $$m --method all || exit $$?; echo; done
	@echo "Training the embedded default (llama_tiny, SLTrain, Shakespeare, CPU) into $(RUN_DIR) ..."
	rm -rf $(RUN_DIR)
	@# Progress on stderr; the JSONL events (also on stdout) are kept in the run directory.
	engine/.venv/bin/python -m sltrain.train --out $(RUN_DIR) > /dev/null
	@engine/.venv/bin/python -c "import json, sys; [print(f\"  step {e['step']:>4}  validation loss {e['loss']:.3f}  perplexity {e['ppl']:.2f}\") for e in map(json.loads, open(sys.argv[1])) if e['event'] == 'eval']" $(RUN_DIR)/events.jsonl
	@echo "Run directory: $(RUN_DIR) (events.jsonl, config.json, checkpoints/)"

test: build venv test-deps
	scripts/test-all.sh

bench: build venv
	node out-bench/plan-bench.js test/bench/results/plan-bench.json
	engine/.venv/bin/python engine/bench/layer_bench.py
