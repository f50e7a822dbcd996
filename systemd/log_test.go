package systemd

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

func TestTextHandlerRedactsSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewTextHandler(&buf, slog.LevelDebug))
	log.Info("config loaded",
		"requirepass", "s3cret-1",
		"auth-pass", "s3cret-2",
		"masterauth", "s3cret-3",
		"password", []byte("s3cret-4"),
		"sentinel_pass", "s3cret-5",
		"auth_token", "s3cret-6",
		slog.Group("peer", "AuthPass", "s3cret-7", "addr", "198.18.0.2:26379"),
		"user", "default",
		"empty-pass", "",
	)
	out := buf.String()
	if strings.Contains(out, "s3cret") {
		t.Fatalf("secret leaked: %s", out)
	}
	for _, want := range []string{"requirepass=******", "auth-pass=******", "masterauth=******",
		"password=******", "sentinel_pass=******", "auth_token=******", "peer.AuthPass=******",
		"peer.addr=198.18.0.2:26379", "user=default", `empty-pass=""`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %s", want, out)
		}
	}
}

func TestTextHandlerLevels(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewTextHandler(&buf, slog.LevelInfo))
	log.Debug("hidden")
	log.Log(context.Background(), LevelNotice, "failover finished")
	log.Log(context.Background(), LevelCritical, "vip on two hosts")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("debug record below level logged: %s", out)
	}
	if !strings.Contains(out, "level=NOTICE") || !strings.Contains(out, "level=CRITICAL") {
		t.Errorf("extra levels not named: %s", out)
	}
}

func TestFieldName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"vip", "VIP"},
		{"master", "MASTER"},
		{"auth-pass", "AUTH_PASS"},
		{"last_beat_age", "LAST_BEAT_AGE"},
		{"peer.addr", "PEER_ADDR"},
		{"MESSAGE_ID", "MESSAGE_ID"}, // already a journal field: kept
		{"message", "X_MESSAGE"},     // would duplicate the handler's own field
		{"priority", "X_PRIORITY"},
		{"_pid", "X_PID"}, // '_' fields are trusted: journald drops them from clients
		{"2fa", "X_2FA"},
		{"", "X_"},
		{"ünï", "X_N__"},
		{strings.Repeat("k", 70), strings.Repeat("K", 64)},
	} {
		if got := fieldName(tc.in); got != tc.want {
			t.Errorf("fieldName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := fieldName(tc.in); !validField(got) {
			t.Errorf("fieldName(%q) = %q is not a valid journal field", tc.in, got)
		}
	}
}

func TestMessageIDs(t *testing.T) {
	seenID, seenName := map[string]string{}, map[string]bool{}
	for _, e := range Events() {
		if seenName[e.Name] {
			t.Errorf("%q listed twice", e.Name)
		}
		seenName[e.Name] = true
		id, ok := MessageID(e.Name)
		if !ok || id != e.MessageID {
			t.Errorf("MessageID(%q) = %q, %v; want %q", e.Name, id, ok, e.MessageID)
		}
		// sd-id128 form: 32 lower-case hex digits.
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Errorf("%q: malformed id %q", e.Name, id)
		}
		if other, dup := seenID[id]; dup {
			t.Errorf("%q and %q share MESSAGE_ID %s", e.Name, other, id)
		}
		seenID[id] = e.Name
		if e.Summary == "" || e.Help == "" || strings.HasSuffix(e.Summary, ".") || !strings.HasSuffix(e.Help, ".") {
			t.Errorf("%q: summary %q and help %q: want a summary without a period and sentences", e.Name, e.Summary, e.Help)
		}
		if e.Name[0] != '+' && e.Name[0] != '-' {
			t.Errorf("%q: event names start with + or -", e.Name)
		}
	}
	// The constants name the same IDs.
	for name, id := range map[string]string{
		EventFailoverStart: MessageIDFailoverStart, EventFailoverEnd: MessageIDFailoverEnd,
		EventFailoverTimeout: MessageIDFailoverTimeout, EventSwitchMaster: MessageIDSwitchMaster,
		EventTiltEnter: MessageIDTiltEnter, EventTiltExit: MessageIDTiltExit,
		EventVIPAcquired: MessageIDVIPAcquired, EventVIPReleased: MessageIDVIPReleased,
		EventQuorumLost: MessageIDQuorumLost, EventQuorumRegained: MessageIDQuorumRegained,
		EventVIPConflict: MessageIDVIPConflict, EventFenceStart: MessageIDFenceStart, EventFenceEnd: MessageIDFenceEnd,
	} {
		if got, _ := MessageID(name); got != id {
			t.Errorf("MessageID(%q) = %q, want the constant %q", name, got, id)
		}
	}
	for _, ev := range []string{"+sdown", "+odown", "-script-error"} {
		if _, ok := MessageID(ev); !ok {
			t.Errorf("%s has no MESSAGE_ID", ev)
		}
	}
	if _, ok := MessageID("+no-such-event"); ok {
		t.Error("an unknown event has a MESSAGE_ID")
	}
}

func TestIsJournalStream(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	match := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	for _, tc := range []struct {
		env  string
		want bool
	}{
		{match, true},
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false},
		{"", false},
		{"garbage", false},
		{"1:x", false},
	} {
		if got := isJournalStream(f, tc.env); got != tc.want {
			t.Errorf("isJournalStream(JOURNAL_STREAM=%q) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

func TestNewLoggerTextWhenNotJournal(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "")
	if _, ok := NewLogger(slog.LevelInfo).Handler().(*slog.TextHandler); !ok {
		t.Fatal("NewLogger without JOURNAL_STREAM is not the text handler")
	}
}

// journalRecord is one entry as journald would receive it: field -> values.
type journalRecord map[string][]string

// TestJournalHandlerNativeProtocol runs the handler against a fake journald:
// a child test process in a private mount namespace, with a tmpfs on /run
// and a unixgram socket at /run/systemd/journal/socket (slog-journal's fixed
// address). The host's /run is not touched.
func TestJournalHandlerNativeProtocol(t *testing.T) {
	testenv.NeedRoot(t)
	out := filepath.Join(t.TempDir(), "records.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalChild$", "-test.v")
	cmd.Env = append(os.Environ(), "VIPSENTINEL_JOURNAL_CHILD="+out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var recs []journalRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3: %v", len(recs), recs)
	}
	one := func(r journalRecord, k string) string {
		t.Helper()
		if len(r[k]) != 1 {
			t.Errorf("field %s: got %q, want exactly one value", k, r[k])
			return ""
		}
		return r[k][0]
	}
	vip := recs[0]
	for k, want := range map[string]string{
		"MESSAGE":           "VIP acquired",
		"PRIORITY":          "5",
		"EVENT":             EventVIPAcquired,
		"MESSAGE_ID":        MessageIDVIPAcquired,
		"VIP":               "198.18.0.100/24",
		"MASTER":            "mymaster",
		"EPOCH":             "42",
		"AUTH_PASS":         Redacted,
		"ERR":               "boom",
		"DETAIL":            "line one\nline two",
		"X_MESSAGE":         "shadow",
		"SYSLOG_IDENTIFIER": filepath.Base(os.Args[0]),
	} {
		if got := one(vip, k); got != want {
			t.Errorf("record 1 %s = %q, want %q", k, got, want)
		}
	}
	if !strings.HasSuffix(one(vip, "CODE_FILE"), "log_test.go") {
		t.Errorf("CODE_FILE = %q", vip["CODE_FILE"])
	}
	for k := range vip {
		if !validField(k) {
			t.Errorf("field %q would be dropped by journald", k)
		}
	}
	q := recs[1]
	if one(q, "PRIORITY") != "4" || one(q, "MESSAGE_ID") != MessageIDQuorumLost || one(q, "MASTER") != "m2" {
		t.Errorf("record 2 = %v", q)
	}
	g := recs[2]
	if one(g, "PRIORITY") != "7" || one(g, "PEER_ADDR") != "198.18.0.3:26379" || one(g, "PEER_PASSWORD") != Redacted {
		t.Errorf("record 3 = %v", g)
	}
	if _, ok := g["MESSAGE_ID"]; ok {
		t.Errorf("record 3 without a known event has MESSAGE_ID: %v", g)
	}
}

// TestJournalChild is the child half of TestJournalHandlerNativeProtocol.
func TestJournalChild(t *testing.T) {
	out := os.Getenv("VIPSENTINEL_JOURNAL_CHILD")
	if out == "" {
		t.Skip("helper process for TestJournalHandlerNativeProtocol")
	}
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on /run (private mount namespace): %v", err)
	}
	if err := os.MkdirAll("/run/systemd/journal", 0o755); err != nil {
		t.Fatal(err)
	}
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "/run/systemd/journal/socket", Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()

	h, err := NewJournalHandler(slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(h)
	log.Log(context.Background(), LevelNotice, "VIP acquired",
		"event", EventVIPAcquired, "vip", "198.18.0.100/24", "master", "mymaster", "epoch", 42,
		"auth-pass", "s3cret", "err", errors.New("boom"), "detail", "line one\nline two", "message", "shadow")
	log.With("master", "m2").Warn("quorum lost", "event", EventQuorumLost)
	log.WithGroup("peer").Debug("peer seen", "addr", "198.18.0.3:26379", "password", "s3cret")

	var recs []journalRecord
	buf := make([]byte, 1<<16)
	for len(recs) < 3 {
		if err := sock.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := sock.Read(buf)
		if err != nil {
			t.Fatalf("read fake journal socket: %v", err)
		}
		r, err := parseNative(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// parseNative decodes journald's native protocol: "KEY=value\n", or for
// values with newlines "KEY\n" + little-endian uint64 length + value + "\n".
func parseNative(b []byte) (journalRecord, error) {
	r := journalRecord{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("unterminated field %q", b)
		}
		line := b[:nl]
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			r[string(k)] = append(r[string(k)], string(v))
			b = b[nl+1:]
			continue
		}
		k := string(line)
		b = b[nl+1:]
		if len(b) < 8 {
			return nil, fmt.Errorf("field %s: short length", k)
		}
		n := binary.LittleEndian.Uint64(b)
		b = b[8:]
		if uint64(len(b)) < n+1 || b[n] != '\n' {
			return nil, fmt.Errorf("field %s: bad binary value", k)
		}
		r[k] = append(r[k], string(b[:n]))
		b = b[n+1:]
	}
	return r, nil
}
