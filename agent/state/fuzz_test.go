package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// FuzzDecode checks that Decode never panics, that every failure wraps
// ErrCorrupt or ErrVersion, and that anything it accepts encodes and decodes
// back to the same snapshot. Each input is tried as a whole file and, so that
// the fuzzer gets past the checksum, as the state member of a correctly
// sealed file.
func FuzzDecode(f *testing.F) {
	for _, s := range []*Snapshot{sample(), {}, {State: sentinel.HardState{MyID: id1, CurrentEpoch: 3}}} {
		data, err := Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
		f.Add(stateMember(data))
		f.Add(bytes.Replace(data, []byte(`"version": 1`), []byte(`"version": 2`), 1))
	}
	f.Add([]byte(`{"format":"vipsentinel-state","version":1,"checksum":"sha256:","state":{}}`))
	f.Add([]byte(`{"auth_pass":{"base64":"/w=="}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data)
		check(t, seal(data))
	})
}

// stateMember returns the state member of an encoded file.
func stateMember(data []byte) []byte {
	i := bytes.Index(data, []byte(`"state": `)) + len(`"state": `)
	return data[i : bytes.LastIndexByte(data, '}')-1]
}

// seal wraps st as the state member of a file with a valid checksum.
func seal(st []byte) []byte {
	sum := sha256.Sum256(st)
	out := fmt.Appendf(nil, `{"format":"vipsentinel-state","version":1,"checksum":"sha256:%x","state":`, sum)
	out = append(out, st...)
	return append(out, '}')
}

func check(t *testing.T, data []byte) {
	t.Helper()
	s, err := Decode(data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Fatalf("error %v wraps neither ErrCorrupt nor ErrVersion", err)
		}
		return
	}
	enc, err := Encode(s)
	if err != nil {
		t.Fatalf("decoded snapshot does not encode: %v", err)
	}
	back, err := Decode(enc)
	if err != nil {
		t.Fatalf("re-encoded snapshot does not decode: %v\n%s", err, enc)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip changed the snapshot:\n%+v\n%+v", s, back)
	}
}
