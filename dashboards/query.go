package dashboards

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/linewatch/linewatch/store"
)

// Grafana renders these template variables; every generated query uses the
// regex form so that a single value, several values and "All" (.*) work alike.
const (
	fSite    = `"` + store.TagSite + `" =~ /^$site$/`
	fLine    = `"` + store.TagLine + `" =~ /^$line$/`
	fMachine = `"` + store.TagMachine + `" =~ /^$machine$/`
	fBatch   = `"` + store.TagBatch + `" =~ /^$batch$/`
	fGood    = `"` + store.FieldQuality + `" = 0`
	timeF    = `$timeFilter`
	// "Current" panels (active alarms, current batch, connection) must see
	// the last transition even when it is older than the dashboard range.
	lookback = `time > now() - 30d`
	byTime   = `GROUP BY time($__interval)`
)

// str quotes an InfluxQL string literal.
func str(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// ident quotes an InfluxQL identifier.
func ident(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// num writes a number as an InfluxQL literal, negative ones in parentheses
// so that "x - num(v)" stays one subtraction.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if v < 0 {
		return "(" + s + ")"
	}
	return s
}

func eq(key, value string) string { return ident(key) + " = " + str(value) }

// oneOf matches a tag against a fixed set of values with an anchored regex.
func oneOf(key string, values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = regexQuote(v)
	}
	return fmt.Sprintf("%s =~ /^(%s)$/", ident(key), strings.Join(q, "|"))
}

// regexQuote escapes a literal for an InfluxQL /regex/.
func regexQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\^$.|?*+()[]{}/-`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func where(conds ...string) string {
	var c []string
	for _, x := range conds {
		if x != "" {
			c = append(c, x)
		}
	}
	return "WHERE " + strings.Join(c, " AND ")
}

func groupBy(tags ...string) string {
	q := make([]string, len(tags))
	for i, t := range tags {
		q[i] = ident(t)
	}
	return "GROUP BY " + strings.Join(q, ", ")
}

// byTimeAnd groups by the panel interval and tags.
func byTimeAnd(tags ...string) string {
	s := byTime
	for _, t := range tags {
		s += ", " + ident(t)
	}
	return s
}

// Schema keys written inside query text, quoted once (store owns the names).
var (
	qValue    = ident(store.FieldValue)
	qText     = ident(store.FieldText)
	qActive   = ident(store.FieldActive)
	qState    = ident(store.FieldState)
	qMessage  = ident(store.FieldMessage)
	qLimit    = ident(store.FieldLimit)
	qAlarmID  = ident(store.FieldAlarmID)
	qBatchTag = ident(store.TagBatch)
	qLine     = ident(store.TagLine)
	qMachine  = ident(store.TagMachine)
)
