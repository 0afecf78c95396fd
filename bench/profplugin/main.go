// Command profplugin is the engine (backend.Factory, exactly as main.go
// serves it) with Go's profiling endpoints (net/http/pprof) served on the
// loopback address in the environment variable PALO_PPROF_ADDR. The
// benchmark harness registers it beside the real plugin, with
// `vault plugin register -env=PALO_PPROF_ADDR=127.0.0.1:<port>`, to take a
// CPU profile of the plugin process under load and to read its live heap.
// PALO_MEMPROFILE_RATE, when set, is the runtime's MemProfileRate: a heap
// profile then records an allocation every that many bytes rather than
// every 512 KiB, precise enough to say what one config costs. It is not
// shipped.
package main

import (
	"errors"
	"net"
	"net/http"
	_ "net/http/pprof" //nolint:gosec // G108: served on loopback only, in a benchmark
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/plugin"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend"
)

func main() {
	if rate, err := strconv.Atoi(os.Getenv("PALO_MEMPROFILE_RATE")); err == nil && rate > 0 {
		runtime.MemProfileRate = rate
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "profplugin"})
	if addr := os.Getenv("PALO_PPROF_ADDR"); addr != "" {
		if err := servePprof(addr); err != nil {
			log.Error("cannot serve pprof", "error", err)
			os.Exit(1)
		}
	}
	if err := plugin.ServeMultiplex(&plugin.ServeOpts{BackendFactoryFunc: backend.Factory}); err != nil {
		log.Error("plugin shutting down", "error", err)
		os.Exit(1)
	}
}

// servePprof serves http.DefaultServeMux (where net/http/pprof registers)
// on addr, which must be a loopback address.
func servePprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("PALO_PPROF_ADDR must be a loopback address such as 127.0.0.1:6061")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return nil
}
