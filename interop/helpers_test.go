package interop

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/redistest"
)

func redisClient(t *testing.T) *redis.Client { return redistest.Client(t) }

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
