// Command vulncheck applies the project's policy to govulncheck's findings:
// CI fails on every vulnerability that the code calls, except those listed,
// each with its reason, in an accepted file (.ci/govulncheck-accepted).
//
//	govulncheck -format json ./... | go run ./internal/vulncheck .ci/govulncheck-accepted
//
// The list exists for what this project cannot fix on its own: a standard
// library fix that needs a Go toolchain newer than the machines have. A
// listed vulnerability that is no longer found is reported, so that the
// list shrinks when the toolchain moves. Vulnerabilities in imported code
// that is never called are printed but do not fail, as govulncheck's own
// exit status has it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

// finding is the part of a govulncheck JSON "finding" message used here.
type finding struct {
	OSV          string `json:"osv"`
	FixedVersion string `json:"fixed_version"`
	Trace        []struct {
		Module   string `json:"module"`
		Version  string `json:"version"`
		Package  string `json:"package"`
		Function string `json:"function"`
	} `json:"trace"`
}

// called reports whether the finding's trace reaches a vulnerable
// function, not only a vulnerable module or package.
func (f finding) called() bool { return len(f.Trace) > 0 && f.Trace[0].Function != "" }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: govulncheck -format json ./... | vulncheck ACCEPTED-FILE")
		os.Exit(2)
	}
	accepted, err := readAccepted(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "vulncheck: %v\n", err)
		os.Exit(2)
	}
	failed, err := check(os.Stdin, accepted, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vulncheck: %v\n", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// readAccepted reads "ID reason..." lines; # starts a comment line.
func readAccepted(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(id, "GO-") || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: want \"GO-YYYY-NNNN reason\", got %q", path, i+1, line)
		}
		out[id] = strings.TrimSpace(reason)
	}
	return out, nil
}

// check reads govulncheck's JSON stream from r, writes a summary to w and
// reports whether a called vulnerability is not accepted.
func check(r io.Reader, accepted map[string]string, w io.Writer) (failed bool, err error) {
	called := map[string]finding{}
	imported := map[string]bool{}
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var msg struct {
			Finding *finding `json:"finding"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			return false, fmt.Errorf("reading govulncheck's output: %w", err)
		}
		f := msg.Finding
		switch {
		case f == nil:
		case !f.called():
			imported[f.OSV] = true
		case called[f.OSV].OSV == "":
			// The first trace govulncheck reports stands for the others.
			called[f.OSV] = *f
		}
	}
	ids := slices.Sorted(maps.Keys(called))
	acceptedN := 0
	for _, id := range ids {
		f := called[id]
		at := f.Trace[0]
		where := fmt.Sprintf("%s@%s %s.%s", at.Module, at.Version, at.Package, at.Function)
		if reason, ok := accepted[id]; ok {
			fmt.Fprintf(w, "accepted  %s in %s (fixed in %s): %s\n", id, where, f.FixedVersion, reason)
			acceptedN++
			continue
		}
		failed = true
		fmt.Fprintf(w, "VULNERABLE %s in %s, fixed in %s: https://pkg.go.dev/vuln/%s\n", id, where, f.FixedVersion, id)
	}
	for id := range accepted {
		if _, ok := called[id]; !ok {
			fmt.Fprintf(w, "note: %s is accepted in the list but no longer found; remove it\n", id)
		}
	}
	uncalled := 0
	for id := range imported {
		if _, ok := called[id]; !ok {
			uncalled++
		}
	}
	fmt.Fprintf(w, "%d vulnerabilities called (%d accepted), %d more in imported code that is never called\n",
		len(called), acceptedN, uncalled)
	return failed, nil
}
