package simulator

// The gopcua v0.9.0 server package does not check user credentials and has
// no way to drop client connections. Doing both needs three unexported
// fields. They are reached here, in one place, by name and type: if a gopcua
// upgrade renames them, Start fails with a clear error (and the tests
// catch it) instead of misbehaving.

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
	"github.com/gopcua/opcua/uasc"
)

// fieldPtr returns a pointer to the named field of *structPtr, checking its type.
func fieldPtr[T any](v reflect.Value, name string) (*T, error) {
	f := v.FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[T]() || !f.CanAddr() {
		return nil, fmt.Errorf("gopcua internals changed: %s.%s is not a %s (simulator needs gopcua v0.9.0)", v.Type(), name, reflect.TypeFor[T]())
	}
	return (*T)(unsafe.Pointer(f.UnsafeAddr())), nil
}

// newSessionService builds gopcua's own session service bound to srv so our
// ActivateSession can check the identity token and then delegate.
func newSessionService(srv *server.Server) (*server.SessionService, error) {
	ss := &server.SessionService{}
	p, err := fieldPtr[*server.Server](reflect.ValueOf(ss).Elem(), "srv")
	if err != nil {
		return nil, err
	}
	*p = srv
	return ss, nil
}

// sessionNonce returns the nonce the server sent the client in
// CreateSession, which the client appends to an encrypted password.
func sessionNonce(srv *server.Server, hdr *ua.RequestHeader) ([]byte, bool) {
	sess := srv.Session(hdr)
	if sess == nil {
		return nil, false
	}
	f := reflect.ValueOf(sess).Elem().FieldByName("serverNonce")
	if !f.IsValid() || f.Kind() != reflect.Slice {
		return nil, false
	}
	return append([]byte(nil), f.Bytes()...), true
}

// channelSockets returns the client sockets of srv's open secure channels.
func channelSockets(srv *server.Server) ([]*uacp.Conn, error) {
	cbField := reflect.ValueOf(srv).Elem().FieldByName("cb")
	if !cbField.IsValid() || cbField.Kind() != reflect.Pointer || cbField.IsNil() {
		return nil, fmt.Errorf("gopcua internals changed: server.Server.cb not found (simulator needs gopcua v0.9.0)")
	}
	cb := cbField.Elem()
	mu, err := fieldPtr[sync.RWMutex](cb, "mu")
	if err != nil {
		return nil, err
	}
	chans, err := fieldPtr[map[uint32]*uasc.SecureChannel](cb, "s")
	if err != nil {
		return nil, err
	}
	mu.RLock()
	scs := make([]*uasc.SecureChannel, 0, len(*chans))
	for _, sc := range *chans {
		scs = append(scs, sc)
	}
	mu.RUnlock()
	var out []*uacp.Conn
	for _, sc := range scs {
		c, err := fieldPtr[*uacp.Conn](reflect.ValueOf(sc).Elem(), "c")
		if err != nil {
			return nil, err
		}
		if *c != nil {
			out = append(out, *c)
		}
	}
	return out, nil
}

// checkInternals fails fast when the gopcua internals we rely on are missing.
func checkInternals(srv *server.Server) error {
	if _, err := newSessionService(srv); err != nil {
		return err
	}
	if _, err := channelSockets(srv); err != nil {
		return err
	}
	return nil
}
