package main

import (
	"fmt"
	"go/doc/comment"
	"strings"
)

// roff renders parsed Go doc comment text as man(7) requests. go/doc/comment
// has printers for HTML, Markdown and text but not for roff, and the syntax
// it parses (headings, paragraphs, indented code, lists) is all a man page
// needs, so that one text serves go doc and man.
type roff struct {
	b strings.Builder
}

// heading starts a section; man(7) section names are upper case.
func (r *roff) heading(title string) {
	fmt.Fprintf(&r.b, ".SH %s\n", escapeArg(strings.ToUpper(title)))
}

// request writes one man(7) request line as is.
func (r *roff) request(line string) {
	r.b.WriteString(line)
	r.b.WriteByte('\n')
}

// blocks renders the blocks of a parsed comment.
func (r *roff) blocks(blocks []comment.Block) {
	for _, b := range blocks {
		switch b := b.(type) {
		case *comment.Heading:
			r.heading(plainText(b.Text))
		case *comment.Paragraph:
			r.request(".PP")
			r.text(b.Text)
		case *comment.Code:
			r.code(b.Text)
		case *comment.List:
			for _, it := range b.Items {
				bullet := `\(bu`
				if it.Number != "" {
					bullet = it.Number + "."
				}
				r.request(".IP " + bullet + " 4")
				for i, c := range it.Content {
					if i > 0 {
						r.request(".IP \"\" 4")
					}
					if p, ok := c.(*comment.Paragraph); ok {
						r.text(p.Text)
					}
				}
			}
			r.request(".PP")
		}
	}
}

// code renders a preformatted block, indented, without filling or
// hyphenation.
func (r *roff) code(text string) {
	r.request(".PP")
	r.request(".RS 4")
	r.request(".nf")
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		r.b.WriteString(escapeLine(line))
		r.b.WriteByte('\n')
	}
	r.request(".fi")
	r.request(".RE")
}

// text renders filled text, one sentence-ish chunk per line as man(7)
// prefers: a line break after each ". ".
func (r *roff) text(ts []comment.Text) {
	s := plainText(ts)
	s = strings.Join(strings.Fields(s), " ")
	for _, line := range strings.SplitAfter(s, ". ") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		r.b.WriteString(escapeLine(line))
		r.b.WriteByte('\n')
	}
}

// plainText flattens inline text; links keep their text, doc links their
// name.
func plainText(ts []comment.Text) string {
	var b strings.Builder
	for _, t := range ts {
		switch t := t.(type) {
		case comment.Plain:
			b.WriteString(string(t))
		case comment.Italic:
			b.WriteString(string(t))
		case *comment.Link:
			b.WriteString(plainText(t.Text))
		case *comment.DocLink:
			b.WriteString(plainText(t.Text))
		}
	}
	return b.String()
}

// escapeLine makes text safe as a roff text line: backslashes are escaped,
// a leading . or ' (a request) is protected with \&, and a hyphen-minus
// is \- so that it stays a minus (options, "-tilt") rather than a hyphen.
func escapeLine(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// escapeArg escapes a request argument.
func escapeArg(s string) string {
	s = escapeLine(s)
	if strings.ContainsAny(s, " \t") {
		s = `"` + strings.ReplaceAll(s, `"`, `\(dq`) + `"`
	}
	return s
}
