package vaulttest

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// AgentTemplate is one template Vault Agent renders.
type AgentTemplate struct {
	// Contents is the template text, such as
	// `{{ with secret "palo/creds/wildfire" }}{{ .Data.access_token }}{{ end }}`.
	Contents string
	// Destination is the file it renders to.
	Destination string
}

// AgentOptions configure StartAgent.
type AgentOptions struct {
	// Token is the token the agent uses (auto-auth with the token_file
	// method); the server's root token when empty.
	Token string
	// Templates are rendered by the agent.
	Templates []AgentTemplate
	// LogLevel is the agent's -log-level ("debug" by default; "trace" also
	// logs when each secret will be fetched again).
	LogLevel string
	// ExtraConfig is HCL appended to the generated configuration.
	ExtraConfig string
}

// Agent is a running Vault Agent.
type Agent struct {
	*Process
	// ConfigPath is the agent's configuration file.
	ConfigPath string
}

// StartAgent starts `vault agent` against the server, authenticated with a
// token file, rendering o.Templates. It exits if rendering keeps failing
// (exit_on_retry_failure), so a broken template shows up in Exited and its
// log. It is stopped in t.Cleanup.
func (s *Server) StartAgent(t testing.TB, o AgentOptions) *Agent {
	t.Helper()
	if o.Token == "" {
		o.Token = s.RootToken
	}
	if o.LogLevel == "" {
		o.LogLevel = "debug"
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	writeFile(t, tokenFile, []byte(o.Token))

	var cfg strings.Builder
	fmt.Fprintf(&cfg, "vault {\n  address = %s\n}\n\n", strconv.Quote(s.Addr))
	fmt.Fprintf(&cfg, "auto_auth {\n  method \"token_file\" {\n    config = {\n      token_file_path = %s\n    }\n  }\n}\n\n", strconv.Quote(tokenFile))
	cfg.WriteString("template_config {\n  exit_on_retry_failure = true\n}\n")
	for i, tpl := range o.Templates {
		src := filepath.Join(dir, fmt.Sprintf("template-%d.ctmpl", i))
		writeFile(t, src, []byte(tpl.Contents))
		fmt.Fprintf(&cfg, "\ntemplate {\n  source      = %s\n  destination = %s\n  error_on_missing_key = true\n}\n",
			strconv.Quote(src), strconv.Quote(tpl.Destination))
	}
	cfg.WriteString(o.ExtraConfig)
	configPath := filepath.Join(dir, "agent.hcl")
	writeFile(t, configPath, []byte(cfg.String()))

	args := []string{"agent", "-config=" + configPath, "-log-level=" + o.LogLevel}
	p := StartProcess(t, "vault agent", s.Bin, args, ChildEnv(dir), dir, filepath.Join(dir, "agent.log"))
	return &Agent{Process: p, ConfigPath: configPath}
}
