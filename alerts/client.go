package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/identity"
)

// Requester sends a NATS request (*nats.Conn does).
type Requester interface {
	RequestWithContext(ctx context.Context, subj string, data []byte) (*nats.Msg, error)
}

// ClientSession is a login as a client keeps it: the token and the private
// request key it is bound to (keep both secret; the CLI stores them 0600).
type ClientSession struct {
	Token   string    `json:"token"`
	Key     string    `json:"key"`
	User    string    `json:"user"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires"`
}

// ErrNoAlarmService: nobody answers on the command subjects.
var ErrNoAlarmService = errors.New("the alarm service is not running (no responders); nothing was changed")

func request(ctx context.Context, nc Requester, subj string, body, reply any) error {
	data, _ := json.Marshal(body)
	m, err := nc.RequestWithContext(ctx, subj, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%s: %w", subj, ErrNoAlarmService)
	case err != nil:
		return fmt.Errorf("request on %s: %w", subj, err)
	}
	if err := json.Unmarshal(m.Data, reply); err != nil {
		return fmt.Errorf("unreadable reply on %s: %w", subj, err)
	}
	return nil
}

// Login asks the alarm service for a token. A refusal is a reply with
// OK false (and no error); err is for transport failures.
func Login(ctx context.Context, nc Requester, user, password, client string) (ClientSession, AuthReply, error) {
	key := identity.NewRequestKey()
	var rep AuthReply
	err := request(ctx, nc, bus.AuthSubject(bus.AuthLogin),
		LoginRequest{V: AuthVersion, User: user, Password: password, Key: key.Public(), Client: client}, &rep)
	if err != nil || !rep.OK {
		return ClientSession{}, rep, err
	}
	return ClientSession{Token: rep.Token, Key: key.String(), User: rep.User, Role: rep.Role, Expires: rep.Expires}, rep, nil
}

func (cs ClientSession) key() (identity.RequestKey, error) { return identity.ParseRequestKey(cs.Key) }

// Refresh renews the token (the old one stops working).
func (cs *ClientSession) Refresh(ctx context.Context, nc Requester) (AuthReply, error) {
	k, err := cs.key()
	if err != nil {
		return AuthReply{}, err
	}
	var rep AuthReply
	req := AuthRequest{V: AuthVersion, Request: identity.Sign(cs.Token, k, "auth."+bus.AuthRefresh)}
	if err := request(ctx, nc, bus.AuthSubject(bus.AuthRefresh), req, &rep); err != nil || !rep.OK {
		return rep, err
	}
	cs.Token, cs.Role, cs.Expires = rep.Token, rep.Role, rep.Expires
	return rep, nil
}

// Logout ends the token.
func (cs ClientSession) Logout(ctx context.Context, nc Requester) (AuthReply, error) {
	k, err := cs.key()
	if err != nil {
		return AuthReply{}, err
	}
	var rep AuthReply
	req := AuthRequest{V: AuthVersion, Request: identity.Sign(cs.Token, k, "auth."+bus.AuthLogout)}
	err = request(ctx, nc, bus.AuthSubject(bus.AuthLogout), req, &rep)
	return rep, err
}

// Send signs c for verb with the session and sends it.
func (cs ClientSession) Send(ctx context.Context, nc Requester, verb string, c Command) (Reply, error) {
	k, err := cs.key()
	if err != nil {
		return Reply{}, err
	}
	var rep Reply
	err = request(ctx, nc, bus.CmdSubject(verb), c.Sign(verb, cs.Token, k), &rep)
	return rep, err
}
