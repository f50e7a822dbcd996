package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// maxIncludeDepth bounds include nesting. Loops are detected exactly; this
// only stops absurdly deep (and slow) include trees.
const maxIncludeDepth = 16

// maxErrors bounds how many errors one Parse reports.
const maxErrors = 50

// maxConfigSize bounds the bytes of a configuration, all included files
// together. Real ones are a few KiB (about 1 KiB per monitored master); the
// bound makes a mistaken include of a log file, a device or a huge file an
// error instead of a stall and an agent that eats memory.
const maxConfigSize = 8 << 20

// Option changes how Load and Parse read a configuration.
type Option func(*options)

type options struct {
	noInclude bool
}

// NoInclude makes every include directive an error. Use it to parse text
// that must not make the parser read other files (fuzzing, untrusted input).
func NoInclude() Option { return func(o *options) { o.noInclude = true } }

// Load reads and parses the configuration file at path, following includes.
// On success it returns the parsed file and warnings for the caller to log.
// A bad configuration is reported as one or more *Error values (see Error);
// warnings found before the error are returned as well.
func Load(path string, opts ...Option) (*File, []Warning, error) {
	data, err := readConfigFile(path, maxConfigSize)
	if err != nil {
		return nil, nil, &Error{File: path, Err: err}
	}
	return Parse(path, data, opts...)
}

// readConfigFile reads the configuration file at path, which must be a
// regular file of at most limit bytes. Devices (include /dev/zero), FIFOs
// and directories are refused before anything is read from them, so a
// wrong path fails at once instead of blocking or growing without bound.
func readConfigFile(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, readErr(err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s): only regular files can hold configuration", fileKind(st.Mode()))
	}
	if st.Size() > limit {
		return nil, errTooLarge
	}
	// O_NONBLOCK: should path become a FIFO after the Stat, the open does
	// not wait for a writer (the Stat below then refuses it).
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, readErr(err)
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, readErr(err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s): only regular files can hold configuration", fileKind(st.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, readErr(err)
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge
	}
	return data, nil
}

var errTooLarge = fmt.Errorf("larger than %d bytes, the most a configuration (all its files together) may hold", maxConfigSize)

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}

// Parse parses data as the contents of the configuration file name. Includes
// are resolved relative to name's directory and read from the file system
// unless NoInclude is given. Results are as for Load.
func Parse(name string, data []byte, opts ...Option) (*File, []Warning, error) {
	p := &parser{}
	for _, o := range opts {
		o(&p.opts)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = filepath.Clean(name)
	}
	p.files = []string{name}
	if len(data) > maxConfigSize {
		p.errorf(pos{name, 0}, "", "%v", errTooLarge)
		return nil, p.warns, p.err()
	}
	p.size = int64(len(data))
	p.read(name, abs, data, nil)
	f := p.build(name)
	if len(p.errs) > 0 {
		return nil, p.warns, p.err()
	}
	return f, p.warns, nil
}

// line is one directive: where it is and its arguments. args[0] is the
// directive name, lower-cased.
type line struct {
	pos
	args []string
}

// name returns the directive as it appears in messages: "port",
// "sentinel monitor".
func (l line) name() string {
	if l.args[0] == "sentinel" && len(l.args) > 1 {
		return "sentinel " + strings.ToLower(l.args[1])
	}
	return l.args[0]
}

type parser struct {
	opts  options
	lines []line
	files []string
	errs  []*Error
	warns []Warning
	size  int64 // bytes of configuration read so far (maxConfigSize)
}

func (p *parser) errorf(at pos, directive string, format string, a ...any) {
	p.errs = append(p.errs, &Error{File: at.file, Line: at.line, Directive: directive, Err: fmt.Errorf(format, a...)})
}

func (p *parser) warnf(at pos, directive string, format string, a ...any) {
	p.warns = append(p.warns, Warning{File: at.file, Line: at.line, Directive: directive, Msg: fmt.Sprintf(format, a...)})
}

// err returns the collected errors in file order: a single *Error, or
// several joined.
func (p *parser) err() error {
	slices.SortStableFunc(p.errs, func(a, b *Error) int {
		if c := p.fileIndex(a.File) - p.fileIndex(b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	if len(p.errs) == 1 {
		return p.errs[0]
	}
	errs := make([]error, 0, min(len(p.errs), maxErrors))
	for i, e := range p.errs {
		if i == maxErrors {
			errs = append(errs, &Error{File: e.File, Line: e.Line, Err: fmt.Errorf("%d more errors not shown", len(p.errs)-maxErrors)})
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func (p *parser) fileIndex(name string) int {
	if i := slices.Index(p.files, name); i >= 0 {
		return i
	}
	return len(p.files)
}

// read splits data (the contents of the file called name, whose absolute path
// is abs) into directives, expanding includes in place. chain holds the
// absolute paths of the files currently being included, for loop detection.
func (p *parser) read(name, abs string, data []byte, chain []string) {
	chain = append(chain, abs)
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // editors on other systems add a BOM
	for i, raw := range strings.Split(string(data), "\n") {
		at := pos{name, i + 1}
		s := strings.TrimFunc(raw, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
		if s == "" || s[0] == '#' {
			continue
		}
		if strings.IndexByte(s, 0) >= 0 {
			p.errorf(at, "", "%v", errNUL)
			continue
		}
		args, err := redisrule.SplitArgs(s)
		if err != nil {
			p.errorf(at, "", "%v", err)
			continue
		}
		if len(args) == 0 {
			continue // only white space; unreachable after the trim, kept for safety
		}
		args[0] = strings.ToLower(args[0])
		if args[0] == "include" {
			p.include(at, args[1:], filepath.Dir(abs), chain)
			continue
		}
		p.lines = append(p.lines, line{at, args})
	}
}

func (p *parser) include(at pos, args []string, dir string, chain []string) {
	if p.opts.noInclude {
		p.errorf(at, "include", "includes are disabled here")
		return
	}
	if len(args) != 1 {
		p.errorf(at, "include", "wrong number of arguments: want include <path>")
		return
	}
	pattern := args[0]
	if pattern == "" {
		p.errorf(at, "include", "empty path")
		return
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(dir, pattern)
	}
	if len(chain) > maxIncludeDepth {
		p.errorf(at, "include", "includes nested more than %d deep", maxIncludeDepth)
		return
	}
	var paths []string
	if hasMeta(args[0]) {
		m, err := filepath.Glob(pattern)
		if err != nil {
			p.errorf(at, "include", "bad pattern %q: %v", args[0], err)
			return
		}
		if len(m) == 0 {
			p.warnf(at, "include", "pattern %q matches no file", pattern)
			return
		}
		slices.Sort(m)
		paths = m
	} else {
		paths = []string{pattern}
	}
	for _, path := range paths {
		real := path
		if r, err := filepath.EvalSymlinks(path); err == nil {
			real = r
		}
		if r, err := filepath.Abs(real); err == nil {
			real = r
		}
		if i := slices.Index(chain, real); i >= 0 {
			p.errorf(at, "include", "include loop: %s includes itself (via %s)", path, strings.Join(chain[i:], " -> "))
			continue
		}
		data, err := readConfigFile(path, maxConfigSize-p.size)
		if err != nil {
			p.errorf(at, "include", "%s: %v", path, err)
			continue
		}
		p.size += int64(len(data))
		p.files = append(p.files, path)
		p.read(path, real, data, chain)
	}
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// readErr strips the redundant "open <path>:" prefix from file errors.
func readErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
