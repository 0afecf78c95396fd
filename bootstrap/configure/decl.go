package configure

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// decl is the declarative file: configs, roles and teams by name. Configs
// and roles are kept as the operator wrote them; the engine judges their
// fields (see engine.go).
type decl struct {
	dir     string // the file's folder, for relative *_file paths
	configs map[string]map[string]any
	roles   map[string]map[string]any
	teams   map[string]Team
}

// Team is a teams.<name> entry: the roles whose tokens it reads, and
// optionally its policy's name.
type Team struct {
	Roles  []string `json:"roles"`
	Policy string   `json:"policy"`
}

// Objects are the configs, roles and teams to put into Vault, by name, with
// every value resolved (secrets included) and keyed by the engine's field
// names.
type Objects struct {
	Configs map[string]map[string]any
	Roles   map[string]map[string]any
	Teams   map[string]Team
}

// secretFields are the providers' write-only API fields (client_secret,
// access_secret), from their descriptors: never in the file, never printed.
var secretFields = func() []string {
	var out []string
	for _, d := range provider.Descriptors() {
		for _, f := range d.Fields {
			if f.Secret && !f.Hidden && !slices.Contains(out, f.Name) {
				out = append(out, f.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}()

var (
	nameRe          = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	varRe           = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	proxyPasswordRe = regexp.MustCompile(`://[^/@]*:[^/@]*@`)
)

const badName = `names may use letters, digits, ".", "_" and "-"`

// loadDecl reads and checks the declarative file. It returns every problem
// it finds, each naming the object and field, or the parsed file.
func loadDecl(path string) (*decl, []string, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator's own file
	if err != nil {
		return nil, nil, fmt.Errorf("no declarative file at %s", path)
	}
	var top map[string]json.RawMessage
	if err := unmarshal(b, &top); err != nil || top == nil {
		return nil, nil, fmt.Errorf("%s is not a JSON object", path)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, nil, err
	}
	d := &decl{dir: dir, configs: map[string]map[string]any{}, roles: map[string]map[string]any{}, teams: map[string]Team{}}
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	for _, k := range sortedKeys(top) {
		if k != "configs" && k != "roles" && k != "teams" {
			add("unknown top-level key %q (expected configs, roles, teams)", k)
		}
	}
	sections := map[string]map[string]json.RawMessage{}
	for _, s := range []string{"configs", "roles", "teams"} {
		if raw, ok := top[s]; ok {
			var m map[string]json.RawMessage
			if err := unmarshal(raw, &m); err != nil {
				add("%s must be an object of objects by name", s)
			}
			sections[s] = m
		}
	}

	objects := func(section, kind string, into func(name string, raw json.RawMessage) []string) {
		for _, name := range sortedKeys(sections[section]) {
			w := fmt.Sprintf("%s %q", kind, name)
			if !nameRe.MatchString(name) {
				add("%s: %s", w, badName)
			}
			for _, p := range into(name, sections[section][name]) {
				add("%s: %s", w, p)
			}
		}
	}
	objects("configs", "config", func(name string, raw json.RawMessage) []string {
		var c map[string]any
		if unmarshal(raw, &c) != nil || c == nil {
			return []string{"must be an object"}
		}
		d.configs[name] = c
		return configProblems(c)
	})
	objects("roles", "role", func(name string, raw json.RawMessage) []string {
		var r map[string]any
		if unmarshal(raw, &r) != nil || r == nil {
			return []string{"must be an object"}
		}
		d.roles[name] = r
		if c, ok := r["config"].(string); !ok || c == "" {
			return []string{"config is required"}
		}
		return nil
	})
	objects("teams", "team", func(name string, raw json.RawMessage) []string {
		var fields map[string]json.RawMessage
		if unmarshal(raw, &fields) != nil || fields == nil {
			return []string{"must be an object"}
		}
		var p []string
		for _, k := range sortedKeys(fields) {
			if k != "roles" && k != "policy" {
				p = append(p, fmt.Sprintf("unknown field %q (fields: roles, policy)", k))
			}
		}
		var t Team
		if unmarshal(fields["roles"], &t.Roles) != nil || len(t.Roles) == 0 {
			p = append(p, "roles must be a non-empty list of role names")
		}
		if raw, ok := fields["policy"]; ok {
			if unmarshal(raw, &t.Policy) != nil || !nameRe.MatchString(t.Policy) {
				p = append(p, "policy must be a name")
			}
		}
		d.teams[name] = t
		return p
	})

	// References between objects of the file.
	for _, name := range sortedKeys(d.roles) {
		if c, ok := d.roles[name]["config"].(string); ok && c != "" && d.configs[c] == nil {
			add("role %q: config %q is not in the file", name, c)
		}
	}
	for _, name := range sortedKeys(d.teams) {
		for _, r := range d.teams[name].Roles {
			if d.roles[r] == nil {
				add("team %q: role %q is not in the file", name, r)
			}
		}
	}
	return d, problems, nil
}

// configProblems checks what only this tool knows about a config: where its
// values come from. The fields themselves are the engine's to judge.
func configProblems(c map[string]any) []string {
	var p []string
	given := map[string][]string{} // field => the keys that give it
	for _, k := range sortedKeys(c) {
		f := baseField(k)
		given[f] = append(given[f], k)
		if f != k {
			if s, ok := c[k].(string); !ok || s == "" {
				p = append(p, fmt.Sprintf("%s must name a variable or file", k))
			}
		}
	}
	for _, f := range sortedKeys(given) {
		if len(given[f]) > 1 {
			p = append(p, fmt.Sprintf("%s is given more than once (as %s, %s_env or %s_file)", f, f, f, f))
		}
	}
	for _, s := range secretFields {
		if _, ok := c[s]; ok {
			p = append(p, fmt.Sprintf("%s must not be in the file; name an environment variable (%s_env) or a file (%s_file)", s, s, s))
		}
	}
	if u, ok := c["proxy_url"].(string); ok && proxyPasswordRe.MatchString(u) {
		p = append(p, "proxy_url carries a password; give it with proxy_url_env or proxy_url_file")
	}
	if given["provider"] == nil {
		p = append(p, "provider is required")
	}
	return p
}

// baseField is the field a key gives: "client_secret" for
// "client_secret_env" and "client_secret_file".
func baseField(k string) string {
	if f, ok := strings.CutSuffix(k, "_env"); ok {
		return f
	}
	if f, ok := strings.CutSuffix(k, "_file"); ok {
		return f
	}
	return k
}

// resolveConfig returns the fields of config name as they are written to
// Vault, secrets included: *_env from the environment, *_file from files
// (relative to the declarative file; trailing white space dropped except
// for ca_cert, kept exactly), and ${VAR} in strings expanded.
func (d *decl) resolveConfig(name string) (map[string]any, error) {
	w := fmt.Sprintf("config %q", name)
	out := map[string]any{}
	for _, k := range sortedKeys(d.configs[name]) {
		v := d.configs[name][k]
		f := baseField(k)
		switch {
		case strings.HasSuffix(k, "_env"):
			val, ok := os.LookupEnv(v.(string))
			if !ok {
				return nil, fmt.Errorf("%s: %s names %s, which is not set (export it)", w, k, v)
			}
			out[f] = val
		case strings.HasSuffix(k, "_file"):
			p, err := expand(v.(string), w+": "+k)
			if err != nil {
				return nil, err
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(d.dir, p)
			}
			b, err := os.ReadFile(p) //nolint:gosec // G304: a file the operator's declarative file names
			if err != nil {
				return nil, fmt.Errorf("%s: %s: cannot read %s", w, k, p)
			}
			if f == "ca_cert" {
				out[f] = string(b)
			} else {
				out[f] = strings.TrimRight(string(b), " \t\r\n")
			}
		default:
			s, ok := v.(string)
			if !ok {
				out[f] = v
				continue
			}
			x, err := expand(s, w+": "+k)
			if err != nil {
				return nil, err
			}
			out[f] = x
		}
		for _, s := range secretFields {
			if f == s && out[f] == "" {
				return nil, fmt.Errorf("%s: %s is empty", w, f)
			}
		}
	}
	return out, nil
}

// resolve returns the file's objects with every value resolved, or the
// first problem met.
func (d *decl) resolve() (*Objects, error) {
	o := &Objects{Configs: map[string]map[string]any{}, Roles: map[string]map[string]any{}, Teams: d.teams}
	for _, name := range sortedKeys(d.configs) {
		c, err := d.resolveConfig(name)
		if err != nil {
			return nil, err
		}
		o.Configs[name] = c
	}
	for _, name := range sortedKeys(d.roles) {
		r, err := d.resolveRole(name)
		if err != nil {
			return nil, err
		}
		o.Roles[name] = r
	}
	return o, nil
}

// resolveRole returns the fields of role name with ${VAR} expanded.
func (d *decl) resolveRole(name string) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range d.roles[name] {
		if s, ok := v.(string); ok {
			x, err := expand(s, fmt.Sprintf("role %q: %s", name, k))
			if err != nil {
				return nil, err
			}
			v = x
		}
		out[k] = v
	}
	return out, nil
}

// expand replaces each ${VAR} in s by the environment variable VAR, which
// must be set.
func expand(s, where string) (string, error) {
	var err error
	out := varRe.ReplaceAllStringFunc(s, func(m string) string {
		name := varRe.FindStringSubmatch(m)[1]
		v, ok := os.LookupEnv(name)
		if !ok && err == nil {
			err = fmt.Errorf("%s: ${%s} is used but %s is not set", where, name, name)
		}
		return v
	})
	return out, err
}

// teamPolicy is the ACL policy of team: read on its roles' creds paths,
// nothing else.
func teamPolicy(name string, t Team, mount string) string {
	roles := append([]string(nil), t.Roles...)
	sort.Strings(roles)
	var b strings.Builder
	fmt.Fprintf(&b, "# Team %s may read the tokens of these roles and nothing else.\n", name)
	b.WriteString("# Written by bootstrap/configure.sh (vault-plugin-secrets-palo); edits are overwritten.\n")
	for i, r := range roles {
		if i > 0 && r == roles[i-1] {
			continue
		}
		fmt.Fprintf(&b, "\npath \"%s/creds/%s\" {\n  capabilities = [\"read\"]\n}\n", mount, r)
	}
	return b.String()
}

// unmarshal decodes JSON keeping numbers as written (json.Number), as Vault
// does with a request body.
func unmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
