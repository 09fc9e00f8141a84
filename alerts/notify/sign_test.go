package notify_test

import (
	"testing"

	"github.com/linewatch/linewatch/alerts/notify"
)

// RFC 4231, test case 2 (HMAC-SHA-256).
func TestSignRFC4231(t *testing.T) {
	got := notify.Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if !notify.Verify([]byte("Jefe"), []byte("what do ya want for nothing?"), want) {
		t.Error("Verify rejects a valid signature")
	}
	if notify.Verify([]byte("Jefe"), []byte("what do ya want for nothing!"), want) {
		t.Error("Verify accepts a signature of another body")
	}
}
