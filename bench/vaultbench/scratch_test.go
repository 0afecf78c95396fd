//go:build e2e

package vaultbench

import (
	"os"
	"testing"
	"time"
)

func TestScratchCached(t *testing.T) {
	if os.Getenv("SCRATCH") == "" { t.Skip() }
	b := &bench{plan: quickPlan()}
	b.plan.run = 2 * time.Second
	b.plan.warmup = 300 * time.Millisecond
	b.setUp(t)
	registerWithEnv(t, b.dev, "palo-cached", "/tmp/palo-exp/palo-cached")
	b.dev.MustCLI(t, "secrets", "enable", "-path=pc", "palo-cached")
	b.dev.WriteSetup(t, "pc", b.vendor, b.scmSetup(t))
	b.mustRead(t, b.reader, "pc/creds/wildfire")
	b.mustRead(t, b.reader, "palo/creds/wildfire")
	b.compare(t, b.reader, []target{
		{name: "const", path: constMount + "/leased"},
		{name: "palo", path: "palo/creds/wildfire"},
		{name: "palo-cached", path: "pc/creds/wildfire"},
	}, []int{1, 16, 64}, 3)
}
