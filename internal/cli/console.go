package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/identity"
)

func newConsoleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "console", Short: "Manage operator console users"}
	cmd.AddCommand(newConsoleAddUserCmd())
	return cmd
}

func newConsoleAddUserCmd() *cobra.Command {
	var file, role, pwFile, pwEnv string
	cmd := &cobra.Command{
		Use:   "adduser NAME --role operator|supervisor --users-file FILE",
		Short: "Add a console user (bcrypt hash) to a users file; the password is read from the terminal",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageError{errors.New("--users-file required (the file named by console.users_file)")}
			}
			pw, err := readSecret(cmd, pwFile, pwEnv, "password for "+args[0]+": ")
			if err != nil {
				return withCode(ExitFailure, err)
			}
			line, err := identity.HashUser(args[0], role, pw)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			if b, err := os.ReadFile(file); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(l, args[0]+":") {
						return withCode(ExitFailure, fmt.Errorf("user %s already in %s: remove the line first", args[0], file))
					}
				}
			}
			f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			defer f.Close()
			if _, err := fmt.Fprintln(f, line); err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s (%s) added to %s\n", args[0], role, file)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "users-file", "", "users file (console.users_file)")
	cmd.Flags().StringVar(&role, "role", "operator", "operator, supervisor or a view-only role")
	cmd.Flags().StringVar(&pwFile, "password-file", "", "read the password from this file (automation)")
	cmd.Flags().StringVar(&pwEnv, "password-env", "", "read the password from this environment variable (automation)")
	return cmd
}

// readSecret takes a secret by reference or from the terminal, never from a flag.
func readSecret(cmd *cobra.Command, file, env, prompt string) (string, error) {
	switch {
	case file != "" || env != "":
		return config.Secret{File: file, Env: env}.Resolve()
	case term.IsTerminal(int(os.Stdin.Fd())):
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		return string(b), err
	}
	return "", errors.New("no terminal to read the password from: use --password-file or --password-env")
}
