package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

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
	file    string
	url     string
	dataDir string // without -c: where nats-auth/ is (the demo's --data-dir)
	// role is the least NATS role the command needs (default operator).
	role bus.Role
}

func (n *natsTarget) flags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&n.file, "config", "c", "", "config file (NATS address, credentials, TLS, alarm settings)")
	cmd.Flags().StringVar(&n.url, "nats", "", "NATS URL (default: the config's, else nats://"+config.DefaultNATSListen+")")
	cmd.Flags().StringVar(&n.dataDir, "data-dir", config.DefaultDataDir, "without -c: the data_dir whose nats-auth/ holds the NATS credentials (e.g. the demo's)")
}

// connect opens NATS the way the config says; cfg is nil without -c.
// The caller closes the connection.
func (n *natsTarget) connect(ctx context.Context) (*nats.Conn, jetstream.JetStream, *config.Config, error) {
	var cfg *config.Config
	nc := config.NATS{}
	url := n.url
	role := n.role
	if role == "" {
		role = bus.RoleOperator
	}
	if n.file == "" {
		// No config: the credential of a data_dir on this machine, if any.
		if p := bus.SeedFile(bus.CredentialsDir(n.dataDir), role); fileExists(p) {
			nc.NKeyFile = p
		}
	} else {
		c, err := config.Load(n.file)
		if err != nil {
			return nil, nil, nil, withCode(ExitFailure, fmt.Errorf("%w\n(run `linewatch config check -c %s` for the full list)", err, n.file))
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
			hint = "pass -c FILE (or --data-dir DIR): the command reads its NATS credential from <data_dir>/nats-auth"
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

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
