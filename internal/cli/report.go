package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/linewatch/linewatch/internal/atomicfile"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/internal/edkey"
	"github.com/linewatch/linewatch/reports"
)

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Create, sign and verify QA batch reports",
	}
	cmd.AddCommand(newReportBatchCmd(), newReportVerifyCmd(), newReportSignCmd(), newReportStorageCmd())
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

// writeFileAtomic writes data to path whole, so a reader never sees half
// a report. A missing directory is created (reports are for QA to read:
// 0755).
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	return atomicfile.Write(path, data, 0o644)
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
				output, b.ID, b.Line, display.MustNew(cfg).Time(b.Start), display.MustNew(cfg).Time(b.End), r.Header.SamplesRead, len(r.Excursions), len(r.Signals), len(r.Alarms), digest, reports.KeyID(key.Public().(ed25519.PublicKey)))
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
func trustedKey(pubFile string, cfg *config.Config) (ed25519.PublicKey, string, error) {
	if pubFile == "" && cfg != nil && cfg.Reports.SigningKeyFile != "" {
		pubFile = reports.PublicKeyFile(cfg.Reports.SigningKeyFile)
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

// signerKeys are the trusted signing-service keys (the audit keys): from
// the config and --audit-key; none is not an error here (a report without
// signatures needs none).
func signerKeys(cfg *config.Config, files []string) (edkey.Keyring, error) {
	if cfg == nil && len(files) == 0 {
		return edkey.Keyring{}, nil
	}
	return auditKeyring(cfg, files)
}

// auditTrail reads the audit entries for the cross-check: an export file
// (verified, anchored by a trusted checkpoint) or the live stream; loc is
// the zone of the times in its problems.
func auditTrail(cmd *cobra.Command, target natsTarget, file string, keys edkey.Keyring, loc *time.Location) ([]audit.Entry, string, error) {
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		entries, cps, err := audit.ReadExport(f)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", file, err)
		}
		a := audit.VerifyAnchoredIn(entries, cps, keys, loc)
		if !a.OK() {
			return nil, "", fmt.Errorf("audit export %s does not verify: %w", file, &a.Problems[0])
		}
		if a.Unanchored > 0 {
			return nil, "", fmt.Errorf("audit export %s: %d entries are not anchored by a trusted checkpoint", file, a.Unanchored)
		}
		return entries, "audit export " + file, nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	nc, js, _, err := target.connect(ctx)
	if err != nil {
		return nil, "", err
	}
	defer nc.Close()
	entries, err := audit.ReadStream(ctx, js, time.Time{})
	if err != nil {
		return nil, "", err
	}
	cps, err := audit.ReadCheckpoints(ctx, js)
	if err != nil {
		return nil, "", err
	}
	if a := audit.VerifyAnchoredIn(entries, cps, keys, loc); !a.OK() {
		return nil, "", fmt.Errorf("audit stream %s does not verify: %w", audit.Stream, &a.Problems[0])
	}
	return entries, "audit stream " + audit.Stream, nil
}

func newReportVerifyCmd() *cobra.Command {
	var (
		target             natsTarget
		pubFile, auditFile string
		auditKeys          []string
		offline            bool
	)
	cmd := &cobra.Command{
		Use:   "verify FILE [--pubkey KEY.pub] [-c CONFIG] [--audit-key AUDIT.pub]… [--audit EXPORT | --offline]",
		Short: "Check a report file: integrity block, digests, Ed25519 signature, the PDF's standard signature, electronic signatures and their audit entries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return withCode(ExitFailure, err)
			}
			var cfg *config.Config
			if target.file != "" {
				if cfg, err = loadConfig(target.file); err != nil {
					return err
				}
			}
			key, keyFile, err := trustedKey(pubFile, cfg)
			if err != nil {
				return err
			}
			keys, err := signerKeys(cfg, auditKeys)
			if err != nil {
				return err
			}
			v, verr := reports.VerifyWith(data, reports.VerifyOptions{ReportKey: key, SignerKeys: keys})
			out := cmd.OutOrStdout()
			vf := verifyFormatter(v, cfg)
			var crossNotes []string
			if verr == nil {
				switch {
				case offline || (auditFile == "" && target.file == "" && target.url == ""):
					if len(v.Signatures) > 0 {
						crossNotes = append(crossNotes, "audit cross-check NOT done (offline): pass --audit EXPORT or -c CONFIG to check each signature against the audit trail")
					}
				default:
					entries, src, err := auditTrail(cmd, target, auditFile, keys, vf.Location())
					if err != nil {
						verr = fmt.Errorf("audit cross-check: %w", err)
					} else if errs := v.CrossCheck(entries); len(errs) > 0 {
						verr = errors.Join(errs...)
					} else {
						if len(v.Signatures) > 0 {
							crossNotes = append(crossNotes, "every electronic signature matches its entry in the "+src)
						}
						for _, e := range v.Unrecorded(entries) {
							crossNotes = append(crossNotes, fmt.Sprintf("note: the %s records a signature this file does not carry: seq %d, %s, %s, %s (an older copy, or a signature removed)",
								src, e.Seq, e.Actor, e.Reason, vf.Time(e.Time)))
						}
					}
				}
			}
			if verr != nil {
				fmt.Fprintf(out, "%s: INVALID\n", args[0])
				for _, line := range strings.Split(verr.Error(), "\n") {
					fmt.Fprintf(out, "  - %s\n", line)
				}
				return withCode(ExitFailure, fmt.Errorf("%s: report verification FAILED", args[0]))
			}
			fmt.Fprintf(out, "%s: %s report of batch %s (line %s), content SHA-256 %s, signed %s with key %s\n",
				args[0], v.Format, v.Batch, v.Line, v.ContentSHA256, vf.Time(v.SignedAt), v.KeyID)
			if v.Schema != reports.SchemaVersion {
				fmt.Fprintf(out, "  report schema %d (made by an earlier linewatch; checked with its frozen schema-%d model)\n", v.Schema, v.Schema)
				if v.Format == "pdf" {
					fmt.Fprintln(out, "  no standard PDF signature: PDFs of this schema predate it (the Ed25519 seal covers the whole file)")
				}
			}
			if v.PDF != nil {
				fmt.Fprintf(out, "  PDF signature (PAdES B-B, ETSI.CAdES.detached): valid over the whole file, certificate %q (SHA-256 %s…), bound to the integrity block\n", v.PDF.Subject, v.PDF.CertSHA256[:16])
			}
			for _, s := range v.Signatures {
				fmt.Fprintf(out, "  electronic signature: %s (%s), %s, %s — bound to this report, audit seq %d\n", s.Name, s.User, s.Meaning, vf.Time(s.Time), s.AuditSeq)
			}
			for _, n := range crossNotes {
				fmt.Fprintf(out, "  %s\n", n)
			}
			if !v.Authenticated {
				fmt.Fprintf(out, "%s: NOT AUTHENTICATED: the file is consistent with the key embedded in it, but no trusted public key was given\n", args[0])
				return withCode(ExitFailure, errors.New("pass --pubkey KEY.pub (or -c CONFIG) to check who signed it"))
			}
			fmt.Fprintf(out, "%s: VALID (trusted key %s)\n", args[0], keyFile)
			return nil
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&pubFile, "pubkey", "", "trusted public key (PEM) of the report signing key (default: the one next to reports.signing_key_file)")
	cmd.Flags().StringArrayVar(&auditKeys, "audit-key", nil, "trusted public key (PEM) of a signing/audit service (repeatable; default: audit.key_file.pub and audit.trusted_keys of -c)")
	cmd.Flags().StringVar(&auditFile, "audit", "", "cross-check signatures against this audit export (`linewatch audit export`) instead of the live AUDIT stream")
	cmd.Flags().BoolVar(&offline, "offline", false, "check the seals only; do not read the audit trail")
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
		auditKeys                 []string
	)
	// Signing happens in the alarm service (linewatch.cmd.reports.sign):
	// the signer needs only the operator role's request rights.
	target.role = bus.RoleOperator
	cmd := &cobra.Command{
		Use:   "sign FILE --meaning review|approval|responsibility -c CONFIG [--user U] [--password-file F | --password-env VAR] [-o OUT]",
		Short: "Have the signing service add your electronic signature (21 CFR 11.50) to the report; your password is checked at each signing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (target.file == "" && target.url == "") || meaning == "" {
				return usageError{errors.New("report sign: -c CONFIG (or --nats URL) and --meaning are required")}
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
			nc, _, cfg, err := target.connect(ctx)
			if err != nil {
				clear(pw)
				return err
			}
			defer nc.Close()
			keys, err := auditKeyring(cfg, auditKeys)
			if err != nil {
				clear(pw)
				return err
			}
			kctx, kcancel := context.WithTimeout(ctx, 10*time.Second)
			encKey, err := reports.RequestSignKey(kctx, nc, keys)
			kcancel()
			if err != nil {
				clear(pw)
				return withCode(ExitFailure, err)
			}
			msg, err := reports.NewSignMsg(data, user, string(pw), meaning, encKey)
			clear(pw)
			if err != nil {
				return withCode(ExitFailure, fmt.Errorf("%s: %w", args[0], err))
			}
			body, _ := json.Marshal(msg)
			if int64(len(body)) > nc.MaxPayload() {
				return withCode(ExitFailure, fmt.Errorf("the signing request is %d bytes, more than the NATS server's max_payload %d: raise it (nats.embedded) for reports this large", len(body), nc.MaxPayload()))
			}
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			m, err := nc.RequestWithContext(rctx, reports.SignSubject, body)
			if err != nil {
				return withCode(ExitFailure, fmt.Errorf("signing service (%s, served by the alerts role): %w", reports.SignSubject, err))
			}
			var rep reports.SignReply
			if err := json.Unmarshal(m.Data, &rep); err != nil {
				return withCode(ExitFailure, fmt.Errorf("signing service reply: %w", err))
			}
			if rep.Code != reports.SignOK {
				return withCode(ExitFailure, fmt.Errorf("%s: %s", rep.Code, rep.Message))
			}
			signed, err := reports.ApplySignature(data, rep)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			if output == "" {
				output = args[0]
			}
			if err := writeFileAtomic(output, signed); err != nil {
				return withCode(ExitFailure, fmt.Errorf("write signed report: %w", err))
			}
			es := rep.Signature
			fmt.Fprintf(cmd.OutOrStdout(), "%s: signed by %s (%s) for %s at %s, bound to report digest %s, audit seq %d\n",
				output, es.Name, es.User, es.Meaning, formatterOf(cfg).Time(es.Time), es.ReportDigest, es.AuditSeq)
			return nil
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&meaning, "meaning", "", "review, approval or responsibility")
	cmd.Flags().StringVar(&who, "user", "", "signer's user name in console.users_file (default $LINEWATCH_OPERATOR, else the OS user)")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "read the signer's password from this file (automation)")
	cmd.Flags().StringVar(&passwordEnv, "password-env", "", "read the signer's password from this environment variable (automation)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the signed report here (default: replace FILE)")
	cmd.Flags().StringArrayVar(&auditKeys, "audit-key", nil, "trusted public key (PEM) of the signing service (default: audit.key_file.pub and audit.trusted_keys of -c)")
	return cmd
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// verifyFormatter writes the times of `report verify`: in the zone the
// report was written in (its header), else the config's site zone, else
// UTC.
func verifyFormatter(v *reports.Verification, cfg *config.Config) *display.Formatter {
	if v != nil && v.Report != nil {
		return display.MustNew(&config.Config{TimeZone: v.Report.Header.TimeZone})
	}
	return formatterOf(cfg)
}
