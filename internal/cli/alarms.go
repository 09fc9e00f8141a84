package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
)

// operatorIdentity is --operator, else $LINEWATCH_OPERATOR, else the OS
// user: whom to log in as (commands carry that login's token).
func operatorIdentity(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if v := os.Getenv("LINEWATCH_OPERATOR"); v != "" {
		return v, nil
	}
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return "", usageError{errors.New("cannot tell who you are: pass --operator NAME or set LINEWATCH_OPERATOR")}
	}
	return u.Username, nil
}

func newAlarmsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alarms",
		Short: "List, watch, acknowledge and shelve alarms",
		Long: `Work with ISA-18.2 alarms over NATS: list the current state, watch
transitions live, acknowledge, shelve (for a time, with a reason), unshelve,
comment, reset latched alarms, and compute the alarm-system KPIs.
Commands carry the token of your login (` + "`linewatch login`" + `; asked for on a
terminal when missing); your role is the users file's. They are recorded in
the audit trail. The user: --operator, else $LINEWATCH_OPERATOR, else your
OS user.`,
	}
	cmd.AddCommand(newAlarmsListCmd(), newAlarmsWatchCmd(), newAlarmsKPICmd())
	for _, v := range []struct{ verb, use, short string }{
		{alerts.VerbAck, "ack ID", "Acknowledge an alarm"},
		{alerts.VerbShelve, "shelve ID --for 30m --reason TEXT", "Shelve an alarm for a limited time (reason required)"},
		{alerts.VerbUnshelve, "unshelve ID", "Return a shelved alarm to service"},
		{alerts.VerbComment, "comment ID --text TEXT", "Add a comment to an alarm"},
		{alerts.VerbReset, "reset ID", "Reset a latched alarm"},
		{alerts.VerbOutOfService, "out-of-service ID --reason TEXT", "Take an alarm out of service (supervisors)"},
		{alerts.VerbReturnToService, "return-to-service ID", "Return an out-of-service alarm (supervisors)"},
	} {
		cmd.AddCommand(newAlarmsVerbCmd(v.verb, v.use, v.short))
	}
	return cmd
}

func newAlarmsVerbCmd(verb, use, short string) *cobra.Command {
	var (
		target           natsTarget
		operator, reason string
		text             string
		dur              time.Duration
		timeout          time.Duration
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			who, err := operatorIdentity(operator)
			if err != nil {
				return err
			}
			c := alerts.Command{Alarm: args[0], Reason: reason}
			switch verb {
			case alerts.VerbShelve:
				if dur <= 0 {
					return usageError{errors.New("shelve: --for DURATION required (e.g. --for 30m)")}
				}
				c.Duration = dur.String()
			case alerts.VerbComment:
				if text == "" {
					return usageError{errors.New("comment: --text required")}
				}
				c.Comment = text
			}
			ctx := cmd.Context()
			nc, _, _, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			cs, err := session(ctx, cmd, nc, who)
			if err != nil {
				return err
			}
			rctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			rep, err := cs.Send(rctx, nc, verb, c)
			if err != nil {
				return withCode(ExitFailure, fmt.Errorf("%s %s: no answer from an alerts worker on %s: %w", verb, args[0], bus.CmdSubject(verb), err))
			}
			if !rep.OK {
				return withCode(ExitFailure, fmt.Errorf("%s refused (%s): %s", verb, rep.Code, rep.Message))
			}
			fmt.Fprintln(cmd.OutOrStdout(), rep.Message)
			return nil
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&operator, "operator", "", "whose login to use (default $LINEWATCH_OPERATOR or the OS user); see linewatch login")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required for shelve and out-of-service)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the answer")
	switch verb {
	case alerts.VerbShelve:
		cmd.Flags().DurationVar(&dur, "for", 0, "shelve duration, e.g. 30m (at most alarms.shelve_max)")
	case alerts.VerbComment:
		cmd.Flags().StringVar(&text, "text", "", "the comment")
	}
	return cmd
}

func newAlarmsListCmd() *cobra.Command {
	var (
		target      natsTarget
		line, state string
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "list [--line L] [--state S]",
		Short: "List alarms and their current state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, js, _, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			all, err := alerts.NewReader(js).List(ctx)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			var out []alerts.Alarm
			for _, a := range all {
				if (line == "" || a.Line == line) && (state == "" || string(a.State) == state) {
					out = append(out, a)
				}
			}
			slices.SortFunc(out, func(a, b alerts.Alarm) int { return strings.Compare(a.ID, b.ID) })
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tPRIORITY\tACTIVE\tVALUE\tLIMIT\tSINCE\tBY\tMESSAGE")
			for _, a := range out {
				since, by := a.ActivatedAt, a.AckedBy
				if a.State == alerts.Shelved {
					since, by = a.ShelvedUntil, a.ShelvedBy
				}
				s := ""
				if !since.IsZero() {
					s = since.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%g\t%g\t%s\t%s\t%s\n", a.ID, a.State, a.Priority, a.Active, a.Value, a.Limit, s, by, a.Message)
			}
			return tw.Flush()
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&line, "line", "", "only this line")
	cmd.Flags().StringVar(&state, "state", "", "only this state (normal, unacknowledged, acknowledged, rtn_unack, latched, shelved, suppressed, out_of_service)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

var priorityColour = map[alerts.Priority]string{
	alerts.Low: "\x1b[36m", alerts.Medium: "\x1b[33m", alerts.High: "\x1b[31m", alerts.Urgent: "\x1b[1;97;41m",
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// formatTransition is one line of `alarms watch`.
func formatTransition(t alerts.Transition, colour bool) string {
	p := string(t.Alarm.Priority)
	if colour {
		p = priorityColour[t.Alarm.Priority] + p + "\x1b[0m"
	}
	s := fmt.Sprintf("%s %-7s %-16s %s → %s  %s", t.Time.UTC().Format(time.RFC3339), p, t.Event, t.From, t.To, t.Alarm.ID)
	if t.By != "" {
		s += "  by " + t.By
	}
	if t.Reason != "" {
		s += fmt.Sprintf(" (%s)", t.Reason)
	}
	if t.Alarm.Message != "" && (t.Event == alerts.EvActivate || t.Event == alerts.EvFloodStart || t.Event == alerts.EvFloodEnd) {
		s += "  " + t.Alarm.Message
	}
	return s
}

func newAlarmsWatchCmd() *cobra.Command {
	var (
		target natsTarget
		line   string
	)
	cmd := &cobra.Command{
		Use:   "watch [--line L]",
		Short: "Show alarm transitions live (colours by priority on a terminal)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, js, _, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			// Through a JetStream consumer: the operator role may read
			// ALARMS but not subscribe to its subjects.
			out := cmd.OutOrStdout()
			colour := isTerminal(out)
			what := "every line"
			if line != "" {
				what = "line " + line
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "watching alarm transitions of %s (Ctrl-C to stop)\n", what)
			err = alerts.NewReader(js).Follow(ctx, alerts.TransitionQuery{Line: line}, func(t alerts.Transition, err error) {
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
					return
				}
				fmt.Fprintln(out, formatTransition(t, colour))
			})
			if err != nil {
				return withCode(ExitFailure, err)
			}
			return nil
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&line, "line", "", "only this line")
	return cmd
}

// parseSince accepts a duration back from now ("24h") or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("--since %q: want a duration (24h) or an RFC 3339 time", s)}
	}
	return t.UTC(), nil
}

func newAlarmsKPICmd() *cobra.Command {
	var (
		target natsTarget
		since  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "kpi [--since 24h]",
		Short: "Alarm-system KPIs (ISA-18.2 / EEMUA 191) from the ALARMS stream",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now().UTC()
			from, err := parseSince(since, now)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			nc, js, cfg, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			rd := alerts.NewReader(js)
			trs, err := rd.Transitions(ctx, alerts.TransitionQuery{Since: from})
			if err != nil {
				return withCode(ExitFailure, err)
			}
			current, err := rd.List(ctx)
			if err != nil && !errors.Is(err, alerts.ErrNoAlarmState) {
				return withCode(ExitFailure, err)
			}
			o := alerts.KPIOptions{Since: from, Until: now, FloodThreshold: config.DefaultFloodThreshold,
				ChatterCount: config.DefaultChatterCount, ChatterWindow: config.DefaultChatterWindow}
			if cfg != nil {
				o.ChatterCount, o.ChatterWindow = cfg.Alarms.Chatter.Count, cfg.Alarms.Chatter.Window
			}
			k := alerts.ComputeKPI(trs, current, o)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(k)
			}
			return alerts.WriteKPI(cmd.OutOrStdout(), k)
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&since, "since", "24h", "period start: a duration back from now or an RFC 3339 time")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
