# Convenience targets; the README's two set-up commands are `bash .ci/demo` and `bash .ci/test`.
.PHONY: build test demo packages bench clean

build:
	go build -o bin/vipsentinel ./cmd/vipsentinel

test:
	bash .ci/test

demo:
	bash .ci/demo

bench: build
	./bin/vipsentinel bench

packages:
	bash packaging/build.sh

clean:
	rm -rf bin dist
