// Package fakevendor is a fake of the token endpoints of every vendor the
// plugin supports: Palo Alto SaaS Security, Palo Alto Strata Cloud Manager
// (SCM) auth, Oracle CASB, Bright Pattern and a generic OAuth2
// client-credentials server. One Server answers all of them, told apart by
// the request path (see TokenPath).
//
// It follows the vendors' published token-endpoint documentation to the
// letter and checks every request strictly (method, path, content type,
// client authentication style, every body field), so that a plugin that sends
// a wrong request fails against it the way it would fail against the vendor.
// Where the vendor does not document its errors, the fake picks a plausible
// shape and says so in the vendor's file.
//
// Tokens are unguessable random strings remembered with their expiry, so
// Check can tell a test whether a token was minted here and is still alive
// at the fake's clock. Fault modes (Faults) inject the failures a real
// vendor produces: slow answers, connection resets, bursts and rates of 503s,
// outages, 429s with and without Retry-After, truncated and non-JSON bodies,
// odd lifetimes, clock skew, a changing type of expires_in and a 200 without
// a token; for redaction tests, an error that echoes the presented secret in
// a chosen encoding (EchoSecret) and a success whose field carries a control
// character (ControlCharField). Counters (Stats) record what the plugin
// asked for.
//
// The generic oauth2 endpoint also takes private_key_jwt client assertions
// (RFC 7523), checked against the account's JWKS or its jwks_uri, with every
// claim verified and replays refused (see oauth2jwt.go), and the audience and
// resource (RFC 8707) parameters. Server.LastOAuth2Request tells a test what
// an account's last token request carried.
//
// It also serves the Strata Cloud Manager IAM service-account API (list, get
// and secret reset) for the paloalto_scm accounts, with its own fault modes
// (IAMFaults: refused, failed, slow, lost, or oddly answered resets); see
// iam.go. DemoSCMSibling is a second service account in the demo account's
// TSG.
//
// The fake is a test tool. Its admin API under /_fake/ (see Server.ServeHTTP)
// has no authentication and must only ever be served on loopback; the command
// in cmd/fakevendor refuses any other address. No secret it is given appears
// in a response, an error or a RequestRecord.
package fakevendor
