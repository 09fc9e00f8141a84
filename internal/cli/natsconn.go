package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
)

// natsTarget is the -c FILE / --nats URL pair of every command that talks
// to a running linewatch over NATS (alarms, report, audit). It is the one
// place where the CLI connects, so authentication and TLS (bus.Connect,
// from the config's nats section) cannot differ between commands.
//
// With -c, the command connects with its role's credential: the config's
// own NATS credentials if it names any, else <data_dir>/nats-auth/<role>.nk
// written by the embedded server (bus.ForRole).
type natsTarget struct {
	file string
	url  string
	// role is the least NATS role the command needs (default operator).
	role bus.Role
}

func (n *natsTarget) flags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&n.file, "config", "c", "", "config file (NATS address, credentials, TLS, alarm settings)")
	cmd.Flags().StringVar(&n.url, "nats", "", "NATS URL (default: the config's, else nats://"+config.DefaultNATSListen+")")
}

// connect opens NATS the way the config says; cfg is nil without -c.
// The caller closes the connection.
func (n *natsTarget) connect(ctx context.Context) (*nats.Conn, jetstream.JetStream, *config.Config, error) {
	var cfg *config.Config
	nc := config.NATS{}
	url := n.url
	if n.file != "" {
		c, err := config.Load(n.file)
		if err != nil {
			return nil, nil, nil, withCode(ExitFailure, fmt.Errorf("%w\n(run `linewatch config check -c %s` for the full list)", err, n.file))
		}
		role := n.role
		if role == "" {
			role = bus.RoleOperator
		}
		rc, err := bus.ForRole(c, role)
		if err != nil {
			return nil, nil, nil, withCode(ExitFailure, err)
		}
		cfg, nc = c, rc
		if url == "" && c.NATS.URL == "" {
			url = "nats://" + c.NATS.Embedded.Listen
		}
	}
	if url == "" && nc.URL == "" {
		url = "nats://" + config.DefaultNATSListen
	}
	conn, err := bus.Connect(ctx, nc, url, "linewatch-cli", nil)
	if err != nil {
		hint := "is linewatch running? pass -c FILE or --nats URL"
		if errors.Is(err, nats.ErrAuthorization) && n.file == "" {
			hint = "pass -c FILE: the command reads its NATS credential from the config's data_dir"
		}
		return nil, nil, nil, withCode(ExitFailure, fmt.Errorf("%w (%s)", err, hint))
	}
	js, err := jetstream.New(conn)
	if err != nil {
		conn.Close()
		return nil, nil, nil, withCode(ExitFailure, fmt.Errorf("JetStream on %s: %w", conn.ConnectedUrl(), err))
	}
	return conn, js, cfg, nil
}
