package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// Version is the state file format version this package reads and writes.
const Version = 1

// format identifies a vipsentinel state file, so that pointing state-file at
// some other JSON document fails clearly.
const format = "vipsentinel-state"

// Errors wrapped by Decode and Load, for classification with errors.Is.
var (
	// ErrCorrupt: the file is not a complete, intact state file (truncated,
	// edited by hand, bad checksum, invalid values).
	ErrCorrupt = errors.New("corrupt state file")
	// ErrVersion: the file is a state file of a format version this build
	// does not read (written by a newer vipsentinel).
	ErrVersion = errors.New("unsupported state file version")
)

// Snapshot is the content of a state file: the core's HardState plus, per
// master, the configuration-file settings that state was last reconciled
// with (see Merge).
type Snapshot struct {
	State sentinel.HardState
	Base  []sentinel.MasterConfig
	// BaseSettings are the configuration file's values, when the state
	// was written, of the parameters SENTINEL CONFIG SET changed
	// (State.Settings): Merge tells an operator's edit of the file from
	// a value the file always had.
	BaseSettings []sentinel.Setting
	// BaseUsers are the configuration file's user lines when
	// State.ACLUsers was written (users.go).
	BaseUsers []string
}

// envelope is the outer JSON object. The checksum covers the exact bytes of
// the state member as they appear in the file.
type envelope struct {
	Format   string          `json:"format"`
	Version  int             `json:"version"`
	Checksum string          `json:"checksum"`
	State    json.RawMessage `json:"state"`
}

type body struct {
	MyID         text         `json:"myid"`
	CurrentEpoch uint64       `json:"current_epoch"`
	Masters      []masterJSON `json:"masters"`
	ConfigBase   []baseJSON   `json:"config_base"`
	// Settings and their file values are left out while CONFIG SET was
	// never used, so such a file reads as before they existed.
	Settings     []settingJSON `json:"settings,omitempty"`
	BaseSettings []settingJSON `json:"config_base_settings,omitempty"`
	// Users, likewise, only once ACL SETUSER/DELUSER was used.
	ACLUsers  []text `json:"acl_users,omitempty"`
	BaseUsers []text `json:"config_base_users,omitempty"`
}

type settingJSON struct {
	Name  text `json:"name"`
	Value text `json:"value"`
}

func settingsJSONOf(in []sentinel.Setting) []settingJSON {
	var out []settingJSON
	for _, kv := range in {
		out = append(out, settingJSON{Name: text(kv.Name), Value: text(kv.Value)})
	}
	return out
}

func settingsFromJSON(in []settingJSON) []sentinel.Setting {
	var out []sentinel.Setting
	for _, kv := range in {
		out = append(out, sentinel.Setting{Name: string(kv.Name), Value: string(kv.Value)})
	}
	return out
}

func validSettings(what string, in []settingJSON) error {
	seen := map[text]bool{}
	for _, kv := range in {
		if !slices.Contains(sentinel.ConfigParams, string(kv.Name)) {
			return fmt.Errorf("%s: %q is not a SENTINEL CONFIG SET parameter", what, kv.Name)
		}
		if seen[kv.Name] {
			return fmt.Errorf("%s: %q appears twice", what, kv.Name)
		}
		seen[kv.Name] = true
	}
	return nil
}

type masterJSON struct {
	Name           text           `json:"name"`
	CurrentAddr    text           `json:"current_addr"`
	ConfigEpoch    uint64         `json:"config_epoch"`
	Leader         text           `json:"leader"`
	LeaderEpoch    uint64         `json:"leader_epoch"`
	LeaseAddr      text           `json:"lease_addr,omitempty"`
	KnownReplicas  []text         `json:"known_replicas"`
	KnownSentinels []sentinelJSON `json:"known_sentinels"`
	Monitored      bool           `json:"monitored"`
	Config         settingsJSON   `json:"config"`
	// Maintenance is present while the master is paused (vipsentinel
	// pause), so a file of a master never paused reads as before.
	Maintenance *maintenanceJSON `json:"maintenance,omitempty"`
}

// maintenanceJSON is a sentinel.Maintenance that is on. The end is wall
// clock (Unix milliseconds, 0 for none) so that it holds across restarts.
type maintenanceJSON struct {
	UntilUnixMS int64 `json:"until_unix_ms"`
}

type sentinelJSON struct {
	Addr  text `json:"addr"`
	RunID text `json:"runid"`
}

type baseJSON struct {
	Name text `json:"name"`
	settingsJSON
}

// settingsJSON is a MasterConfig without its name. Durations are in
// milliseconds, Sentinel's unit.
type settingsJSON struct {
	Addr                    text            `json:"addr"`
	Quorum                  int             `json:"quorum"`
	DownAfterMS             int64           `json:"down_after_ms"`
	FailoverTimeoutMS       int64           `json:"failover_timeout_ms"`
	ParallelSyncs           int             `json:"parallel_syncs"`
	AuthUser                text            `json:"auth_user"`
	AuthPass                text            `json:"auth_pass"`
	NotificationScript      text            `json:"notification_script"`
	ClientReconfigScript    text            `json:"client_reconfig_script"`
	MasterRebootDownAfterMS int64           `json:"master_reboot_down_after_ms"`
	RenamedCommands         map[string]text `json:"renamed_commands"`
	HasVIP                  bool            `json:"has_vip"`
	Fence                   bool            `json:"fence"`
}

// Encode renders s as a state file: indented JSON, the format version
// first, then a SHA-256 checksum of the state member.
func Encode(s *Snapshot) ([]byte, error) {
	b := body{MyID: text(s.State.MyID), CurrentEpoch: s.State.CurrentEpoch, Masters: []masterJSON{}, ConfigBase: []baseJSON{}}
	for _, m := range s.State.Masters {
		cur := m.CurrentAddr
		if cur.IsZero() {
			cur = m.Config.Addr // not failed over since the master was configured
		}
		mj := masterJSON{
			Name:           text(m.Config.Name),
			CurrentAddr:    text(cur.String()),
			ConfigEpoch:    m.ConfigEpoch,
			Leader:         text(m.Leader),
			LeaderEpoch:    m.LeaderEpoch,
			KnownReplicas:  []text{},
			KnownSentinels: []sentinelJSON{},
			Monitored:      m.Monitored,
			Config:         settingsOf(m.Config),
		}
		if !m.LeaseAddr.IsZero() {
			mj.LeaseAddr = text(m.LeaseAddr.String())
		}
		if m.Maintenance.On {
			mj.Maintenance = &maintenanceJSON{UntilUnixMS: m.Maintenance.Until}
		}
		for _, r := range m.KnownReplicas {
			mj.KnownReplicas = append(mj.KnownReplicas, text(r.String()))
		}
		for _, k := range m.KnownSentinels {
			mj.KnownSentinels = append(mj.KnownSentinels, sentinelJSON{Addr: text(k.Addr.String()), RunID: text(k.RunID)})
		}
		b.Masters = append(b.Masters, mj)
	}
	for _, c := range s.Base {
		b.ConfigBase = append(b.ConfigBase, baseJSON{Name: text(c.Name), settingsJSON: settingsOf(c)})
	}
	b.Settings = settingsJSONOf(s.State.Settings)
	b.BaseSettings = settingsJSONOf(s.BaseSettings)
	b.ACLUsers, b.BaseUsers = convert[text](s.State.ACLUsers), convert[text](s.BaseUsers)
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	st, err := json.MarshalIndent(b, "  ", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	sum := sha256.Sum256(st)
	var out bytes.Buffer
	fmt.Fprintf(&out, "{\n  \"format\": %q,\n  \"version\": %d,\n  \"checksum\": \"sha256:%x\",\n  \"state\": ", format, Version, sum)
	out.Write(st)
	out.WriteString("\n}\n")
	return out.Bytes(), nil
}

func settingsOf(c sentinel.MasterConfig) settingsJSON {
	rc := map[string]text{}
	for k, v := range c.RenamedCommands {
		rc[k] = text(v)
	}
	return settingsJSON{
		Addr:                    text(c.Addr.String()),
		Quorum:                  c.Quorum,
		DownAfterMS:             c.DownAfter.Milliseconds(),
		FailoverTimeoutMS:       c.FailoverTimeout.Milliseconds(),
		ParallelSyncs:           c.ParallelSyncs,
		AuthUser:                text(c.AuthUser),
		AuthPass:                text(c.AuthPass),
		NotificationScript:      text(c.NotificationScript),
		ClientReconfigScript:    text(c.ClientReconfigScript),
		MasterRebootDownAfterMS: c.MasterRebootDownAfter.Milliseconds(),
		RenamedCommands:         rc,
		HasVIP:                  c.HasVIP,
		Fence:                   c.Fence,
	}
}

// Decode parses a state file. Every problem wraps ErrCorrupt or ErrVersion
// and says what is wrong; nothing is defaulted or repaired, because a state
// file silently reset to epoch 0 could let this agent vote twice in an
// epoch.
func Decode(data []byte) (*Snapshot, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty file (truncated?)", ErrCorrupt)
	}
	// The version decides how to read the rest, so read it leniently first:
	// a newer file must be reported as such, not as unknown fields.
	var head struct {
		Format  string          `json:"format"`
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, jsonErr(err, data))
	}
	if head.Format != format {
		return nil, fmt.Errorf("%w: format is %q, want %q (not a vipsentinel state file?)", ErrCorrupt, head.Format, format)
	}
	v, err := strconv.Atoi(string(head.Version))
	if err != nil {
		return nil, fmt.Errorf("%w: version %s is not an integer", ErrCorrupt, orMissing(head.Version))
	}
	if v != Version {
		return nil, fmt.Errorf("%w: version %d, this vipsentinel reads version %d (written by a newer release?)", ErrVersion, v, Version)
	}
	var env envelope
	if err := strict(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(env.State) == 0 {
		return nil, fmt.Errorf("%w: no state member", ErrCorrupt)
	}
	want, ok := strings.CutPrefix(env.Checksum, "sha256:")
	if !ok {
		return nil, fmt.Errorf("%w: checksum %q is not sha256:<hex>", ErrCorrupt, env.Checksum)
	}
	sum := sha256.Sum256(env.State)
	if got := hex.EncodeToString(sum[:]); got != strings.ToLower(want) {
		return nil, fmt.Errorf("%w: checksum mismatch: file says sha256:%s, content is sha256:%s (edited or damaged)", ErrCorrupt, want, got)
	}
	var b body
	if err := strict(env.State, &b); err != nil {
		return nil, fmt.Errorf("%w: state: %v", ErrCorrupt, err)
	}
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return b.snapshot()
}

func orMissing(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "(missing)"
	}
	return string(raw)
}

// strict decodes exactly one JSON value with no unknown fields.
func strict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return jsonErr(err, data)
	}
	if d.More() {
		return errors.New("data after the end of the JSON object")
	}
	return nil
}

// jsonErr makes encoding/json's errors say where, and say "truncated" when
// the input stops early.
func jsonErr(err error, data []byte) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &se) && se.Error() == "unexpected end of JSON input":
		return fmt.Errorf("unexpected end of data after %d bytes (truncated?)", len(data))
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, err)
	case errors.As(err, &te):
		return fmt.Errorf("field %s: %s is not a valid %s", te.Field, te.Value, te.Type)
	}
	return err
}

func (b *body) validate() error {
	if b.MyID != "" && !redisrule.IsRunID(string(b.MyID)) {
		return fmt.Errorf("myid %q is not 40 hex digits", b.MyID)
	}
	seen := map[string]bool{}
	for i, m := range b.Masters {
		if err := name(string(m.Name)); err != nil {
			return fmt.Errorf("masters[%d]: %v", i, err)
		}
		if seen[string(m.Name)] {
			return fmt.Errorf("master %q appears twice", m.Name)
		}
		seen[string(m.Name)] = true
		if _, err := parseAddr(string(m.CurrentAddr)); err != nil {
			return fmt.Errorf("master %q: current_addr: %v", m.Name, err)
		}
		if m.LeaseAddr != "" {
			if _, err := parseAddr(string(m.LeaseAddr)); err != nil {
				return fmt.Errorf("master %q: lease_addr: %v", m.Name, err)
			}
		}
		if m.Maintenance != nil && m.Maintenance.UntilUnixMS < 0 {
			return fmt.Errorf("master %q: maintenance: until_unix_ms %d is negative", m.Name, m.Maintenance.UntilUnixMS)
		}
		if m.Leader != "" && !redisrule.IsRunID(string(m.Leader)) {
			return fmt.Errorf("master %q: leader %q is not 40 hex digits", m.Name, m.Leader)
		}
		for _, r := range m.KnownReplicas {
			if _, err := parseAddr(string(r)); err != nil {
				return fmt.Errorf("master %q: known_replicas: %v", m.Name, err)
			}
		}
		for _, s := range m.KnownSentinels {
			if _, err := parseAddr(string(s.Addr)); err != nil {
				return fmt.Errorf("master %q: known_sentinels: %v", m.Name, err)
			}
			if !redisrule.IsRunID(string(s.RunID)) {
				return fmt.Errorf("master %q: known_sentinels: runid %q is not 40 hex digits", m.Name, s.RunID)
			}
		}
		if err := m.Config.validate(); err != nil {
			return fmt.Errorf("master %q: config: %v", m.Name, err)
		}
	}
	seen = map[string]bool{}
	for i, c := range b.ConfigBase {
		if err := name(string(c.Name)); err != nil {
			return fmt.Errorf("config_base[%d]: %v", i, err)
		}
		if seen[string(c.Name)] {
			return fmt.Errorf("config_base: master %q appears twice", c.Name)
		}
		seen[string(c.Name)] = true
		if err := c.validate(); err != nil {
			return fmt.Errorf("config_base: master %q: %v", c.Name, err)
		}
	}
	if err := validSettings("settings", b.Settings); err != nil {
		return err
	}
	if err := validUsers("acl_users", b.ACLUsers); err != nil {
		return err
	}
	if err := validUsers("config_base_users", b.BaseUsers); err != nil {
		return err
	}
	return validSettings("config_base_settings", b.BaseSettings)
}

const maxMillis = math.MaxInt64 / int64(time.Millisecond)

func (s *settingsJSON) validate() error {
	if _, err := parseAddr(string(s.Addr)); err != nil {
		return fmt.Errorf("addr: %v", err)
	}
	switch {
	case s.Quorum < 1:
		return fmt.Errorf("quorum %d < 1", s.Quorum)
	case s.DownAfterMS < 1 || s.DownAfterMS > maxMillis:
		return fmt.Errorf("down_after_ms %d out of range", s.DownAfterMS)
	case s.FailoverTimeoutMS < 1 || s.FailoverTimeoutMS > maxMillis:
		return fmt.Errorf("failover_timeout_ms %d out of range", s.FailoverTimeoutMS)
	case s.ParallelSyncs < 1:
		return fmt.Errorf("parallel_syncs %d < 1", s.ParallelSyncs)
	case s.MasterRebootDownAfterMS < 0 || s.MasterRebootDownAfterMS > maxMillis:
		return fmt.Errorf("master_reboot_down_after_ms %d out of range", s.MasterRebootDownAfterMS)
	}
	for k := range s.RenamedCommands {
		if !isCommand(k) {
			return fmt.Errorf("renamed_commands: key %q is not a lower-case command name", k)
		}
	}
	return nil
}

func (b *body) snapshot() (*Snapshot, error) {
	s := &Snapshot{State: sentinel.HardState{MyID: string(b.MyID), CurrentEpoch: b.CurrentEpoch}}
	for _, m := range b.Masters {
		ms := sentinel.MasterState{
			Config:      m.Config.config(string(m.Name)),
			CurrentAddr: mustAddr(string(m.CurrentAddr)),
			ConfigEpoch: m.ConfigEpoch,
			Leader:      string(m.Leader),
			LeaderEpoch: m.LeaderEpoch,
			Monitored:   m.Monitored,
		}
		if m.LeaseAddr != "" {
			ms.LeaseAddr = mustAddr(string(m.LeaseAddr))
		}
		if m.Maintenance != nil {
			ms.Maintenance = sentinel.Maintenance{On: true, Until: m.Maintenance.UntilUnixMS}
		}
		for _, r := range m.KnownReplicas {
			ms.KnownReplicas = append(ms.KnownReplicas, mustAddr(string(r)))
		}
		for _, k := range m.KnownSentinels {
			ms.KnownSentinels = append(ms.KnownSentinels, sentinel.SentinelRecord{Addr: mustAddr(string(k.Addr)), RunID: string(k.RunID)})
		}
		s.State.Masters = append(s.State.Masters, ms)
	}
	for _, c := range b.ConfigBase {
		s.Base = append(s.Base, c.config(string(c.Name)))
	}
	s.State.Settings = settingsFromJSON(b.Settings)
	s.BaseSettings = settingsFromJSON(b.BaseSettings)
	s.State.ACLUsers, s.BaseUsers = convert[string](b.ACLUsers), convert[string](b.BaseUsers)
	if s.State.ACLUsers != nil && s.BaseUsers == nil {
		s.BaseUsers = []string{} // the file had no user lines
	}
	return s, nil
}

func (s *settingsJSON) config(name string) sentinel.MasterConfig {
	c := sentinel.MasterConfig{
		Name:                  name,
		Addr:                  mustAddr(string(s.Addr)),
		Quorum:                s.Quorum,
		DownAfter:             time.Duration(s.DownAfterMS) * time.Millisecond,
		FailoverTimeout:       time.Duration(s.FailoverTimeoutMS) * time.Millisecond,
		ParallelSyncs:         s.ParallelSyncs,
		AuthUser:              string(s.AuthUser),
		AuthPass:              string(s.AuthPass),
		NotificationScript:    string(s.NotificationScript),
		ClientReconfigScript:  string(s.ClientReconfigScript),
		MasterRebootDownAfter: time.Duration(s.MasterRebootDownAfterMS) * time.Millisecond,
		HasVIP:                s.HasVIP,
		Fence:                 s.Fence,
	}
	if len(s.RenamedCommands) > 0 {
		c.RenamedCommands = make(map[string]string, len(s.RenamedCommands))
		for k, v := range s.RenamedCommands {
			c.RenamedCommands[k] = string(v)
		}
	}
	return c
}

// parseAddr parses host:port ([v6]:port) with a non-empty host free of white
// space and a port in 1..65535.
func parseAddr(s string) (sentinel.Addr, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return sentinel.Addr{}, fmt.Errorf("address %q: want host:port", s)
	}
	if h == "" || strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == ',' }) {
		return sentinel.Addr{}, fmt.Errorf("address %q: bad host", s)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return sentinel.Addr{}, fmt.Errorf("address %q: bad port", s)
	}
	return sentinel.Addr{Host: h, Port: n}, nil
}

// mustAddr is parseAddr for values validate has already checked.
func mustAddr(s string) sentinel.Addr {
	a, _ := parseAddr(s)
	return a
}

func name(s string) error {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == ',' || r == 0x7f }) {
		return fmt.Errorf("invalid master name %q", s)
	}
	return nil
}

// isCommand reports whether s can be a rename-command key: a lower-case
// printable ASCII word (Redis command names are ASCII).
func isCommand(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// text is a string that survives JSON whatever its bytes. encoding/json
// would replace invalid UTF-8 with U+FFFD, silently changing a password set
// with "\xff" escapes; such strings are written as {"base64": "..."}
// instead, valid UTF-8 as a plain JSON string.
type text string

type binaryText struct {
	Base64 string `json:"base64"`
}

// MarshalJSON implements json.Marshaler.
func (t text) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(t)) {
		return json.Marshal(string(t))
	}
	return json.Marshal(binaryText{base64.StdEncoding.EncodeToString([]byte(t))})
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *text) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var bt binaryText
		if err := strict(b, &bt); err != nil {
			return err
		}
		raw, err := base64.StdEncoding.DecodeString(bt.Base64)
		if err != nil {
			return fmt.Errorf("bad base64 string: %v", err)
		}
		*t = text(raw)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = text(s)
	return nil
}
