package state

import (
	"path/filepath"
	"testing"
)

// BenchmarkWrite measures a durable state write (encode, temporary file,
// fsync, rename, directory fsync): the latency the core waits for before it
// may answer a vote. It depends on the file system; it prints figures and
// never fails on time.
func BenchmarkWrite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "vipsentinel.state")
	s := sample()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.State.Masters[0].LeaderEpoch = uint64(i)
		if err := Write(path, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDecode(b *testing.B) {
	s := sample()
	b.ReportAllocs()
	for b.Loop() {
		data, err := Encode(s)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
