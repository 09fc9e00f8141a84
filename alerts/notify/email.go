package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/smtp"
	"sort"
	"strings"
	"time"

	"github.com/linewatch/linewatch/sample"

	"github.com/linewatch/linewatch/config"
)

type emailSender struct {
	cfg *config.Email
	// tlsBase is cloned for STARTTLS (RootCAs from Options.EmailTLS).
	tlsBase *tls.Config
}

// send delivers one message to rcpts over SMTP.
func (e *emailSender) send(ctx context.Context, rcpts []string, subject, body string, now time.Time) error {
	if len(rcpts) == 0 {
		return nil
	}
	host, _, err := net.SplitHostPort(e.cfg.SMTP)
	if err != nil {
		return fmt.Errorf("SMTP address %q: %w", e.cfg.SMTP, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.cfg.SMTP)
	if err != nil {
		return fmt.Errorf("SMTP %s: %w", e.cfg.SMTP, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP %s greeting: %w", e.cfg.SMTP, err)
	}
	defer c.Close()
	if err := c.Hello("linewatch"); err != nil {
		return fmt.Errorf("SMTP %s EHLO: %w", e.cfg.SMTP, err)
	}
	if e.cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("SMTP %s does not offer STARTTLS but starttls is configured; fix the server or set starttls: false", e.cfg.SMTP)
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if e.tlsBase != nil {
			tc = e.tlsBase.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName = host
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("SMTP %s STARTTLS: %w", e.cfg.SMTP, err)
		}
	}
	if e.cfg.Username != "" {
		pw, err := e.cfg.Password().Resolve()
		if err != nil {
			return fmt.Errorf("SMTP %s password: %w", e.cfg.SMTP, err)
		}
		// PlainAuth refuses to send the password without TLS except to localhost.
		if err := c.Auth(smtp.PlainAuth("", e.cfg.Username, pw, host)); err != nil {
			return fmt.Errorf("SMTP %s AUTH as %s: %w", e.cfg.SMTP, e.cfg.Username, err)
		}
	}
	if err := c.Mail(e.cfg.From); err != nil {
		return fmt.Errorf("SMTP %s MAIL FROM %s: %w", e.cfg.SMTP, e.cfg.From, err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("SMTP %s RCPT TO %s: %w", e.cfg.SMTP, r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP %s DATA: %w", e.cfg.SMTP, err)
	}
	if _, err := w.Write(buildMessage(e.cfg.From, rcpts, subject, body, now)); err != nil {
		return fmt.Errorf("SMTP %s message: %w", e.cfg.SMTP, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP %s end of DATA: %w", e.cfg.SMTP, err)
	}
	return c.Quit()
}

// headerSafe strips CR and LF so alarm text cannot inject headers.
func headerSafe(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

func buildMessage(from string, to []string, subject, body string, now time.Time) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	fmt.Fprintf(&b, "From: %s\r\n", headerSafe(from))
	fmt.Fprintf(&b, "To: %s\r\n", headerSafe(strings.Join(to, ", ")))
	fmt.Fprintf(&b, "Subject: %s\r\n", headerSafe(subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@linewatch>\r\n", hex.EncodeToString(id))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// emailText renders a payload as subject and plain-text body.
func emailText(p Payload) (subject, body string) {
	var b strings.Builder
	switch {
	case p.Flood != nil:
		f := p.Flood
		if p.Kind == KindFloodEnd {
			subject = fmt.Sprintf("[linewatch] alarm flood ended on %s/%s", f.Site, f.Line)
		} else {
			subject = fmt.Sprintf("[linewatch] ALARM FLOOD on %s/%s: %d activations in %s", f.Site, f.Line, f.Count, f.Window)
		}
		fmt.Fprintf(&b, "Line: %s/%s\nActivations in window: %d (window %s)\nSince: %s\n", f.Site, f.Line, f.Count, f.Window, f.Since.UTC().Format(time.RFC3339))
		if f.Suppressed > 0 {
			fmt.Fprintf(&b, "Per-alarm notifications suppressed during the flood: %d\n", f.Suppressed)
		}
		ids := append([]string(nil), f.Alarms...)
		sort.Strings(ids)
		b.WriteString("Alarms:\n")
		for _, id := range ids {
			fmt.Fprintf(&b, "  %s\n", id)
		}
	case p.Transition != nil:
		a := p.Alarm
		prefix := ""
		if p.Escalation {
			prefix = "ESCALATION (unacknowledged) "
		}
		subject = fmt.Sprintf("[linewatch] %s%s %s: %s", prefix, strings.ToUpper(string(a.Priority)), a.ID, a.Message)
		fmt.Fprintf(&b, "Alarm: %s\nPriority: %s\nState: %s (event %s)\nMessage: %s\nValue: %g (limit %g)\nTime: %s\n",
			a.ID, a.Priority, a.State, p.Event, a.Message, a.Value, a.Limit, p.Time.UTC().Format(time.RFC3339))
		if a.Batch != "" {
			fmt.Fprintf(&b, "Batch: %s\n", sample.Escape(a.Batch)) // outside text, percent-encoded
		}
	}
	fmt.Fprintf(&b, "Route: %s\n", p.Route)
	return subject, b.String()
}
