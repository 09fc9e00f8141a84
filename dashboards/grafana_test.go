package dashboards_test

// What Grafana does with a panel's InfluxQL before sending it, reproduced
// for the tests: $timeFilter, $__interval and template variables.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/testenv"
)

// selection holds the values chosen for template variables; a variable not
// in it is at "All", which the generated variables render as their allValue ".*".
type selection map[string][]string

var (
	varRef = regexp.MustCompile(`\$(site|line|machine|batch)\b`)
	// Grafana's escapeRegex (@grafana/data), applied to multi-value and
	// include-all variables interpolated into InfluxQL.
	grafanaRegexEscape = regexp.MustCompile(`[\\^$*+?.()|\[\]{}/]`)
)

// render interpolates q as Grafana's InfluxDB data source does for a
// dashboard range [from, to], an interval, the selected variables and the
// dashboard's constant variables.
func render(q string, sel selection, constants map[string]string, from, to time.Time, interval string) string {
	q = strings.ReplaceAll(q, "$timeFilter", fmt.Sprintf("time >= %dms and time <= %dms", from.UnixMilli(), to.UnixMilli()))
	q = strings.ReplaceAll(q, "$__interval", interval)
	return varRef.ReplaceAllStringFunc(q, func(m string) string {
		name := m[1:]
		if c, ok := constants[name]; ok {
			return c // constant variables are neither multi nor include-all: not escaped
		}
		vals, ok := sel[name]
		if !ok || len(vals) == 0 {
			return ".*"
		}
		esc := make([]string, len(vals))
		for i, v := range vals {
			esc[i] = grafanaRegexEscape.ReplaceAllString(v, `\$0`)
		}
		if len(esc) == 1 {
			return esc[0]
		}
		return "(" + strings.Join(esc, "|") + ")"
	})
}

type influxSeries struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// influxQuery runs InfluxQL on the v1 /query endpoint, as Grafana's
// InfluxQL mode does, and returns the series of the single statement.
func influxQuery(t testing.TB, db testenv.InfluxDB, q string) ([]influxSeries, error) {
	t.Helper()
	form := url.Values{"db": {db.Database}, "q": {q}, "epoch": {"ms"}}
	resp, err := http.PostForm(db.URL+"/query", form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Results []struct {
			Series []influxSeries `json:"series"`
			Error  string         `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("%s", r.Error)
	}
	if len(r.Results) != 1 {
		return nil, fmt.Errorf("%d results, want 1: %s", len(r.Results), body)
	}
	if r.Results[0].Error != "" {
		return nil, fmt.Errorf("%s", r.Results[0].Error)
	}
	return r.Results[0].Series, nil
}
