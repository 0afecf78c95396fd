package backend

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

const operationPrefix = "palo"

// resource describes a stored collection (config/, roles/): a LIST path
// and a create/read/update/delete path per name. Writes and deletes are
// forwarded to the node that may write (the active node, the primary).
type resource struct {
	prefix   string // "config", "roles"
	singular string // "config", "role": OpenAPI suffix and help
	plural   string // "configs", "roles"
	// storagePrefix is where the entries are stored: "config/", "roles/".
	storagePrefix string
	fields        map[string]*framework.FieldSchema
	// readFields documents the read response.
	readFields map[string]*framework.FieldSchema
	write      framework.OperationFunc
	read       framework.OperationFunc
	delete     framework.OperationFunc
	// Summaries of the operations, and the help.
	createSummary, updateSummary, readSummary, deleteSummary string
	listHelp, synopsis, help                                 string
}

// exists is the existence check of the name path: whether an entry is
// stored under the name.
func (r resource) exists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	key := r.storagePrefix + d.Get("name").(string)
	entry, err := req.Storage.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("reading %s from storage: %w", key, err)
	}
	return entry != nil, nil
}

// list answers LIST with the names stored under the prefix.
func (r resource) list(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := req.Storage.List(ctx, r.storagePrefix)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", r.plural, err)
	}
	return logical.ListResponse(names), nil
}

// paths builds the resource's two paths.
func (r resource) paths() []*framework.Path {
	writeOp := func(cb framework.OperationFunc, summary string, responses map[int][]framework.Response) *framework.PathOperation {
		return &framework.PathOperation{
			Callback:                    cb,
			Summary:                     summary,
			ForwardPerformanceStandby:   true,
			ForwardPerformanceSecondary: true,
			Responses:                   responses,
		}
	}
	written := map[int][]framework.Response{
		http.StatusNoContent: {{Description: "No Content"}},
		http.StatusOK:        {{Description: "OK, with warnings"}},
	}
	return []*framework.Path{
		{
			Pattern: r.prefix + "/?$",
			DisplayAttrs: &framework.DisplayAttributes{
				OperationPrefix: operationPrefix,
				OperationSuffix: r.plural,
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{
					Callback: r.list,
					Summary:  "List " + r.plural + ".",
					Responses: map[int][]framework.Response{
						http.StatusOK: {{Description: "OK", Fields: map[string]*framework.FieldSchema{
							"keys": {Type: framework.TypeStringSlice, Description: "Names of the " + r.plural + "."},
						}}},
					},
				},
			},
			HelpSynopsis:    "List " + r.plural + ".",
			HelpDescription: r.listHelp,
		},
		{
			Pattern: r.prefix + "/" + namePattern("name"),
			DisplayAttrs: &framework.DisplayAttributes{
				OperationPrefix: operationPrefix,
				OperationSuffix: r.singular,
			},
			Fields:         r.fields,
			ExistenceCheck: r.exists,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.CreateOperation: writeOp(r.write, r.createSummary, written),
				logical.UpdateOperation: writeOp(r.write, r.updateSummary, written),
				logical.ReadOperation: &framework.PathOperation{
					Callback: r.read,
					Summary:  r.readSummary,
					Responses: map[int][]framework.Response{
						http.StatusOK: {{Description: "OK", Fields: r.readFields}},
					},
				},
				logical.DeleteOperation: writeOp(r.delete, r.deleteSummary, map[int][]framework.Response{
					http.StatusNoContent: {{Description: "No Content"}},
				}),
			},
			HelpSynopsis:    r.synopsis,
			HelpDescription: r.help,
		},
	}
}
