package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/audit"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the hash-chained audit trail",
		Long: `The audit trail records every person-caused action (alarm commands,
configuration loaded, report signatures) in the JetStream stream AUDIT, each
entry chained to the previous one by SHA-256 (21 CFR 11.10(e), Annex 11 §9).`,
	}
	cmd.AddCommand(newAuditVerifyCmd(), newAuditExportCmd())
	return cmd
}

func newAuditVerifyCmd() *cobra.Command {
	var (
		target natsTarget
		file   string
	)
	cmd := &cobra.Command{
		Use:   "verify [--file F | -c FILE | --nats URL]",
		Short: "Check that no audit entry was modified, deleted or reordered",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var entries []audit.Entry
			source := file
			if file != "" {
				f, err := os.Open(file)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				defer f.Close()
				if entries, err = audit.ReadJSONL(f); err != nil {
					return withCode(ExitFailure, fmt.Errorf("%s: %w", file, err))
				}
			} else {
				ctx := cmd.Context()
				nc, js, _, err := target.connect(ctx)
				if err != nil {
					return err
				}
				defer nc.Close()
				if entries, err = audit.ReadStream(ctx, js, time.Time{}); err != nil {
					return withCode(ExitFailure, err)
				}
				source = "stream " + audit.Stream
			}
			problems := audit.Problems(entries)
			for _, p := range problems {
				fmt.Fprintln(cmd.OutOrStdout(), p.Error())
			}
			if len(problems) > 0 {
				return withCode(ExitFailure, fmt.Errorf("%s: audit trail verification FAILED: %d problem(s), first at seq %d", source, len(problems), problems[0].Seq))
			}
			first, last := uint64(0), uint64(0)
			if len(entries) > 0 {
				first, last = entries[0].Seq, entries[len(entries)-1].Seq
				if first != 1 {
					fmt.Fprintf(cmd.OutOrStdout(), "note: the entries start at seq %d; entries before it were not checked\n", first)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK: %d entries, seq %d…%d, chain intact\n", source, len(entries), first, last)
			return nil
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&file, "file", "", "verify an exported JSON-lines file instead of the AUDIT stream")
	return cmd
}

func newAuditExportCmd() *cobra.Command {
	var (
		target       natsTarget
		since, until string
		format, out  string
	)
	cmd := &cobra.Command{
		Use:   "export [--since T] [--until T] [--format json|csv] [-o FILE]",
		Short: "Export audit entries (JSON lines keep the hashes for `audit verify --file`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "json" && format != "csv" {
				return usageError{fmt.Errorf("--format %q: want json or csv", format)}
			}
			now := time.Now().UTC()
			var from, to time.Time
			var err error
			if since != "" {
				if from, err = parseSince(since, now); err != nil {
					return err
				}
			}
			if until != "" {
				if to, err = parseSince(until, now); err != nil {
					return err
				}
			}
			if !to.IsZero() && !from.Before(to) {
				return usageError{errors.New("--since must be before --until")}
			}
			ctx := cmd.Context()
			nc, js, _, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			entries, err := audit.ReadRange(ctx, js, from, to)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			w := cmd.OutOrStdout()
			if out != "" {
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
				if err != nil {
					return withCode(ExitFailure, fmt.Errorf("%w (the export never overwrites a file)", err))
				}
				defer f.Close()
				w = f
			}
			if format == "csv" {
				return audit.WriteCSV(w, entries)
			}
			return audit.WriteJSONL(w, entries)
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&since, "since", "", "start: a duration back from now (24h) or an RFC 3339 time (default: the beginning)")
	cmd.Flags().StringVar(&until, "until", "", "end (exclusive): duration back from now or RFC 3339 time (default: now)")
	cmd.Flags().StringVar(&format, "format", "json", "json (JSON lines) or csv")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of stdout (never overwritten)")
	return cmd
}
