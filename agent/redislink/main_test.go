package redislink

import (
	"log/slog"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	// go-redis logs redials of the dead instances these tests create.
	redis.SetLogger(GoRedisLogger(slog.New(slog.DiscardHandler)))
	os.Exit(m.Run())
}
