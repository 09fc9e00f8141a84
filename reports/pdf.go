package reports

import (
	"bytes"
	"fmt"
	"strings"

	"codeberg.org/go-fonts/liberation/liberationsansbold"
	"codeberg.org/go-fonts/liberation/liberationsansregular"
	"codeberg.org/go-pdf/fpdf"

	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
)

const (
	pdfFont   = "LiberationSans"
	pdfMargin = 12.0
	pdfLineH  = 4.0
)

// renderPDF lays out the report on A4 with fpdf. The canonical JSON is
// attached as report.json; the integrity block placeholder is the PDF
// Keywords entry of the (uncompressed) document information dictionary,
// written in place by sealFile.
// shown is outside text (batch id, product code) as the PDF and HTML show
// it: percent-encoded (sample.Escape) so a control character, a backslash
// or a byte that is not UTF-8 is visible and reversible rather than lost or
// able to upset the layout; the CSV and JSON carry the value itself.
func shown(s string) string { return sample.Escape(s) }

func renderPDF(r *Report, canon []byte) ([]byte, error) {
	imgs, err := chartImages(r, "png")
	if err != nil {
		return nil, err
	}
	digest := sha256Hex(canon)
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(true, 16)
	pdf.AddUTF8FontFromBytes(pdfFont, "", liberationsansregular.TTF)
	pdf.AddUTF8FontFromBytes(pdfFont, "B", liberationsansbold.TTF)
	pdf.SetTitle(fmt.Sprintf("Batch report %s — %s", shown(r.Header.Batch), r.Header.Line), true)
	pdf.SetAuthor(r.Header.GeneratedBy, true)
	pdf.SetCreator("linewatch "+r.Header.Version, true)
	pdf.SetSubject("linewatch QA batch report; content SHA-256 "+digest, true)
	pdf.SetKeywords(placeholder(), false)
	pdf.SetCreationDate(r.Header.GeneratedAt)
	pdf.SetModificationDate(r.Header.GeneratedAt)
	// Same report, same bytes: the signing service and the signer render alike.
	pdf.SetCatalogSort(true)
	pdf.SetAttachments([]fpdf.Attachment{{Content: canon, Filename: "report.json", Description: "canonical report JSON (linewatch)"}})
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont(pdfFont, "", 7)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 4, fmt.Sprintf("Batch %s · line %s · content SHA-256 %s · page %d/{nb}", shown(r.Header.Batch), r.Header.Line, digest, pdf.PageNo()), "", 0, "C", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()
	f := formatter(r)

	pdf.SetFont(pdfFont, "B", 16)
	pdf.CellFormat(0, 9, "QA batch report — batch "+shown(r.Header.Batch), "", 1, "L", false, 0, "")
	pdf.SetFont(pdfFont, "", 9)
	for _, kv := range headerRows(r, f) {
		pdf.SetFont(pdfFont, "B", 9)
		pdf.CellFormat(36, 5, kv[0], "", 0, "L", false, 0, "")
		pdf.SetFont(pdfFont, "", 9)
		pdf.MultiCell(0, 5, kv[1], "", "L", false)
	}
	pdfSummary(pdf, verdicts(r, f))
	pdf.Ln(2)
	pdf.SetFont(pdfFont, "", 7.5)
	pdf.SetTextColor(60, 60, 60)
	pdf.MultiCell(0, 3.6, r.Header.AnalyticsNote, "", "L", false)
	pdf.MultiCell(0, 3.6, "Content SHA-256: "+digest+". The file carries a PDF signature (PAdES, checked by Acrobat or pdfsig) and an Ed25519 integrity block; check both with: linewatch report verify FILE --pubkey KEY.pub", "", "L", false)
	pdf.SetTextColor(0, 0, 0)

	pdf.AddPage()
	for _, s := range sections(r, f) {
		pdfSection(pdf, s)
	}

	if len(imgs) > 0 {
		pdf.AddPage()
		pdfHeading(pdf, "Charts")
		w := pdfWidth(pdf)
		for i, im := range imgs {
			name := fmt.Sprintf("chart%d", i)
			pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(im.Data))
			h := w * float64(chartH) / float64(chartW)
			if pdf.GetY()+h+8 > 297-16 {
				pdf.AddPage()
			}
			pdf.SetFont(pdfFont, "B", 9)
			pdf.CellFormat(0, 5, im.Title, "", 1, "L", false, 0, "")
			pdf.ImageOptions(name, pdfMargin, pdf.GetY(), w, h, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
			pdf.SetY(pdf.GetY() + h + 3)
		}
	}

	pdfSignatureBlock(pdf, r, f)
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("PDF report: %w", err)
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, fmt.Errorf("PDF report: %w", err)
	}
	if bytes.Count(b.Bytes(), []byte(BlockPrefix)) < 1 {
		return nil, fmt.Errorf("PDF report: integrity placeholder missing from the document information")
	}
	return b.Bytes(), nil
}

func pdfWidth(pdf *fpdf.Fpdf) float64 {
	w, _ := pdf.GetPageSize()
	return w - 2*pdfMargin
}

func pdfHeading(pdf *fpdf.Fpdf, title string) {
	if pdf.GetY() > 297-60 { // keep a heading with its first rows
		pdf.AddPage()
	}
	pdf.Ln(3)
	pdf.SetFont(pdfFont, "B", 12)
	pdf.CellFormat(0, 7, title, "B", 1, "L", false, 0, "")
	pdf.Ln(1)
}

func pdfSection(pdf *fpdf.Fpdf, s section) {
	pdfHeading(pdf, s.Title)
	if s.Note != "" {
		pdf.SetFont(pdfFont, "", 7.5)
		pdf.SetTextColor(60, 60, 60)
		pdf.MultiCell(0, 3.6, s.Note, "", "L", false)
		pdf.SetTextColor(0, 0, 0)
	}
	if len(s.Rows) == 0 {
		empty := s.Empty
		if empty == "" {
			empty = "None."
		}
		pdf.SetFont(pdfFont, "", 8)
		pdf.MultiCell(0, 4, empty, "", "L", false)
		return
	}
	widths := colWidths(pdf, s)
	pdf.SetFont(pdfFont, "B", 7)
	pdf.SetFillColor(230, 230, 230)
	pdfRow(pdf, widths, s.Cols, true)
	pdf.SetFont(pdfFont, "", 7)
	for _, row := range s.Rows {
		pdfRow(pdf, widths, row, false)
	}
}

func colWidths(pdf *fpdf.Fpdf, s section) []float64 {
	total := 0.0
	ws := s.Widths
	if len(ws) != len(s.Cols) {
		ws = make([]float64, len(s.Cols))
		for i := range ws {
			ws[i] = 1
		}
	}
	for _, w := range ws {
		total += w
	}
	out := make([]float64, len(ws))
	for i, w := range ws {
		out[i] = w / total * pdfWidth(pdf)
	}
	return out
}

// pdfRow draws one table row whose cells wrap, all cells as high as the
// tallest; a row that does not fit starts a new page.
func pdfRow(pdf *fpdf.Fpdf, widths []float64, cells []string, header bool) {
	const lh = 3.4
	lines := make([][]string, len(widths))
	n := 1
	for i := range widths {
		txt := ""
		if i < len(cells) {
			txt = cells[i]
		}
		lines[i] = pdf.SplitText(txt, widths[i]-1.5)
		if len(lines[i]) == 0 {
			lines[i] = []string{""}
		}
		n = max(n, len(lines[i]))
	}
	h := float64(n)*lh + 1
	if pdf.GetY()+h > 297-16 {
		pdf.AddPage()
	}
	x0, y0 := pdf.GetX(), pdf.GetY()
	x := x0
	for i, w := range widths {
		pdf.Rect(x, y0, w, h, map[bool]string{true: "FD", false: "D"}[header])
		txt := strings.Join(lines[i], "\n")
		if i < len(cells) {
			switch cells[i] {
			case "FAIL":
				pdf.SetTextColor(180, 0, 0)
			case Attention:
				pdf.SetTextColor(170, 95, 0)
			case Pass, "OK":
				pdf.SetTextColor(0, 120, 40)
			}
		}
		pdf.SetXY(x+0.5, y0+0.5)
		pdf.MultiCell(w-1, lh, txt, "", "L", false)
		pdf.SetTextColor(0, 0, 0)
		x += w
	}
	pdf.SetXY(x0, y0+h)
}

func pdfSignatureBlock(pdf *fpdf.Fpdf, r *Report, f *display.Formatter) {
	if pdf.GetY() > 297-70 {
		pdf.AddPage()
	}
	pdfHeading(pdf, "Signatures")
	widths := []float64{55, 25, 45, pdfWidth(pdf) - 125}
	pdf.SetFont(pdfFont, "B", 8)
	pdf.SetFillColor(230, 230, 230)
	pdfRow(pdf, widths, []string{"Printed name", "Meaning", "Date and time", "Signature"}, true)
	pdf.SetFont(pdfFont, "", 8)
	for _, s := range signatureRows(r, f) {
		if s[0] == "" {
			s = []string{"\n\n", s[1], "", s[3]}
		}
		pdfRow(pdf, widths, s, false)
	}
	pdf.SetFont(pdfFont, "", 7)
	pdf.MultiCell(0, 3.5, "Every meaning of reports.signatures.required is shown, signed or pending; sign with linewatch report sign FILE --meaning "+strings.Join(Meanings, "|")+".", "", "L", false)
}

// pdfSummary draws the exception summary: one verdict per line, coloured.
func pdfSummary(pdf *fpdf.Fpdf, vs []Verdict) {
	pdf.Ln(2)
	pdfHeading(pdf, "Exception summary")
	widths := []float64{34, 24, pdfWidth(pdf) - 58}
	pdf.SetFont(pdfFont, "B", 8.5)
	pdf.SetFillColor(230, 230, 230)
	pdfRow(pdf, widths, []string{"Check", "Verdict", "Figure"}, true)
	for _, v := range vs {
		pdf.SetFont(pdfFont, "", 8.5)
		pdfRow(pdf, widths, []string{v.Check, v.Status, v.Figure}, false)
	}
}
