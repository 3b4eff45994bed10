# The two commands the README promises, and a few conveniences.
.PHONY: run test lint k8s-build k8s-up k8s-down

run:            ## Run the portal (web, worker, beat) with the embedded defaults
	scripts/run

test:           ## Install what the tests need and run every tier
	scripts/test

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports

k8s-build:
	scripts/k8s-testenv build

k8s-up:
	scripts/k8s-testenv up

k8s-down:
	scripts/k8s-testenv down
