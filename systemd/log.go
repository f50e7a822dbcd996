package systemd

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	slogjournal "github.com/systemd/slog-journal"
)

// Extra levels between and above slog's, with their journald priorities:
// Notice (5) is for what operators should see without it being a problem
// (failover finished, VIP acquired); Critical (2) for what needs a human now.
const (
	LevelNotice   = slogjournal.LevelNotice
	LevelCritical = slogjournal.LevelCritical
)

// Redacted replaces the value of secret attributes in every log output.
const Redacted = "******"

// NewLogger returns the agent's logger, at level (a slog.Level, or a
// *slog.LevelVar to change it at run time). When stderr is connected to the
// journal (systemd sets JOURNAL_STREAM to stderr's device:inode) it writes
// journald's native protocol: one entry per record with PRIORITY, upper-case
// fields (VIP, MASTER, EPOCH, ...) and a MESSAGE_ID for known events.
// Otherwise it writes slog's text format to stderr. Secret attributes are
// redacted in both.
func NewLogger(level slog.Leveler) *slog.Logger {
	if isJournalStream(os.Stderr, os.Getenv("JOURNAL_STREAM")) {
		h, err := NewJournalHandler(level)
		if err == nil {
			return slog.New(h)
		}
		l := slog.New(NewTextHandler(os.Stderr, level))
		l.Warn("journald native protocol unavailable; logging text to stderr", "err", err)
		return l
	}
	return slog.New(NewTextHandler(os.Stderr, level))
}

// NewTextHandler returns a slog text handler on w that redacts secrets and
// names the extra levels (NOTICE, CRITICAL).
func NewTextHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: textAttr})
}

// NewJournalHandler returns a handler writing journald's native protocol to
// /run/systemd/journal/socket. Attribute keys become journal field names
// (upper case, '-' and other characters journald rejects become '_'), since
// journald silently drops any other field name; keys already in journal form
// (MESSAGE_ID) are kept. An "event" attribute naming a known event (see
// MessageID) adds its MESSAGE_ID. Secrets are redacted.
func NewJournalHandler(level slog.Leveler) (slog.Handler, error) {
	h, err := slogjournal.NewHandler(&slogjournal.Options{
		Level:        level,
		ReplaceAttr:  journalAttr,
		ReplaceGroup: fieldName,
	})
	if err != nil {
		return nil, fmt.Errorf("journald handler: %w", err)
	}
	return h, nil
}

// isJournalStream reports whether f is the stream systemd connected to the
// journal, as named by JOURNAL_STREAM ("device:inode"). Comparing identities
// (not just the variable's presence) matters: children inherit the variable
// even when their stderr is redirected elsewhere.
func isJournalStream(f *os.File, env string) bool {
	devS, inoS, ok := strings.Cut(env, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devS, 10, 64)
	ino, err2 := strconv.ParseUint(inoS, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}

func textAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok {
			switch l {
			case LevelNotice:
				return slog.String(a.Key, "NOTICE")
			case LevelCritical:
				return slog.String(a.Key, "CRITICAL")
			}
		}
		return a
	}
	return redact(a)
}

func journalAttr(groups []string, a slog.Attr) slog.Attr {
	// Only the lower-case key is mapped, so the EVENT attribute inlined below
	// (handlers run ReplaceAttr on a group's members too) is left alone.
	if len(groups) == 0 && a.Key == "event" {
		ev := a.Value.String()
		if id, ok := MessageID(ev); ok {
			return slog.Group("", slog.String("EVENT", ev), slog.String("MESSAGE_ID", id))
		}
	}
	a = redact(a)
	a.Key = fieldName(a.Key)
	return a
}

// redact hides the value of attributes whose key names a secret: Redis and
// Sentinel passwords (requirepass, masterauth, auth-pass, sentinel-pass ...)
// and the usual token and secret names. An empty value stays empty, so logs
// still tell "no password" from "a password".
func redact(a slog.Attr) slog.Attr {
	if !isSecretKey(a.Key) || a.Value.Kind() == slog.KindGroup {
		return a
	}
	if a.Value.Kind() == slog.KindString && a.Value.String() == "" {
		return a
	}
	return slog.String(a.Key, Redacted)
}

func isSecretKey(key string) bool {
	k := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(key))
	switch k {
	case "auth", "masterauth", "credential", "credentials", "apikey":
		return true
	}
	return strings.Contains(k, "pass") || strings.Contains(k, "secret") || strings.Contains(k, "token")
}

// protocolFields are the fields the journal handler writes itself; an
// attribute converted to one of these names gets an X_ prefix instead of
// producing a duplicate field.
var protocolFields = map[string]bool{
	"MESSAGE": true, "PRIORITY": true, "CODE_FILE": true, "CODE_LINE": true, "CODE_FUNC": true,
	"SYSLOG_IDENTIFIER": true, "SYSLOG_TIMESTAMP": true, "MESSAGE_ID": true,
}

// maxFieldName is journald's limit on field names.
const maxFieldName = 64

// fieldName turns a slog key into a journal field name that journald keeps:
// ^[A-Z][A-Z0-9_]*$ (a leading '_' marks trusted fields, which clients
// cannot set), at most 64 bytes.
func fieldName(key string) string {
	if validField(key) {
		return key
	}
	b := make([]byte, 0, len(key)+2)
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		default:
			c = '_'
		}
		b = append(b, c)
	}
	s := string(b)
	if s == "" || s[0] == '_' || ('0' <= s[0] && s[0] <= '9') || protocolFields[s] {
		s = "X_" + strings.TrimLeft(s, "_")
	}
	if len(s) > maxFieldName {
		s = s[:maxFieldName]
	}
	return s
}

func validField(key string) bool {
	if key == "" || len(key) > maxFieldName || key[0] == '_' || ('0' <= key[0] && key[0] <= '9') {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
