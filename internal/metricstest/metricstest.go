// Package metricstest reads the Prometheus text exposition in tests: it
// parses it with the Prometheus text parser and finds samples by label.
package metricstest

import (
	"bytes"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Exposition is one parsed scrape, by metric family name.
type Exposition map[string]*dto.MetricFamily

// Parse parses body, failing the test if it is not the text format.
func Parse(tb testing.TB, body []byte) Exposition {
	tb.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	return fams
}

// Find returns the first sample of family name whose labels include
// labels (name, value pairs), or nil.
func (x Exposition) Find(name string, labels ...string) *dto.Metric {
	for _, m := range x[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && have[labels[i]] == labels[i+1]
		}
		if match {
			return m
		}
	}
	return nil
}

// Value is the value of the counter or gauge Find returns, or the sample
// count of a histogram; ok is false when there is no such sample.
func (x Exposition) Value(name string, labels ...string) (v float64, ok bool) {
	m := x.Find(name, labels...)
	switch {
	case m == nil:
		return 0, false
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount()), true
	}
	return 0, false
}
