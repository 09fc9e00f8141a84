package reports

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/linewatch/linewatch/analytics/detect"
)

func newRollingMKT(window time.Duration, limit, activation float64) (*detect.RollingMKT, error) {
	return detect.NewRollingMKT(detect.MKTParams{Window: window, Limit: limit, Activation: activation})
}

func newTOR(r *detect.TORParams) (*detect.TOR, error) {
	return detect.NewTOR(detect.TORParams{Low: r.Low, High: r.High, Budget: r.Budget, FreezeSensitive: r.FreezeSensitive})
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fmtNum formats a number for people: fixed decimals, "—" when undefined.
func fmtNum(n Num, decimals int) string {
	if !n.Defined() {
		return "—"
	}
	return strconv.FormatFloat(float64(n), 'f', decimals, 64)
}

// fmtG formats a number compactly, "—" when undefined.
func fmtG(n Num) string {
	if !n.Defined() {
		return "—"
	}
	return strconv.FormatFloat(float64(n), 'g', 6, 64)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}
