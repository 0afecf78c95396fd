package backend

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/errutil"
	"github.com/hashicorp/vault/sdk/logical"
)

// HandleExistenceCheck is the framework's, after compositeValueError.
// Vault calls it before HandleRequest on every write, and the framework
// converts the request's fields there first.
func (b *paloBackend) HandleExistenceCheck(ctx context.Context, req *logical.Request) (checkFound, exists bool, err error) {
	if msg := b.compositeValueError(req); msg != "" {
		return false, false, errutil.UserError{Err: msg}
	}
	return b.Backend.HandleExistenceCheck(ctx, req)
}

// HandleRequest is the framework's, after compositeValueError.
func (b *paloBackend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if msg := b.compositeValueError(req); msg != "" {
		return logical.ErrorResponse(msg), nil
	}
	return b.Backend.HandleRequest(ctx, req)
}

// compositeValueError refuses a list or an object given for a field that
// takes a single value, naming the field but not the value. The
// framework would refuse it too, but its message quotes the whole value
// ("... got unconvertible type '[]interface {}', value: '[...]'"), and
// for client_secret, access_secret or a proxy_url with a password that
// puts a secret into the response and Vault's audit log. A list is what
// the vault CLI sends for a field given twice (client_secret=a
// client_secret=b). It returns "" when there is nothing to refuse.
func (b *paloBackend) compositeValueError(req *logical.Request) string {
	switch req.Operation {
	case logical.CreateOperation, logical.UpdateOperation, logical.PatchOperation,
		logical.ReadOperation, logical.ListOperation, logical.DeleteOperation:
	default:
		return ""
	}
	if len(req.Data) == 0 {
		return ""
	}
	p := b.Route(req.Path)
	if p == nil {
		return ""
	}
	names := make([]string, 0, len(req.Data))
	for k := range req.Data {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		schema, ok := p.Fields[k]
		v := req.Data[k]
		if !ok || v == nil {
			continue
		}
		var what string
		switch reflect.ValueOf(v).Kind() {
		case reflect.Slice, reflect.Array:
			what = "a list"
		case reflect.Map:
			what = "an object"
		default:
			continue
		}
		fd := framework.FieldData{Raw: map[string]any{k: v}, Schema: map[string]*framework.FieldSchema{k: schema}}
		if _, _, err := fd.GetOkErr(k); err != nil {
			return fmt.Sprintf("%s: expected a single %s value, got %s (was the field given twice?)", k, schema.Type, what)
		}
	}
	return ""
}

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
	takes := "this path takes no fields"
	if len(known) > 0 {
		takes = "this path takes: " + strings.Join(known, ", ")
	}
	return logical.ErrorResponse("unknown field(s): %s; %s", strings.Join(unknown, ", "), takes)
}

// writeTarget refuses a write to config/<name> or roles/<name> that names
// an unknown field or a bad name, and returns the name otherwise.
func writeTarget(req *logical.Request, d *framework.FieldData) (string, *logical.Response) {
	if resp := rejectUnknown(req, d.Schema); resp != nil {
		return "", resp
	}
	name := d.Get("name").(string)
	return name, checkName(name)
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
