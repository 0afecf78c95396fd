package backend

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

func pathMetrics(b *paloBackend) *framework.Path {
	return &framework.Path{
		Pattern: "metrics$",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationSuffix: "metrics",
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				// Not forwarded: each node reports its own process (vendor
				// requests and refreshes happen where the tokens are held,
				// on the active node, since creds and cache are forwarded
				// there), so a performance standby is scraped directly.
				Callback: b.pathMetricsRead,
				Summary:  "This mount's metrics in the Prometheus text format (never a token or a secret).",
				Responses: map[int][]framework.Response{
					http.StatusOK: {{
						Description: "The Prometheus text exposition format, version 0.0.4.",
						MediaType:   expositionContentType,
					}},
				},
			},
		},
		HelpSynopsis:    "Prometheus metrics of this mount.",
		HelpDescription: strings.TrimSpace(metricsHelp),
	}
}

// pathMetricsRead answers with the raw exposition, which Vault passes
// through as the HTTP body. The configs in storage decide which series
// exist: a deleted config's series and counts are dropped, and a config
// not yet read since the mount started gets its zero series.
func (b *paloBackend) pathMetricsRead(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	gen := b.metrics.generation()
	names, err := req.Storage.List(ctx, configStoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("listing configs: %w", err)
	}
	for _, name := range b.metrics.keepConfigs(names, gen) {
		entry, err := readConfigEntry(ctx, req.Storage, name)
		if err != nil {
			return nil, err
		}
		if entry != nil {
			b.metrics.noteConfig(name, entry)
		}
	}
	body, err := b.metrics.exposition()
	if err != nil {
		return nil, fmt.Errorf("rendering metrics: %w", err)
	}
	return &logical.Response{Data: map[string]any{
		logical.HTTPContentType: expositionContentType,
		logical.HTTPRawBody:     body,
		logical.HTTPStatusCode:  http.StatusOK,
	}}, nil
}

const metricsHelp = `
Reading metrics returns this mount's metrics in the Prometheus text
exposition format (Content-Type: text/plain; version=0.0.4), for a
Prometheus server that scrapes /v1/<mount>/metrics with a Vault token
holding read on this path:

  path "palo/metrics" { capabilities = ["read"] }

Every mount has its own metrics, and a remount or plugin reload starts them
from zero. Series are labelled by config or by provider, never by role, and
never hold a token or a secret. Per config:

  palo_config_info{provider}                   always 1: the config's provider
  palo_vendor_requests_total{outcome}          token endpoint HTTP requests (2xx, 3xx,
                                               4xx, 5xx, throttled, timeout,
                                               network_error)
  palo_vendor_iam_requests_total{outcome}      IAM API requests of rotation
  palo_creds_reads_total{result}               creds reads (hit, fetched, stale, failed)
  palo_token_seconds_left{scope}               life left on each cached token
  palo_credential_cooldown_active              1 during a credential-failure cooldown
  palo_rotations_total{outcome}                client secret rotations (success, failure)
  palo_rotation_last_success_timestamp_seconds the last successful rotation

Per provider:

  palo_token_fetches_total{reason}             token fetches (miss, refresh_ahead,
                                               after_purge)
  palo_vendor_request_duration_seconds{endpoint}
                                               request latency (histogram; token, iam)

And palo_build_info{version,go_version}, always 1.

The metrics are those of the node that serves the request. From the CLI,
"vault read -format=raw palo/metrics" prints the text as it is.
`
