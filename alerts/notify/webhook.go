package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
)

// Payload kinds.
const (
	KindTransition = "transition"
	KindEscalation = "escalation"
	KindFloodStart = "flood_start"
	KindFloodEnd   = "flood_end"
)

// Payload is the JSON body of a webhook notification: the transition's
// fields plus the route that matched. Flood summaries carry Flood instead
// of a transition.
type Payload struct {
	*alerts.Transition
	Kind       string        `json:"kind"`
	Route      string        `json:"route"`
	Escalation bool          `json:"escalation,omitempty"`
	Flood      *FloodSummary `json:"flood,omitempty"`
	// Text is the transition as people read it (the tag's unit and
	// decimals, the site zone), for chat integrations that show text.
	Text *Text `json:"text,omitempty"`
}

// Text is a transition's value, limit and times written for people.
type Text struct {
	Value    string `json:"value"`    // "9.73 °C"
	Limit    string `json:"limit"`    // "10.0 °C"
	Time     string `json:"time"`     // process time in the site zone
	Recorded string `json:"recorded"` // recording time in the site zone
}

// textOf writes t's value, limit and times with fm (nil: UTC, no units).
func textOf(t alerts.Transition, fm *display.Formatter) Text {
	a := t.Alarm
	return Text{Value: fm.FindingValue(a.Line, a.Machine, a.Tag, a.Detector, a.Rule, a.Value),
		Limit: fm.FindingLimit(a.Line, a.Machine, a.Tag, a.Detector, a.Rule, a.Limit),
		Time:  fm.Time(t.At()), Recorded: fm.Time(t.RecordedAt())}
}

// withText sets p.Text for a transition payload.
func withText(p Payload, fm *display.Formatter) Payload {
	if p.Transition != nil {
		t := textOf(*p.Transition, fm)
		p.Text = &t
	}
	return p
}

// FloodSummary describes an alarm flood on one line.
type FloodSummary struct {
	V      int       `json:"v"`
	Site   string    `json:"site"`
	Line   string    `json:"line"`
	Count  int       `json:"count"`  // activations in the window when the message was made
	Window string    `json:"window"` // Go duration
	Since  time.Time `json:"since"`
	Alarms []string  `json:"alarms"` // alarm ids in the window, newest last
	// Suppressed counts per-alarm notifications not sent during the flood
	// (flood_end only).
	Suppressed int `json:"suppressed,omitempty"`
}

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>".
const SignatureHeader = "X-Linewatch-Signature"

// Sign returns the X-Linewatch-Signature value of body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is a valid signature of body; receivers use it.
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(sig), []byte(Sign(secret, body)))
}

type webhookSender struct {
	cfg    *config.Webhook
	client *http.Client
}

func newWebhookSender(cfg *config.Webhook, base *http.Client) (*webhookSender, error) {
	c := base
	if c == nil {
		c = &http.Client{}
	}
	if cfg.TLS.Enabled || cfg.TLS.CAFile != "" || cfg.TLS.CertFile != "" {
		tc, err := bus.ClientTLS(cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("webhook %s TLS: %w", cfg.URL, err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		c = &http.Client{Transport: tr}
	}
	return &webhookSender{cfg: cfg, client: c}, nil
}

// send posts one payload once; the caller retries.
func (w *webhookSender) send(ctx context.Context, p Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode webhook payload: %w", err)
	}
	timeout := w.cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.cfg.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "linewatch-notify")
	if w.cfg.Secret().IsSet() {
		// Resolved per send so a rotated secret file takes effect without restart.
		secret, err := w.cfg.Secret().Resolve()
		if err != nil {
			return fmt.Errorf("webhook %s secret: %w", w.cfg.URL, err)
		}
		req.Header.Set(SignatureHeader, Sign([]byte(secret), body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.cfg.URL, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: HTTP %d: %q", w.cfg.URL, resp.StatusCode, snippet)
	}
	return nil
}
