package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
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
			msg, err := sendAlarmCommand(ctx, cmd, nc, who, verb, c, timeout)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
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

// sendAlarmCommand sends one signed command with the login of who and
// returns the service's answer; a refusal is an error naming its code.
func sendAlarmCommand(ctx context.Context, cmd *cobra.Command, nc *nats.Conn, who, verb string, c alerts.Command, timeout time.Duration) (string, error) {
	cs, err := session(ctx, cmd, nc, who)
	if err != nil {
		return "", err
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rep, err := cs.Send(rctx, nc, verb, c)
	if err != nil {
		return "", withCode(ExitFailure, fmt.Errorf("%s %s: no answer from an alerts worker on %s: %w", verb, c.Alarm, bus.CmdSubject(verb), err))
	}
	if !rep.OK {
		return "", withCode(ExitFailure, fmt.Errorf("%s refused (%s): %s", verb, rep.Code, rep.Message))
	}
	return rep.Message, nil
}

// formatterOf is the Formatter of cfg; without a config (--nats alone)
// values have two decimals and no unit, times are UTC.
func formatterOf(cfg *config.Config) *display.Formatter {
	if cfg == nil {
		return nil
	}
	return display.MustNew(cfg)
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
			nc, js, cfg, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			f := formatterOf(cfg)
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
			return writeAlarmTable(cmd.OutOrStdout(), out, f)
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&line, "line", "", "only this line")
	cmd.Flags().StringVar(&state, "state", "", "only this state (normal, unacknowledged, acknowledged, rtn_unack, latched, shelved, suppressed, out_of_service)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// writeAlarmTable writes alarms as a table: values with the tag's unit
// and decimals, times in the site zone (SINCE is the activation, or for a
// shelved alarm the end of the shelve).
func writeAlarmTable(w io.Writer, out []alerts.Alarm, f *display.Formatter) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPRIORITY\tACTIVE\tVALUE\tLIMIT\tSINCE\tBY\tMESSAGE")
	for _, a := range out {
		since, by := a.ActivatedAt, a.AckedBy
		if a.State == alerts.Shelved {
			since, by = a.ShelvedUntil, a.ShelvedBy
		}
		s := ""
		if !since.IsZero() {
			s = f.Time(since)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.State, a.Priority, a.Active,
			f.FindingValue(a.Line, a.Machine, a.Tag, a.Detector, a.Rule, a.Value), f.FindingLimit(a.Line, a.Machine, a.Tag, a.Detector, a.Rule, a.Limit), s, by, a.Message)
	}
	return tw.Flush()
}

var priorityColour = map[alerts.Priority]string{
	alerts.Low: "\x1b[36m", alerts.Medium: "\x1b[33m", alerts.High: "\x1b[31m", alerts.Urgent: "\x1b[1;97;41m",
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// formatTransition is one line of `alarms watch`: the process time in the
// site zone, and for an activation the value and limit with the tag's unit.
func formatTransition(t alerts.Transition, colour bool, f *display.Formatter) string {
	p := string(t.Alarm.Priority)
	if colour {
		p = priorityColour[t.Alarm.Priority] + p + "\x1b[0m"
	}
	a := t.Alarm
	s := fmt.Sprintf("%s %-7s %-16s %s → %s  %s", f.Time(t.At()), p, t.Event, t.From, t.To, a.ID)
	if t.Event == alerts.EvActivate || t.Event == alerts.EvClear {
		s += fmt.Sprintf("  %s (limit %s)", f.FindingValue(a.Line, a.Machine, a.Tag, a.Detector, a.Rule, a.Value),
			f.FindingLimit(a.Line, a.Machine, a.Tag, a.Detector, a.Rule, a.Limit))
	}
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
		target   natsTarget
		line     string
		operator string
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "watch [--line L]",
		Short: "Show the current alarms, then transitions live; ack and shelve from the keyboard",
		Long: `Print the alarms that need attention now (active, unacknowledged,
latched or shelved), then every transition as it happens (colours by
priority on a terminal). Commands typed on standard input are sent with
your login (linewatch login), one per line:

  ack ID [COMMENT]
  shelve ID DURATION REASON
  unshelve ID
  help`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, js, cfg, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			f := formatterOf(cfg)
			out := lockedWriter{mu: &sync.Mutex{}, w: cmd.OutOrStdout()}
			colour := isTerminal(cmd.OutOrStdout())
			rd := alerts.NewReader(js)
			// Follow from a little before the list: a transition stored
			// while the list is read is shown (perhaps twice), never lost.
			followFrom := time.Now().Add(-2 * time.Second)
			current, err := rd.List(ctx)
			if err != nil && !errors.Is(err, alerts.ErrNoAlarmState) {
				return withCode(ExitFailure, err)
			}
			writeCurrent(out, current, line, f)
			what := "every line"
			if line != "" {
				what = "line " + line
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "watching alarm transitions of %s (Ctrl-C to stop; type help for commands)\n", what)
			go watchCommands(ctx, cmd, out, func(verb string, c alerts.Command) (string, error) {
				who, err := operatorIdentity(operator)
				if err != nil {
					return "", err
				}
				return sendAlarmCommand(ctx, cmd, nc, who, verb, c, timeout)
			})
			// Through a JetStream consumer: the operator role may read
			// ALARMS but not subscribe to its subjects.
			err = rd.Follow(ctx, alerts.TransitionQuery{Line: line, Since: followFrom}, func(t alerts.Transition, err error) {
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
					return
				}
				out.println(formatTransition(t, colour, f))
			})
			if err != nil {
				return withCode(ExitFailure, err)
			}
			return nil
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&line, "line", "", "only this line")
	cmd.Flags().StringVar(&operator, "operator", "", "whose login sends typed commands (default $LINEWATCH_OPERATOR or the OS user)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for a command's answer")
	return cmd
}

// lockedWriter serialises the lines of the feed and of command answers.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) println(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, s)
}

// needsAttention: the states an operator must see in the current list.
var needsAttention = map[alerts.State]bool{alerts.Unacknowledged: true, alerts.Acknowledged: true,
	alerts.RTNUnack: true, alerts.Latched: true, alerts.Shelved: true}

// writeCurrent writes the alarms that need attention now, most urgent
// first, then the oldest.
func writeCurrent(out lockedWriter, all []alerts.Alarm, line string, f *display.Formatter) {
	var cur []alerts.Alarm
	for _, a := range all {
		if (line == "" || a.Line == line) && (needsAttention[a.State] || a.Active && a.State != alerts.OutOfService && a.State != alerts.SuppressedByDesign) {
			cur = append(cur, a)
		}
	}
	rank := map[alerts.Priority]int{alerts.Urgent: 0, alerts.High: 1, alerts.Medium: 2, alerts.Low: 3}
	slices.SortFunc(cur, func(a, b alerts.Alarm) int {
		if r := rank[a.Priority] - rank[b.Priority]; r != 0 {
			return r
		}
		if c := a.ActivatedAt.Compare(b.ActivatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var b strings.Builder
	if len(cur) == 0 {
		b.WriteString("current alarms: none\n")
	} else {
		fmt.Fprintf(&b, "current alarms (%d):\n", len(cur))
		_ = writeAlarmTable(&b, cur, f)
	}
	out.println(strings.TrimSuffix(b.String(), "\n"))
}

const watchHelp = `commands: ack ID [COMMENT] | shelve ID DURATION REASON | unshelve ID | help`

// parseWatchCommand reads one typed command of alarms watch. An empty
// line is verb "" with no error.
func parseWatchCommand(line string) (verb string, c alerts.Command, err error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", c, nil
	}
	rest := func(n int) string { // the text after the first n fields, spacing kept
		s := strings.TrimSpace(line)
		for range n {
			s = strings.TrimLeftFunc(s, func(r rune) bool { return !unicode.IsSpace(r) })
			s = strings.TrimLeftFunc(s, unicode.IsSpace)
		}
		return s
	}
	switch f[0] {
	case "help", "?":
		return "help", c, nil
	case alerts.VerbAck:
		if len(f) < 2 {
			return "", c, errors.New("ack ID [COMMENT]")
		}
		return alerts.VerbAck, alerts.Command{Alarm: f[1], Reason: rest(2)}, nil
	case alerts.VerbShelve:
		if len(f) < 4 {
			return "", c, errors.New("shelve ID DURATION REASON (e.g. shelve ID 30m sensor being replaced)")
		}
		d, err := time.ParseDuration(f[2])
		if err != nil || d <= 0 {
			return "", c, fmt.Errorf("shelve: duration %q: want e.g. 30m", f[2])
		}
		return alerts.VerbShelve, alerts.Command{Alarm: f[1], Duration: d.String(), Reason: rest(3)}, nil
	case alerts.VerbUnshelve:
		if len(f) != 2 {
			return "", c, errors.New("unshelve ID")
		}
		return alerts.VerbUnshelve, alerts.Command{Alarm: f[1]}, nil
	}
	return "", c, fmt.Errorf("unknown command %q; %s", f[0], watchHelp)
}

// watchCommands reads typed commands from the command's input until it
// ends (then the watch goes on) or ctx ends, and prints each answer.
func watchCommands(ctx context.Context, cmd *cobra.Command, out lockedWriter, send func(string, alerts.Command) (string, error)) {
	sc := bufio.NewScanner(cmd.InOrStdin())
	for sc.Scan() && ctx.Err() == nil {
		verb, c, err := parseWatchCommand(sc.Text())
		switch {
		case err != nil:
			out.println("? " + err.Error())
		case verb == "help":
			out.println(watchHelp)
		case verb != "":
			msg, err := send(verb, c)
			if err != nil {
				msg = "! " + err.Error()
			}
			out.println(msg)
		}
	}
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
			return alerts.WriteKPI(cmd.OutOrStdout(), k, formatterOf(cfg))
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&since, "since", "24h", "period start: a duration back from now or an RFC 3339 time")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
