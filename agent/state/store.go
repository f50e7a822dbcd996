package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// Error is a state file that cannot be read or written. Err wraps ErrCorrupt,
// ErrVersion or an *fs.PathError.
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string { return "state file " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// Load reads and decodes the state file at path. A missing file is an error
// that satisfies errors.Is(err, fs.ErrNotExist): the caller decides that
// this means a first start. Any other problem is an *Error naming the file.
func Load(path string) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{Path: path, Err: err}
	}
	s, err := Decode(data)
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	return s, nil
}

// tempPrefix names the temporary files Write creates next to path.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// Write atomically replaces the state file at path with s: it writes a
// temporary file in the same directory, fsyncs it, renames it over path and
// fsyncs the directory. A crash at any point leaves either the old or the
// new file, never a mix; at worst a stray temporary file remains, which
// Load ignores and Open removes. The file is created with mode 0600: it
// holds passwords (auth-pass).
func Write(path string, s *Snapshot) error {
	data, err := Encode(s)
	if err != nil {
		return &Error{Path: path, Err: err}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return &Error{Path: path, Err: fmt.Errorf("create temporary file: %w", err)}
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return &Error{Path: path, Err: fmt.Errorf("chmod %s: %w", tmp.Name(), err)}
	}
	if _, err := tmp.Write(data); err != nil {
		return &Error{Path: path, Err: fmt.Errorf("write %s: %w", tmp.Name(), err)}
	}
	if err := tmp.Sync(); err != nil {
		return &Error{Path: path, Err: fmt.Errorf("fsync %s: %w", tmp.Name(), err)}
	}
	if err := tmp.Close(); err != nil {
		return &Error{Path: path, Err: fmt.Errorf("close %s: %w", tmp.Name(), err)}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return &Error{Path: path, Err: fmt.Errorf("rename: %w", err)}
	}
	ok = true
	// Without this the rename itself may not survive a power loss.
	if err := syncDir(dir); err != nil {
		return &Error{Path: path, Err: fmt.Errorf("fsync directory %s: %w", dir, err)}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Store persists the core's HardState to one state file. It holds an
// exclusive lock on the file for its lifetime, so two agents cannot share a
// state file (and vote twice with the same id).
type Store struct {
	mu   sync.Mutex
	path string
	base []sentinel.MasterConfig
	// file holds the configuration file's value of every CONFIG SET
	// parameter: the base of the settings a Save writes.
	file  map[string]string
	users []string // the file's user lines, the base of HardState.ACLUsers
	epoch uint64   // highest current epoch written
	lock  *os.File
}

// Open prepares the state for an agent configured by cfg: it locks and
// loads cfg.StatePath() (on first start, when the file does not exist, it
// imports what a Redis-rewritten cfg carries), merges it with cfg (see
// Merge), writes the result, and returns the Store for later writes, the
// HardState to start the core with, and the changes Merge made (for the
// log). An unreadable, corrupt or unknown-version state file is an error:
// the agent must not start from scratch behind the operator's back.
func Open(cfg *config.File) (*Store, *sentinel.HardState, []Change, error) {
	path := cfg.StatePath()
	lock, err := lockFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	removeTemps(path)
	prev, err := Load(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		lock.Close()
		return nil, nil, nil, err
	}
	snap, changes := Merge(cfg, prev)
	st := &Store{path: path, base: snap.Base, file: fileSettings(cfg), users: fileUsers(cfg), lock: lock}
	if err := st.Save(&snap.State); err != nil {
		lock.Close()
		return nil, nil, nil, err
	}
	// A first start serves what the operator's file says, as the
	// redis-sentinel it replaces would: no run of this agent served it
	// before, so there is nothing stale of its own to confirm.
	snap.State.Imported = prev == nil
	return st, &snap.State, changes, nil
}

// lockFile takes an exclusive flock on path+".lock".
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &Error{Path: path, Err: fmt.Errorf("lock: %w", err)}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &Error{Path: path, Err: errors.New("in use by another vipsentinel process")}
		}
		return nil, &Error{Path: path, Err: fmt.Errorf("lock: %w", err)}
	}
	return f, nil
}

// removeTemps deletes temporary files left by a Write that crashed before
// its rename. Only the lock holder calls it, so no Write is in progress.
func removeTemps(path string) {
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// ErrEpochBackwards is wrapped by a Save whose current epoch is lower than
// one already written: no retry can fix it.
var ErrEpochBackwards = errors.New("epochs never go backwards")

// Save durably writes hs (see Write) before returning. It refuses a
// HardState whose current epoch is lower than one already written: epochs
// never go backwards, and writing one that did would be a bug worth
// stopping for.
func (s *Store) Save(hs *sentinel.HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return &Error{Path: s.path, Err: errors.New("store is closed")}
	}
	if hs.CurrentEpoch < s.epoch {
		return &Error{Path: s.path, Err: fmt.Errorf("refusing to write current epoch %d after %d: %w", hs.CurrentEpoch, s.epoch, ErrEpochBackwards)}
	}
	snap := &Snapshot{State: *hs, Base: s.base}
	for _, kv := range hs.Settings {
		snap.BaseSettings = append(snap.BaseSettings, sentinel.Setting{Name: kv.Name, Value: s.file[kv.Name]})
	}
	if hs.ACLUsers != nil {
		snap.BaseUsers = s.users
	}
	if err := Write(s.path, snap); err != nil {
		return err
	}
	s.epoch = hs.CurrentEpoch
	return nil
}

// Close releases the lock. The state file stays.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}
