package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// DatasourceType is Grafana's plugin id of the InfluxDB data source.
const DatasourceType = "influxdb"

// InfluxQuery is a raw InfluxQL target of Grafana's InfluxDB data source.
// The foundation SDK v0.0.18 ships no InfluxDB query type, so linewatch
// declares the subset of fields it writes; registering it as the "influxdb"
// dataquery variant makes the SDK's strict unmarshal reject any other field.
type InfluxQuery struct {
	RefID        string                `json:"refId"`
	Datasource   *common.DataSourceRef `json:"datasource,omitempty"`
	Hide         bool                  `json:"hide,omitempty"`
	Query        string                `json:"query"`
	RawQuery     bool                  `json:"rawQuery"`
	ResultFormat string                `json:"resultFormat,omitempty"` // time_series | table
	Alias        string                `json:"alias,omitempty"`
	// Annotation targets: how the result's columns become annotation events.
	QueryType       string `json:"queryType,omitempty"`
	FromAnnotations bool   `json:"fromAnnotations,omitempty"`
	TextColumn      string `json:"textColumn,omitempty"`
	TitleColumn     string `json:"titleColumn,omitempty"`
	TagsColumn      string `json:"tagsColumn,omitempty"`
	TimeEndColumn   string `json:"timeEndColumn,omitempty"`
}

// ImplementsDataqueryVariant marks InfluxQuery as an SDK dataquery.
func (InfluxQuery) ImplementsDataqueryVariant() {}

// DataqueryType is the data source plugin id.
func (InfluxQuery) DataqueryType() string { return DatasourceType }

// Equals compares two dataqueries field by field.
func (q InfluxQuery) Equals(other variants.Dataquery) bool {
	o, ok := other.(InfluxQuery)
	return ok && reflect.DeepEqual(q, o)
}

// Validate rejects a target Grafana could not run.
func (q InfluxQuery) Validate() error {
	if q.RefID == "" {
		return errors.New("influxql target: refId is empty")
	}
	if q.Query == "" {
		return fmt.Errorf("influxql target %s: query is empty", q.RefID)
	}
	if !q.RawQuery {
		return fmt.Errorf("influxql target %s: rawQuery must be true (the query is raw InfluxQL)", q.RefID)
	}
	return nil
}

// Build lets an InfluxQuery be passed where the SDK takes a dataquery
// builder. The error must be cog.BuildErrors: the SDK's builders
// type-assert it and would panic on any other error type.
func (q InfluxQuery) Build() (variants.Dataquery, error) {
	if err := q.Validate(); err != nil {
		return nil, cog.MakeBuildErrors("influxql", err)
	}
	return q, nil
}

func unmarshalInfluxQuery(raw []byte, strict bool) (variants.Dataquery, error) {
	var q InfluxQuery
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&q); err != nil {
		return nil, fmt.Errorf("influxql target: %w", err)
	}
	if strict {
		if err := q.Validate(); err != nil {
			return nil, err
		}
	}
	return q, nil
}

var registerOnce sync.Once

// registerVariants registers the SDK's panel and query types and ours, once:
// the SDK keeps them in an unsynchronised process-wide registry.
func registerVariants() {
	registerOnce.Do(func() {
		plugins.RegisterDefaultPlugins()
		cog.NewRuntime().RegisterDataqueryVariant(variants.DataqueryConfig{
			Identifier:                 DatasourceType,
			DataqueryUnmarshaler:       func(raw []byte) (variants.Dataquery, error) { return unmarshalInfluxQuery(raw, false) },
			StrictDataqueryUnmarshaler: func(raw []byte) (variants.Dataquery, error) { return unmarshalInfluxQuery(raw, true) },
		})
	})
}
