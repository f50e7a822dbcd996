// Command docgen writes the documentation that is generated from the code,
// so that each fact has one source:
//
//	docs/man/vipsentinel.conf.5   from agent/config/doc.go (the directive reference)
//	docs/man/vipsentinel.8        from cmd/vipsentinel's usage text, docs/man/vipsentinel.8.txt
//	                              and systemd's event table
//	docs/metrics.md               from the metrics the agent registers
//	systemd/vipsentinel.catalog   from systemd's event table (journal message catalog)
//	docs/completion/*             bash and zsh completion, from cmd/vipsentinel's usage text
//
// Run it from the repository's root after changing any source:
//
//	go run ./internal/docgen          rewrite the files
//	go run ./internal/docgen -check   exit 1, naming them, if any file is out of date
//
// CI runs the check, and the package's tests run it too.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// output is one generated file: its path relative to the repository's root
// and the function that renders it.
type output struct {
	path   string
	render func(root string) ([]byte, error)
}

func outputs() []output {
	return []output{
		{"docs/man/vipsentinel.conf.5", confPage},
		{"docs/man/vipsentinel.8", commandPage},
		{"docs/metrics.md", metricsReference},
		{"systemd/vipsentinel.catalog", catalog},
		{"docs/completion/vipsentinel.bash", bashCompletion},
		{"docs/completion/_vipsentinel", zshCompletion},
	}
}

func main() {
	check := flag.Bool("check", false, "do not write: exit 1 if a generated file is out of date")
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	stale, err := generate(*root, !*check)
	if err != nil {
		fmt.Fprintf(os.Stderr, "docgen: %v\n", err)
		os.Exit(1)
	}
	if *check && len(stale) > 0 {
		for _, p := range stale {
			fmt.Fprintf(os.Stderr, "docgen: %s is out of date\n", p)
		}
		fmt.Fprintln(os.Stderr, "docgen: run `go run ./internal/docgen` and commit the result")
		os.Exit(1)
	}
}

// generate renders every output and returns the paths whose file differs
// from the rendering; with write it also rewrites them.
func generate(root string, write bool) (stale []string, err error) {
	for _, o := range outputs() {
		want, err := o.render(root)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.path, err)
		}
		path := filepath.Join(root, o.path)
		have, err := os.ReadFile(path)
		if err == nil && bytes.Equal(have, want) {
			continue
		}
		stale = append(stale, o.path)
		if !write {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			return nil, err
		}
	}
	return stale, nil
}
