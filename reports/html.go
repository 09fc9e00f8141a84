package reports

import (
	"bytes"
	"fmt"
	"html/template"
)

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{"shown": shown}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="linewatch {{.R.Header.Version}}">
<meta name="linewatch-content-sha256" content="{{.Digest}}">
<meta name="linewatch-integrity" content="Ed25519 integrity block in div#linewatch-integrity at the end of this file; check with: linewatch report verify FILE --pubkey KEY.pub">
<title>Batch report {{shown .R.Header.Batch}} — {{.R.Header.Line}}</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;font-size:12px;margin:24px;color:#111}
h1{font-size:20px}h2{font-size:15px;border-bottom:1px solid #999;margin-top:24px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#eee}.note{color:#444;font-style:italic}.fail,.v-FAIL{color:#b00;font-weight:bold}.v-ATTENTION{color:#a65f00;font-weight:bold}.v-PASS{color:#07802a;font-weight:bold}.sig td{height:28px}
</style></head><body>
<h1>QA batch report — batch {{shown .R.Header.Batch}}</h1>
<table>{{range .Header}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
<h2>Exception summary</h2>
<table class="summary"><tr><th>Check</th><th>Verdict</th><th>Figure</th></tr>{{range .Verdicts}}<tr><td>{{.Check}}</td><td class="v-{{.Status}}">{{.Status}}</td><td>{{.Figure}}</td></tr>{{end}}</table>
<p class="note">{{.R.Header.AnalyticsNote}}</p>
<p>Content SHA-256: <code>{{.Digest}}</code></p>
{{range .Sections}}<h2>{{.Title}}</h2>{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
{{if .Rows}}<table><tr>{{range .Cols}}<th>{{.}}</th>{{end}}</tr>{{range .Rows}}<tr>{{range .}}<td{{if eq . "FAIL"}} class="fail"{{end}}>{{.}}</td>{{end}}</tr>{{end}}</table>{{else}}<p>{{if .Empty}}{{.Empty}}{{else}}None.{{end}}</p>{{end}}
{{end}}
<h2>Charts</h2>
{{range .Charts}}<h3>{{.Title}}</h3><div>{{.SVG}}</div>{{else}}<p>No critical tags or p-charts.</p>{{end}}
<h2>Signatures</h2>
<table class="sig"><tr><th>Printed name</th><th>Meaning</th><th>Date and time</th><th>Signature</th></tr>
{{range .Sigs}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}
</table>
<script type="application/json" id="linewatch-report">{{.Canon}}</script>
<div id="linewatch-integrity" hidden>{{.Block}}</div>
</body></html>
`))

type htmlChart struct {
	Title string
	SVG   template.HTML
}

func renderHTML(r *Report, canon []byte) ([]byte, error) {
	imgs, err := chartImages(r, "svg")
	if err != nil {
		return nil, err
	}
	charts := make([]htmlChart, len(imgs))
	for i, im := range imgs {
		svg := im.Data
		if j := bytes.Index(svg, []byte("<svg")); j > 0 {
			svg = svg[j:] // drop the XML prolog inside HTML
		}
		// The SVG comes from gonum/plot with text we escaped through
		// the report model (tag names are config ids), not user HTML.
		charts[i] = htmlChart{Title: im.Title, SVG: template.HTML(svg)}
	}
	f := formatter(r)
	var b bytes.Buffer
	err = htmlTmpl.Execute(&b, map[string]any{
		"R": r, "Header": headerRows(r, f), "Sections": sections(r, f), "Charts": charts, "Sigs": signatureRows(r, f), "Verdicts": verdicts(r, f),
		"Digest": sha256Hex(canon),
		// json.Marshal escapes <, > and &, so the JSON cannot close the
		// script element; it is inserted verbatim to keep its bytes exact.
		"Canon": template.JS(canon),
		"Block": template.HTML(placeholder()),
	})
	if err != nil {
		return nil, fmt.Errorf("HTML report: %w", err)
	}
	return b.Bytes(), nil
}
