package backend

import (
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// nameField is the <name> path segment shared by config/ and roles/.
func nameField(what string) *framework.FieldSchema {
	return &framework.FieldSchema{
		Type:        framework.TypeString,
		Description: "Name of the " + what + ".",
		Required:    true,
	}
}

// namePattern matches a name in a path: letters, digits, '-', '_' and '.',
// starting and ending with a letter or digit.
func namePattern(field string) string { return framework.GenericNameRegex(field) }

// rejectUnknown returns a 400 naming any request field the path does not
// take. The framework only warns about those; a typo in a field name must
// not be silently ignored when it guards a secret.
func rejectUnknown(req *logical.Request, fields map[string]*framework.FieldSchema) *logical.Response {
	var unknown []string
	for k := range req.Data {
		if _, ok := fields[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	known := make([]string, 0, len(fields))
	for k := range fields {
		if k != "name" {
			known = append(known, k)
		}
	}
	sort.Strings(known)
	return logical.ErrorResponse("unknown field(s): %s; this path takes: %s",
		strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// checkName validates a resource name taken from the path.
func checkName(name string) *logical.Response {
	if name == "" {
		return logical.ErrorResponse("name: required")
	}
	if len(name) > maxNameLen {
		return logical.ErrorResponse("name: too long (%d bytes; at most %d)", len(name), maxNameLen)
	}
	return nil
}

// seconds renders a duration the way Vault shows TTLs: whole seconds.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }
