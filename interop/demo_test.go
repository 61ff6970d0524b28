package interop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redistest"
	"github.com/portnimara/nimara/store/storetest"
)

// The README's first command, `make demo`, runs interop/demo/run.sh. This runs that script
// on a database and key prefix of its own and checks that it reports success.
func TestDemoScriptPasses(t *testing.T) {
	t.Parallel()

	root, err := nodepeer.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	prefix := redistest.Prefix(t)
	db := "nimara_demo_" + strings.Trim(strings.ToLower(prefix), "nt{}")
	t.Cleanup(func() { dropDatabase(t, db) })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "interop/demo/run.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"REDIS_URL="+redistest.URL(),
		"NIMARA_PREFIX="+prefix,
		"DEMO_DB="+db,
		"COUNT=12",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"demo passed", "demo-ana 4", "demo-root 1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("run.sh output lacks %q:\n%s", want, out)
		}
	}
}

func dropDatabase(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, storetest.BaseURL())
	if err != nil {
		t.Errorf("connect to drop %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("drop database %s: %v", name, err)
	}
}
