package systemd

import (
	"fmt"
	"io"
	"strings"
)

// WriteCatalog writes the journal message catalog of every event type, in
// the format of systemd's catalog files (man journalctl, --update-catalog):
// an entry per MESSAGE_ID, which journalctl -x shows beside each record.
// The package ships it as /usr/lib/systemd/catalog/vipsentinel.catalog.
func WriteCatalog(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# vipsentinel's journal message catalog: one entry per event type.\n")
	b.WriteString("# Generated from systemd/events.go by `go run ./internal/docgen`; do not edit.\n")
	for _, e := range events {
		fmt.Fprintf(&b, "\n-- %s\n", e.MessageID)
		fmt.Fprintf(&b, "Subject: vipsentinel %s: %s\n", e.Name, e.Summary)
		b.WriteString("Defined-By: vipsentinel\n")
		b.WriteString("Documentation: man:vipsentinel(8)\n")
		b.WriteString("Documentation: file:/usr/share/doc/vipsentinel/troubleshooting.md\n\n")
		b.WriteString(wrap(e.Help, 76))
		// @FIELD@ is replaced by the record's journal field.
		b.WriteString("\nMaster: @MASTER@\nPayload: @PAYLOAD@\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrap breaks text into lines of at most width bytes at spaces (a longer
// word stays whole), each ending in a newline.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		if n > 0 && n+1+len(w) > width {
			b.WriteByte('\n')
			n = 0
		}
		if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	b.WriteByte('\n')
	return b.String()
}
