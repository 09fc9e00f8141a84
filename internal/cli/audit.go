package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/internal/edkey"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the hash-chained, checkpointed audit trail",
		Long: `The audit trail records every person-caused action (alarm commands,
configuration loaded, report signatures) in the JetStream stream AUDIT, each
entry chained to the previous one by SHA-256 (21 CFR 11.10(e), Annex 11 §9).
The alerts role signs the chain head (checkpoints, stream AUDIT_CHECKPOINTS)
with its audit key, so a rewritten or truncated export is detected.`,
	}
	cmd.AddCommand(newAuditVerifyCmd(), newAuditExportCmd())
	return cmd
}

// auditKeyring is the set of trusted audit keys: the config's own audit key
// (audit.key_file + ".pub"), audit.trusted_keys, and --trusted-key files.
var errNoTrustedKey = errors.New("no trusted audit key: pass --trusted-key AUDIT.key.pub or -c CONFIG (audit.key_file, audit.trusted_keys)")

func auditKeyring(cfg *config.Config, extra []string) (edkey.Keyring, error) {
	var files []string
	if cfg != nil {
		if pub := edkey.PublicFile(cfg.Audit.KeyFile); fileExists(pub) {
			files = append(files, pub)
		}
		files = append(files, cfg.Audit.TrustedKeys...)
	}
	files = append(files, extra...)
	if len(files) == 0 {
		return nil, usageError{errNoTrustedKey}
	}
	k, err := edkey.LoadKeyring(files...)
	if err != nil {
		return nil, withCode(ExitFailure, fmt.Errorf("trusted audit keys: %w", err))
	}
	return k, nil
}

// printAnchoring prints what VerifyAnchored found, times in the site zone
// of f (nil: UTC); requireAnchor makes entries after the last signed head
// (or no signed head) a failure.
func printAnchoring(out io.Writer, f *display.Formatter, source string, entries []audit.Entry, a audit.Anchoring, requireAnchor bool) error {
	for _, p := range a.Problems {
		fmt.Fprintln(out, p.Error())
	}
	if !a.OK() {
		return withCode(ExitFailure, fmt.Errorf("%s: audit trail verification FAILED: %d problem(s), first at seq %d", source, len(a.Problems), a.Problems[0].Seq))
	}
	first, last := uint64(0), uint64(0)
	if len(entries) > 0 {
		first, last = entries[0].Seq, entries[len(entries)-1].Seq
		if first != 1 {
			fmt.Fprintf(out, "note: the entries start at seq %d; entries before it were not checked\n", first)
		}
	}
	if a.Head != nil {
		fmt.Fprintf(out, "anchored: seq %d…%d match the checkpoint signed by key %s at %s\n", first, a.Head.Seq, a.Head.KeyID, f.Time(a.Head.Time))
	}
	if a.Unanchored > 0 && len(entries) > 0 {
		fmt.Fprintf(out, "not yet anchored (%d entries): seq %d…%d come after the last signed checkpoint\n", a.Unanchored, last-uint64(a.Unanchored)+1, last)
		if requireAnchor {
			return withCode(ExitFailure, fmt.Errorf("%s: audit trail verification FAILED: %d entries are not covered by a checkpoint signed by a trusted key (entries after the signed head can be edited or removed unnoticed)", source, a.Unanchored))
		}
	}
	fmt.Fprintf(out, "%s: OK: %d entries, seq %d…%d, chain intact\n", source, len(entries), first, last)
	return nil
}

func newAuditVerifyCmd() *cobra.Command {
	var (
		target  natsTarget
		file    string
		trusted []string
	)
	cmd := &cobra.Command{
		Use:   "verify [--file F] [-c FILE | --nats URL] [--trusted-key KEY.pub]…",
		Short: "Check that no audit entry was modified, inserted, deleted, reordered or truncated",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file != "" {
				var cfg *config.Config
				if target.file != "" {
					c, err := loadConfig(target.file)
					if err != nil {
						return err
					}
					cfg = c
				}
				keys, err := auditKeyring(cfg, trusted)
				if err != nil {
					return err
				}
				f, err := os.Open(file)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				defer f.Close()
				entries, cps, err := audit.ReadExport(f)
				if err != nil {
					return withCode(ExitFailure, fmt.Errorf("%s: %w", file, err))
				}
				fm := formatterOf(cfg)
				return printAnchoring(cmd.OutOrStdout(), fm, file, entries, audit.VerifyAnchoredIn(entries, cps, keys, fm.Location()), true)
			}
			ctx := cmd.Context()
			nc, js, cfg, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			// The live stream is checked entry by entry in any case; its
			// checkpoints only with a trusted key.
			keys, err := auditKeyring(cfg, trusted)
			if errors.Is(err, errNoTrustedKey) {
				fmt.Fprintln(cmd.OutOrStdout(), "note: checkpoints NOT checked: no trusted audit key (pass -c CONFIG or --trusted-key AUDIT.key.pub)")
			} else if err != nil {
				return err
			}
			entries, err := audit.ReadStream(ctx, js, time.Time{})
			if err != nil {
				return withCode(ExitFailure, err)
			}
			var cps []audit.Checkpoint
			if keys != nil {
				if cps, err = audit.ReadCheckpoints(ctx, js); err != nil {
					return withCode(ExitFailure, err)
				}
			}
			f := formatterOf(cfg)
			return printAnchoring(cmd.OutOrStdout(), f, "stream "+audit.Stream, entries, audit.VerifyAnchoredIn(entries, cps, keys, f.Location()), false)
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&file, "file", "", "verify an exported JSON-lines file instead of the AUDIT stream")
	cmd.Flags().StringArrayVar(&trusted, "trusted-key", nil, "public key (PEM) of an audit service whose checkpoints are trusted (repeatable)")
	return cmd
}

// exportHead is the checkpoint an export carries: a fresh one from the
// audit service, else the newest stored one at or before last.
func exportHead(ctx context.Context, target natsTarget, fresh bool, last uint64, errOut io.Writer) ([]audit.Checkpoint, error) {
	nc, js, _, err := target.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	if fresh {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cp, err := audit.RequestCheckpoint(rctx, nc)
		cancel()
		if err == nil {
			return []audit.Checkpoint{cp}, nil
		}
		fmt.Fprintf(errOut, "warning: %v; using the newest stored checkpoint\n", err)
	}
	cps, err := audit.ReadCheckpoints(ctx, js)
	if err != nil {
		return nil, withCode(ExitFailure, err)
	}
	for i := len(cps) - 1; i >= 0; i-- {
		if cps[i].Seq <= last {
			return cps[i : i+1], nil
		}
	}
	fmt.Fprintln(errOut, "warning: no checkpoint covers the exported entries: `audit verify --file` will report them as not anchored")
	return nil, nil
}

func newAuditExportCmd() *cobra.Command {
	var (
		target       natsTarget
		since, until string
		format, out  string
	)
	cmd := &cobra.Command{
		Use:   "export [--since T] [--until T] [--format json|csv] [-o FILE]",
		Short: "Export audit entries with the signed chain head (JSON lines, for `audit verify --file`)",
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
			var cps []audit.Checkpoint
			if to.IsZero() && format == "json" {
				// Sign the head first, then export up to it: every entry is anchored.
				if cps, err = exportHead(ctx, target, true, ^uint64(0), cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			nc, js, _, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			entries, err := audit.ReadRange(ctx, js, from, to)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			if len(cps) > 0 {
				for len(entries) > 0 && entries[len(entries)-1].Seq > cps[0].Seq {
					entries = entries[:len(entries)-1]
				}
			} else if format == "json" && len(entries) > 0 {
				if cps, err = exportHead(ctx, target, false, entries[len(entries)-1].Seq, cmd.ErrOrStderr()); err != nil {
					return err
				}
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
			return audit.WriteExport(w, entries, cps)
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&since, "since", "", "start: a duration back from now (24h) or an RFC 3339 time (default: the beginning)")
	cmd.Flags().StringVar(&until, "until", "", "end (exclusive): duration back from now or RFC 3339 time (default: now)")
	cmd.Flags().StringVar(&format, "format", "json", "json (JSON lines with the signed head) or csv (for reading only)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of stdout (never overwritten)")
	return cmd
}
