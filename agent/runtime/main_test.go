package runtime

import (
	"log/slog"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/redislink"
)

func TestMain(m *testing.M) {
	// go-redis logs redials of the dead instances these tests create.
	redis.SetLogger(redislink.GoRedisLogger(slog.New(slog.DiscardHandler)))
	os.Exit(m.Run())
}
