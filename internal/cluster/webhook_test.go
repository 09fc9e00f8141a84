package cluster_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// atomicList keeps the webhook bodies received.
type atomicList struct {
	mu sync.Mutex
	b  []string
}

func (l *atomicList) add(s string) { l.mu.Lock(); l.b = append(l.b, s); l.mu.Unlock() }
func (l *atomicList) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.b...)
}

// webhookServer records every POST body and answers 200.
func webhookServer(t *testing.T, l *atomicList) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		l.add(string(b))
	}))
	t.Cleanup(s.Close)
	return s.URL
}
