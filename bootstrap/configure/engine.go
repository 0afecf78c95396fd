package configure

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend"
)

// verifyField is the config field that makes a write fetch a token first.
// The engine instance here never reaches a vendor, so it is always false
// there; the value the file gives is what Vault gets.
const verifyField = "verify_connection"

// judged is what the engine made of the file's configs and roles: what a
// read of each returns once it is written.
type judged struct {
	configs map[string]map[string]any
	roles   map[string]map[string]any
}

// judge writes the resolved configs and roles into an instance of the
// engine itself, running in this process on in-memory storage, and reads
// them back. The engine decides which fields each provider takes, which
// are required, their types and ranges, exactly as it will in Vault; this
// tool keeps no list of fields. It returns the engine's message for every
// object it refuses, each naming the object, or what each read returned.
func judge(ctx context.Context, configs, roles map[string]map[string]any) (*judged, []string, error) {
	storage := &logical.InmemStorage{}
	lb, err := backend.Factory(ctx, &logical.BackendConfig{
		Logger: hclog.NewNullLogger(),
		System: &logical.StaticSystemView{
			// Vault's own defaults for a mount that was not tuned.
			DefaultLeaseTTLVal: 768 * time.Hour,
			MaxLeaseTTLVal:     768 * time.Hour,
		},
		StorageView: storage,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the engine to check the file: %w", err)
	}
	defer lb.Cleanup(ctx)
	out := &judged{configs: map[string]map[string]any{}, roles: map[string]map[string]any{}}
	var problems []string

	do := func(op logical.Operation, path string, data map[string]any) (map[string]any, string, error) {
		resp, err := lb.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Data: data, Storage: storage})
		switch {
		case resp != nil && resp.IsError():
			return nil, resp.Error().Error(), nil
		case err != nil:
			return nil, "", fmt.Errorf("checking %s: %w", path, err)
		case resp == nil:
			return nil, "", nil
		}
		return resp.Data, "", nil
	}

	for _, name := range sortedKeys(configs) {
		data := map[string]any{}
		for k, v := range configs[name] {
			data[k] = v
		}
		verify, given := configs[name][verifyField]
		if given {
			b, err := strconv.ParseBool(fmt.Sprint(verify))
			if err != nil {
				problems = append(problems, fmt.Sprintf("config %q: %s: %v is not true or false", name, verifyField, verify))
				continue
			}
			verify = b
		}
		data[verifyField] = false
		read, msg, err := writeAndRead(do, "config/"+name, data)
		if err != nil {
			return nil, nil, err
		}
		if msg != "" {
			problems = append(problems, fmt.Sprintf("config %q: %s", name, msg))
			continue
		}
		if given {
			read[verifyField] = verify
		}
		out.configs[name] = read
	}
	for _, name := range sortedKeys(roles) {
		if c, _ := roles[name]["config"].(string); out.configs[c] == nil {
			continue // its config was refused, and said so
		}
		read, msg, err := writeAndRead(do, "roles/"+name, roles[name])
		if err != nil {
			return nil, nil, err
		}
		if msg != "" {
			problems = append(problems, fmt.Sprintf("role %q: %s", name, msg))
			continue
		}
		out.roles[name] = read
	}
	sort.Strings(problems)
	return out, problems, nil
}

// writeAndRead creates path with data and reads it back; msg is the
// engine's message when it refuses the write.
func writeAndRead(do func(logical.Operation, string, map[string]any) (map[string]any, string, error),
	path string, data map[string]any,
) (read map[string]any, msg string, err error) {
	if _, msg, err = do(logical.CreateOperation, path, data); err != nil || msg != "" {
		return nil, msg, err
	}
	read, msg, err = do(logical.ReadOperation, path, nil)
	if err == nil && msg == "" && read == nil {
		err = fmt.Errorf("checking %s: the engine stored nothing", path)
	}
	return read, msg, err
}
