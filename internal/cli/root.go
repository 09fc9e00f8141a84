package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the command ran and found a problem (bad config, verification failed, …)
	ExitUsage    = 2 // wrong flags or arguments
	ExitNotReady = 3 // the command exists but is not implemented yet
)

// exitError carries a specific exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that Main exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// notImplemented is returned by commands whose issue has not landed yet, so
// that no command pretends to work.
func notImplemented(cmd, issue string) error {
	return withCode(ExitNotReady, fmt.Errorf("%s is not implemented yet (tracked in %s)", cmd, issue))
}

// Main runs the command tree with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	argsAreUsage(root)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "linewatch:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsageError(err) {
		return ExitUsage
	}
	return ExitFailure
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "linewatch",
		Short: "Monitor pharmaceutical manufacturing lines: OPC UA → InfluxDB, spoilage and drift analytics, alarms on NATS, signed QA reports",
		Long: `linewatch polls plant machines over OPC UA into InfluxDB, detects product
spoilage (temperature and humidity excursions, cold-chain breaks, stability
budget used up) and waste drift (reject rate creep, yield loss, fill-weight
drift), raises ISA-18.2 alarms on NATS and exports signed QA batch reports.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newRunCmd(),
		newDemoCmd(),
		newSimulateCmd(),
		newBrowseCmd(),
		newConfigCmd(),
		newAnalyzeCmd(),
		newAnalyticsCmd(),
		newAlarmsCmd(),
		newLoginCmd(),
		newLogoutCmd(),
		newDashboardsCmd(),
		newReportCmd(),
		newBatchesCmd(),
		newAuditCmd(),
		newKeysCmd(),
		newPKICmd(),
		newConsoleCmd(),
		newVersionCmd(),
	)
	return root
}

// argsAreUsage makes every command's argument check report a usage error
// (exit 2), as flag errors do.
func argsAreUsage(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			if err != nil && !isUsageError(err) {
				return usageError{err}
			}
			return err
		}
	}
	for _, sub := range c.Commands() {
		argsAreUsage(sub)
	}
}

// usageError marks flag and argument mistakes.
type usageError struct{ error }

func isUsageError(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}
