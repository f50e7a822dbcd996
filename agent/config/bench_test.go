package config

import (
	"os"
	"testing"
)

func BenchmarkParseRewritten(b *testing.B) {
	data, err := os.ReadFile("testdata/redis-rewritten.conf")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse("redis-rewritten.conf", data, NoInclude()); err != nil {
			b.Fatal(err)
		}
	}
}
