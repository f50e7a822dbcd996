package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/systemd"
)

const root = "../.."

// TestUpToDate fails when a generated file was not regenerated after its
// source changed (CI also runs go run ./internal/docgen -check).
func TestUpToDate(t *testing.T) {
	stale, err := generate(root, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Errorf("out of date: %v; run `go run ./internal/docgen` and commit the result", stale)
	}
}

// TestManPagesRender formats each page as man(1) does for a terminal, with
// groff's warnings on, as lintian checks them: any warning fails.
func TestManPagesRender(t *testing.T) {
	man := testenv.NeedTool(t, "man")
	for _, page := range []string{"docs/man/vipsentinel.8", "docs/man/vipsentinel.conf.5"} {
		cmd := exec.Command(man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", filepath.Join(root, page))
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANROFFSEQ=", "MANWIDTH=80")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 || len(out) == 0 {
			t.Errorf("man -l %s: %v, %d bytes out\n%s", page, err, len(out), stderr.String())
		}
	}
}

// TestConfPageCoversDirectives checks that every directive the parser
// accepts is in the directive reference, and so in vipsentinel.conf(5).
func TestConfPageCoversDirectives(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(root, "docs/man/vipsentinel.conf.5"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "agent/config/directives.go"))
	if err != nil {
		t.Fatal(err)
	}
	// usage: "sentinel vip <master> ..." in the spec tables.
	usages := regexp.MustCompile(`usage: "((?:sentinel )?[a-z-]+)`).FindAllStringSubmatch(string(src), -1)
	if len(usages) < 40 {
		t.Fatalf("found %d directives in directives.go; has its format changed?", len(usages))
	}
	text := strings.ReplaceAll(string(page), `\-`, "-")
	for _, u := range usages {
		// An alias is documented as "(also known-slave)".
		alias := "also " + strings.TrimPrefix(u[1], "sentinel ")
		if !strings.Contains(text, u[1]+" ") && !strings.Contains(text, alias) {
			t.Errorf("directive %q is not in vipsentinel.conf(5) (agent/config/doc.go)", u[1])
		}
	}
}

// TestEveryEventHasMessageID scans the code that emits events for event
// type literals and checks that systemd's table lists each, so that a new
// event cannot ship without a MESSAGE_ID and a catalog entry.
func TestEveryEventHasMessageID(t *testing.T) {
	// A line emits an event when it builds one (Type:), calls an emitter
	// or assigns the type variable; the literals are "+name" / "-name".
	emitting := regexp.MustCompile(`Type:|Event[A-Za-z]*\(|emit|typ :?=|[aA]bort\(|Event[A-Za-z]* *=|debug\(`)
	literal := regexp.MustCompile(`"([+-][a-z][a-z0-9-]*)"`)
	found := map[string]string{}
	for _, dir := range []string{"agent/sentinel", "agent/runtime", "vip", "firewall", "agent/api"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "//") || !emitting.MatchString(line) {
					continue
				}
				for _, m := range literal.FindAllStringSubmatch(line, -1) {
					found[m[1]] = filepath.Base(f) + ":" + strconv.Itoa(i+1)
				}
			}
		}
	}
	if len(found) < 50 {
		t.Fatalf("found only %d event types; has the emitting code moved?", len(found))
	}
	var listed []string
	for _, e := range systemd.Events() {
		listed = append(listed, e.Name)
	}
	for name, at := range found {
		if !slices.Contains(listed, name) {
			t.Errorf("%s (%s) has no entry in systemd/events.go", name, at)
		}
	}
}

// TestCompletionsCoverCommands checks that the bash and zsh completions
// offer every command of vipsentinel --help.
func TestCompletionsCoverCommands(t *testing.T) {
	usage, err := usageText(filepath.Join(root, "cmd/vipsentinel/main.go"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, l := range strings.Split(usage, "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && f[0] == "vipsentinel" && !strings.HasPrefix(f[1], "<") && !strings.HasPrefix(f[1], "[") {
			cmds = append(cmds, f[1])
		}
	}
	if len(cmds) < 3 {
		t.Fatalf("found commands %v in the usage text", cmds)
	}
	for _, file := range []string{"docs/completion/vipsentinel.bash", "docs/completion/_vipsentinel"} {
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(c) + `\b`).Match(b) {
				t.Errorf("%s does not complete the command %q", file, c)
			}
		}
	}
}

// TestBashCompletion runs the completion function as bash would.
func TestBashCompletion(t *testing.T) {
	bash := testenv.NeedTool(t, "bash")
	for _, tc := range []struct{ words, want string }{
		{"vipsentinel st", "status"},
		{"vipsentinel check", "check-config"},
		{"vipsentinel status --a", "--addr"},
		{"vipsentinel status --c", "--config"},
	} {
		script := `source docs/completion/vipsentinel.bash
COMP_WORDS=(` + tc.words + `); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_vipsentinel; printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, "-c", script)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil || !slices.Contains(strings.Fields(string(out)), tc.want) {
			t.Errorf("%q completes to %q (%v), want %q among them", tc.words, out, err, tc.want)
		}
	}
}

// TestDocsCiteExistingFiles checks that the design notes and the shipped
// documents cite only files that are in the repository: a `name.go` or
// `dir/name.md` in backticks must exist, relative to the document or to
// the repository's root.
func TestDocsCiteExistingFiles(t *testing.T) {
	cite := regexp.MustCompile("`([A-Za-z0-9_./-]+\\.(?:go|md|sh|yml|json|txt))`")
	for _, doc := range []string{"agent/sentinel/design.md", "docs/troubleshooting.md", "docs/metrics.md", "CHANGELOG.md"} {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range cite.FindAllStringSubmatch(string(b), -1) {
			_, errDoc := os.Stat(filepath.Join(root, filepath.Dir(doc), m[1]))
			_, errRoot := os.Stat(filepath.Join(root, m[1]))
			if errDoc != nil && errRoot != nil {
				t.Errorf("%s cites %s, which is not in the repository", doc, m[1])
			}
		}
	}
}

// TestZshCompletion checks the zsh completion's syntax, then runs it with
// zsh's completion functions stubbed to print what they are given.
func TestZshCompletion(t *testing.T) {
	zsh := testenv.NeedTool(t, "zsh")
	file := "docs/completion/_vipsentinel"
	cmd := exec.Command(zsh, "-n", file)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zsh -n %s: %v\n%s", file, err, out)
	}
	for _, tc := range []struct {
		words   string
		current int
		want    string
	}{
		{"vipsentinel st", 2, "status:show masters"},
		{"vipsentinel check-config", 2, "check-config:validate"},
		{"vipsentinel status --a", 3, `--addr[addr]:host\:port:`},
		{"vipsentinel status --c", 3, "--config[config]:file:_files"},
	} {
		script := `_describe() { print -rl -- "${(@P)${@[-1]}}" }
_arguments() { print -rl -- "$@" }
_files() { :; }
words=(` + tc.words + `); CURRENT=` + strconv.Itoa(tc.current) + `
source ` + file
		cmd := exec.Command(zsh, "-f", "-c", script)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%q: %v\n%s\nwant a line with %q", tc.words, err, out, tc.want)
		}
	}
}
