# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
.PHONY: demo test lint typecheck setup setup-dev clean bench

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh --dev
	scripts/fetch-foreign-binaries.sh

# Set everything up, then assess the bundled example product: its firmware, documents and declaration.
demo: setup
	@scripts/build-example.sh >/dev/null && \
	.venv/bin/iotcop assess product examples/smart-camera/product.yaml -o build/demo --report json,sbom,html; \
	rc=$$?; echo "(exit code $$rc: 1 means a mandatory requirement failed, as it should for this example)"; \
	test $$rc -le 1

# Set everything up, then run the whole test suite, the linter and the type checker.
test: setup-dev
	.venv/bin/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	test $$rc -eq 0
	.venv/bin/ruff check iotcop tests
	.venv/bin/mypy

clean:
	rm -rf build .venv .mypy_cache .ruff_cache

# Benchmarks (bench/README.md): each times iotcop against a baseline tool in the same run and prints the ratio.
bench: setup
	.venv/bin/python bench/extract.py
	.venv/bin/python bench/assess_firmware.py
	.venv/bin/python bench/components.py
	.venv/bin/python bench/vulndb.py
	.venv/bin/python bench/device.py
	.venv/bin/python bench/device_full.py --rate 20000
