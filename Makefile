# Convenience targets; the README's two set-up commands are `bash .ci/demo` and `bash .ci/test`.
.PHONY: build test demo packages bench docs clean

# bin/vipsentinel is the daemon; bin/vipsentinel-lab the developers' demo and benchmarks
# (not packaged), which run the vipsentinel beside them.
build:
	go build -o bin/vipsentinel ./cmd/vipsentinel
	go build -o bin/vipsentinel-lab ./cmd/vipsentinel-lab

test:
	bash .ci/test

demo:
	bash .ci/demo

bench: build
	./bin/vipsentinel-lab bench

packages:
	bash packaging/build.sh

# Regenerates the man pages, completions, journal catalog and metrics reference (internal/docgen)
# after a change to their sources; CI fails while they are out of date.
docs:
	go run ./internal/docgen

clean:
	rm -rf bin dist
