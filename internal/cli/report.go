package cli

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/reports"
)

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Create, sign and verify QA batch reports",
	}
	cmd.AddCommand(newReportBatchCmd(), newReportVerifyCmd(), newReportSignCmd())
	return cmd
}

// progressBar draws a bar on w (a terminal) as the report reads the batch.
func progressBar(w io.Writer, label string) func(float64) {
	last := -1
	return func(frac float64) {
		pct := int(max(0, min(1, frac)) * 100)
		if pct == last {
			return
		}
		last = pct
		n := pct * 30 / 100
		fmt.Fprintf(w, "\r%s [%s%s] %3d%%", label, strings.Repeat("#", n), strings.Repeat(" ", 30-n), pct)
		if pct == 100 {
			fmt.Fprintln(w)
		}
	}
}

// writeFileAtomic writes data to path through a temporary file and rename,
// so a reader never sees half a report.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newReportBatchCmd() *cobra.Command {
	var (
		target                      natsTarget
		batch, line, format, output string
		by                          string
	)
	// Appends to the audit trail itself until signing moves into the alarm
	// service (linewatch.cmd.reports.*): the alerts role for now.
	target.role = bus.RoleAlerts
	cmd := &cobra.Command{
		Use:   "batch -c FILE --batch ID [--line L] --format pdf|csv|json|html -o FILE",
		Short: "Build the signed QA report of a batch from InfluxDB, the ALARMS stream and the audit trail",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if target.file == "" || batch == "" || output == "" {
				return usageError{errors.New("report batch: -c FILE, --batch ID and -o FILE are required")}
			}
			if format == "" {
				format = strings.TrimPrefix(filepath.Ext(output), ".")
			}
			if !containsStr(reports.Formats, format) {
				return usageError{fmt.Errorf("report batch: --format %q: use pdf, csv, json or html", format)}
			}
			who, err := operatorIdentity(by)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			nc, js, cfg, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			key, err := reports.LoadPrivateKey(cfg.Reports.SigningKeyFile)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			src, err := reports.NewInflux(cfg.InfluxDB)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			b, err := reports.FindBatch(ctx, src, cfg.Site, line, batch)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			log, err := audit.Open(ctx, js, audit.Options{Replicas: cfg.NATS.Replicas}) // never scale the stream down
			if err != nil {
				return withCode(ExitFailure, err)
			}
			opts := reports.Options{GeneratedBy: who}
			if isTerminal(cmd.ErrOrStderr()) {
				opts.Progress = progressBar(cmd.ErrOrStderr(), "batch "+b.ID)
			}
			r, err := reports.Build(ctx, cfg, b, reports.Sources{Samples: src, Alarms: reports.JetStreamAlarms{JS: js}, Audit: log}, opts)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			data, err := reports.Render(r, format, key, time.Now())
			if err != nil {
				return withCode(ExitFailure, err)
			}
			canon, _ := r.Canonical()
			digest := fmt.Sprintf("%x", sha256Sum(canon))
			if _, err := log.Append(ctx, audit.Entry{Actor: who, Action: "report.generated",
				Object: fmt.Sprintf("report:%s/%s/%s", r.Header.Site, r.Header.Line, r.Header.Batch), New: "format=" + format + " content_sha256=" + digest}); err != nil {
				return withCode(ExitFailure, fmt.Errorf("record the report in the audit trail (no file written): %w", err))
			}
			if err := writeFileAtomic(output, data); err != nil {
				return withCode(ExitFailure, fmt.Errorf("write report: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: batch %s (%s, %s → %s), %d samples, %d excursions, %d signals, %d alarms; content SHA-256 %s; signed with key %s\n",
				output, b.ID, b.Line, b.Start.Format(time.RFC3339), b.End.Format(time.RFC3339), r.Header.SamplesRead, len(r.Excursions), len(r.Signals), len(r.Alarms), digest, reports.KeyID(key.Public().(ed25519.PublicKey)))
			return nil
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&batch, "batch", "", "batch id")
	cmd.Flags().StringVar(&line, "line", "", "line of the batch (when the id exists on several lines)")
	cmd.Flags().StringVar(&format, "format", "", "pdf, csv, json or html (default: from the -o extension)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output file")
	cmd.Flags().StringVar(&by, "user", "", "who generates the report (default $LINEWATCH_OPERATOR, else the OS user)")
	return cmd
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// trustedKey is --pubkey, else the public key next to the config's signing key.
func trustedKey(pubFile, cfgFile string) (ed25519.PublicKey, string, error) {
	if pubFile == "" && cfgFile != "" {
		cfg, err := loadConfig(cfgFile)
		if err != nil {
			return nil, "", err
		}
		if cfg.Reports.SigningKeyFile != "" {
			pubFile = reports.PublicKeyFile(cfg.Reports.SigningKeyFile)
		}
	}
	if pubFile == "" {
		return nil, "", nil
	}
	k, err := reports.LoadPublicKey(pubFile)
	if err != nil {
		return nil, "", withCode(ExitFailure, err)
	}
	return k, pubFile, nil
}

func newReportVerifyCmd() *cobra.Command {
	var pubFile, cfgFile string
	cmd := &cobra.Command{
		Use:   "verify FILE [--pubkey KEY.pub | -c CONFIG]",
		Short: "Check a report file: integrity block, digests, Ed25519 signature and electronic signatures",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return withCode(ExitFailure, err)
			}
			key, keyFile, err := trustedKey(pubFile, cfgFile)
			if err != nil {
				return err
			}
			v, verr := reports.Verify(data, key)
			out := cmd.OutOrStdout()
			if verr != nil {
				fmt.Fprintf(out, "%s: INVALID\n", args[0])
				for _, line := range strings.Split(verr.Error(), "\n") {
					fmt.Fprintf(out, "  - %s\n", line)
				}
				return withCode(ExitFailure, fmt.Errorf("%s: report verification FAILED", args[0]))
			}
			r := v.Report
			fmt.Fprintf(out, "%s: %s report of batch %s (line %s), content SHA-256 %s, signed %s with key %s\n",
				args[0], v.Format, r.Header.Batch, r.Header.Line, v.ContentSHA256, v.SignedAt.Format(time.RFC3339), v.KeyID)
			for _, s := range r.Signatures {
				fmt.Fprintf(out, "  electronic signature: %s (%s), %s, %s — bound to this report\n", s.Name, s.User, s.Meaning, s.Time.Format(time.RFC3339))
			}
			if !v.Authenticated {
				fmt.Fprintf(out, "%s: NOT AUTHENTICATED: the file is consistent with the key embedded in it, but no trusted public key was given\n", args[0])
				return withCode(ExitFailure, errors.New("pass --pubkey KEY.pub (or -c CONFIG) to check who signed it"))
			}
			fmt.Fprintf(out, "%s: VALID (trusted key %s)\n", args[0], keyFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&pubFile, "pubkey", "", "trusted public key (PEM) of the report signing key")
	cmd.Flags().StringVarP(&cfgFile, "config", "c", "", "config file: use the public key next to reports.signing_key_file")
	return cmd
}

// readPassword takes the password from a file, an environment variable or
// the terminal (never from a flag, which would land in shell history).
func readPassword(cmd *cobra.Command, file, env string) ([]byte, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, withCode(ExitFailure, fmt.Errorf("--password-file: %w", err))
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return nil, usageError{fmt.Errorf("--password-env %s: variable not set", env)}
		}
		return []byte(v), nil
	}
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return nil, usageError{errors.New("no terminal to read the password from: use --password-file or --password-env")}
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
	pw, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return nil, withCode(ExitFailure, fmt.Errorf("read password: %w", err))
	}
	return pw, nil
}

func newReportSignCmd() *cobra.Command {
	var (
		target                    natsTarget
		meaning, who, output      string
		passwordFile, passwordEnv string
	)
	// Appends to the audit trail itself until signing moves into the alarm
	// service (linewatch.cmd.reports.*): the alerts role for now.
	target.role = bus.RoleAlerts
	cmd := &cobra.Command{
		Use:   "sign FILE --meaning review|approval|responsibility -c CONFIG [--user U] [--password-file F | --password-env VAR] [-o OUT]",
		Short: "Add an electronic signature (21 CFR 11.50) bound to the report, record it in the audit trail and re-render the file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if target.file == "" || meaning == "" {
				return usageError{errors.New("report sign: -c CONFIG and --meaning are required")}
			}
			user, err := operatorIdentity(who)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return withCode(ExitFailure, err)
			}
			pw, err := readPassword(cmd, passwordFile, passwordEnv)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			nc, js, cfg, err := target.connect(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			if cfg.Console.UsersFile == "" {
				return withCode(ExitFailure, errors.New("console.users_file is not set: signers are checked against it (user:role:bcrypt-hash lines)"))
			}
			key, err := reports.LoadPrivateKey(cfg.Reports.SigningKeyFile)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			log, err := audit.Open(ctx, js, audit.Options{Replicas: cfg.NATS.Replicas}) // never scale the stream down
			if err != nil {
				return withCode(ExitFailure, err)
			}
			signed, es, err := reports.Sign(ctx, data, reports.SignRequest{User: user, Password: pw, Meaning: meaning,
				UsersFile: cfg.Console.UsersFile, Key: key, Audit: log})
			clear(pw)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			if output == "" {
				output = args[0]
			}
			if err := writeFileAtomic(output, signed); err != nil {
				return withCode(ExitFailure, fmt.Errorf("write signed report: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: signed by %s (%s) for %s at %s, bound to report digest %s\n",
				output, es.Name, es.User, es.Meaning, es.Time.Format(time.RFC3339), es.ReportDigest)
			return nil
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&meaning, "meaning", "", "review, approval or responsibility")
	cmd.Flags().StringVar(&who, "user", "", "signer's user name in console.users_file (default $LINEWATCH_OPERATOR, else the OS user)")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "read the signer's password from this file (automation)")
	cmd.Flags().StringVar(&passwordEnv, "password-env", "", "read the signer's password from this environment variable (automation)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the signed report here (default: replace FILE)")
	return cmd
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
