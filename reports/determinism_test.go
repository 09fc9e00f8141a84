package reports

import (
	"bytes"
	"testing"
	"time"
)

// The signing service and the signer's CLI render the signed report
// separately; they must produce the same bytes (fpdf orders fonts and
// images by map iteration unless told otherwise).
func TestRenderingIsDeterministic(t *testing.T) {
	r := &Report{V: SchemaVersion, Header: Header{Site: "plant1", Line: "fill1", Batch: "B-7", GeneratedAt: genTime}}
	var pts []ChartPoint
	for i := range 50 {
		pts = append(pts, ChartPoint{Time: genTime.Add(time.Duration(i) * time.Minute), Min: Num(i), Max: Num(i + 2), Mean: Num(i + 1)})
	}
	for _, m := range []string{"m1", "m2", "m3", "m4"} {
		r.Charts = append(r.Charts, Chart{Machine: m, Tag: "t", Unit: "C", Limits: []Limit{{"hi", 30}}, Points: pts})
	}
	r.Rejects = []RejectStats{{Machine: "m1", Points: []PPoint{{Time: genTime, P: 0.1, N: 100, UCL: 0.2}}}}
	r.Signatures = []ESignature{{User: "jane", Name: "Jane", Meaning: "approval", Time: genTime, ReportDigest: sha256Hex(nil)}}
	for _, format := range Formats {
		first, _, err := renderUnsealed(r, format)
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			again, _, _ := renderUnsealed(r, format)
			if !bytes.Equal(first, again) {
				t.Fatalf("%s: two renderings of the same report differ", format)
			}
		}
	}
}
