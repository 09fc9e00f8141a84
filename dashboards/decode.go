package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Decode parses dashboard JSON with the SDK's strict unmarshal (unknown or
// mistyped fields anywhere, including panel options and InfluxQL targets,
// are errors) and returns the dashboard.
func Decode(raw []byte) (dashboard.Dashboard, error) {
	registerVariants()
	var strict dashboard.Dashboard
	if err := strictErr(strict.UnmarshalJSONStrict(raw)); err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard JSON does not follow Grafana's schema: %w", err)
	}
	// The strict pass drops panel options it validated (see strictErr), so
	// the value returned comes from the regular unmarshal.
	var d dashboard.Dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard JSON: %w", err)
	}
	return d, nil
}

// strictErr fixes the SDK v0.0.18 strict unmarshal result: it returns its
// error list typed as cog.BuildErrors, so an empty (nil) list still makes a
// non-nil error interface. Inside the SDK the same happens for panel options
// and field config: the typed-nil "error" makes the panel keep no options,
// but real errors are still reported, which is what validation needs.
func strictErr(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}
