package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/linewatch/linewatch/alerts"
)

// sessionFile is where logins are kept: $LINEWATCH_SESSION_FILE, else
// <user config dir>/linewatch/sessions.json (0600, directory 0700).
func sessionFile() (string, error) {
	if p := os.Getenv("LINEWATCH_SESSION_FILE"); p != "" {
		return p, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no place to keep your login (%v): set LINEWATCH_SESSION_FILE", err)
	}
	return filepath.Join(d, "linewatch", "sessions.json"), nil
}

// serverKey names a NATS server in the sessions file (no credentials), so
// a token is only ever sent to the server that issued it.
func serverKey(nc *nats.Conn) string {
	u, err := url.Parse(nc.ConnectedUrl())
	if err != nil {
		return nc.ConnectedUrl()
	}
	u.User = nil
	return u.String()
}

func loadSessions() (map[string]alerts.ClientSession, string, error) {
	path, err := sessionFile()
	if err != nil {
		return nil, "", err
	}
	m := map[string]alerts.ClientSession{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("login file: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, path, fmt.Errorf("login file %s: %w (remove it and log in again)", path, err)
	}
	return m, path, nil
}

func saveSession(server string, cs *alerts.ClientSession) error {
	m, path, err := loadSessions()
	if err != nil {
		return err
	}
	if cs == nil {
		delete(m, server)
	} else {
		m[server] = *cs
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("login file: %w", err)
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("login file: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("login file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("login file: %w", err)
	}
	return nil
}

func cliClient() string {
	host, _ := os.Hostname()
	who := ""
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	return "cli " + host + "/" + who
}

// login asks for the password and logs in at the alarm service.
func login(ctx context.Context, cmd *cobra.Command, nc *nats.Conn, name, pwFile, pwEnv string) (alerts.ClientSession, error) {
	pw, err := readSecret(cmd, pwFile, pwEnv, "password for "+name+": ")
	if err != nil {
		return alerts.ClientSession{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cs, rep, err := alerts.Login(rctx, nc, name, pw, cliClient())
	if err != nil {
		return cs, withCode(ExitFailure, fmt.Errorf("login: %w", err))
	}
	if !rep.OK {
		return cs, withCode(ExitFailure, fmt.Errorf("login refused (%s): %s", rep.Code, rep.Message))
	}
	if err := saveSession(serverKey(nc), &cs); err != nil {
		return cs, withCode(ExitFailure, err)
	}
	return cs, nil
}

// session returns a usable login for name at nc's server: the stored one
// (renewed when it expires within 10 min), else a new login when a
// terminal can ask for the password.
func session(ctx context.Context, cmd *cobra.Command, nc *nats.Conn, name string) (alerts.ClientSession, error) {
	m, _, err := loadSessions()
	if err != nil {
		return alerts.ClientSession{}, withCode(ExitFailure, err)
	}
	cs, ok := m[serverKey(nc)]
	now := time.Now()
	if ok && cs.User == name && now.Before(cs.Expires) {
		if cs.Expires.Sub(now) > 10*time.Minute {
			return cs, nil
		}
		if rep, err := cs.Refresh(ctx, nc); err == nil && rep.OK {
			_ = saveSession(serverKey(nc), &cs)
			return cs, nil
		}
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return cs, withCode(ExitFailure, fmt.Errorf("not logged in as %s at %s (or the login ended): run `linewatch login --operator %s` first", name, serverKey(nc), name))
	}
	return login(ctx, cmd, nc, name, "", "")
}

func newLoginCmd() *cobra.Command {
	var (
		target        natsTarget
		name          string
		pwFile, pwEnv string
	)
	cmd := &cobra.Command{
		Use:   "login [--operator NAME]",
		Short: "Log in at the alarm service (password from the terminal, without echo)",
		Long: `Log in at the alarm service with your user of the users file
(console.users_file). The token is kept 0600 in $LINEWATCH_SESSION_FILE or
<your config dir>/linewatch/sessions.json, with a key that signs each
command; it lasts an hour and is renewed by use for up to 12 hours.
The user: --operator, else $LINEWATCH_OPERATOR, else your OS user.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			who, err := operatorIdentity(name)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			nc, _, cfg, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			cs, err := login(ctx, cmd, nc, who, pwFile, pwEnv)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged in as %s (%s) until %s\n", cs.User, cs.Role, formatterOf(cfg).Time(cs.Expires))
			return nil
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&name, "operator", "", "user to log in as (default $LINEWATCH_OPERATOR or the OS user)")
	cmd.Flags().StringVar(&pwFile, "password-file", "", "read the password from this file (automation)")
	cmd.Flags().StringVar(&pwEnv, "password-env", "", "read the password from this environment variable (automation)")
	return cmd
}

func newLogoutCmd() *cobra.Command {
	var target natsTarget
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "End your login at the alarm service and forget the token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, _, _, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			m, _, err := loadSessions()
			if err != nil {
				return withCode(ExitFailure, err)
			}
			cs, ok := m[serverKey(nc)]
			if !ok {
				fmt.Fprintln(cmd.OutOrStdout(), "not logged in at", serverKey(nc))
				return nil
			}
			rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			rep, err := cs.Logout(rctx, nc)
			if serr := saveSession(serverKey(nc), nil); serr != nil {
				return withCode(ExitFailure, serr)
			}
			if err != nil || !rep.OK {
				fmt.Fprintf(cmd.ErrOrStderr(), "token forgotten here; the alarm service did not confirm the logout (%v %s), it expires by itself\n", err, rep.Message)
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), "logged out", cs.User)
			return nil
		},
	}
	target.flags(cmd)
	return cmd
}
