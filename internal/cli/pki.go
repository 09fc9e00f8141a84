package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/collector/pki"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
)

// pkiFlags locate the collector's PKI directory: --pki-dir, else the
// config's collector.pki_dir, else the default under data_dir.
type pkiFlags struct {
	file, dir string
	// format writes times in the config's site zone (nil: UTC); set by
	// resolve.
	format *display.Formatter
}

func (f *pkiFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "config", "c", "", "config file (its collector.pki_dir and trusted_certs_dir are used)")
	cmd.Flags().StringVar(&f.dir, "pki-dir", "", "PKI directory (default: collector.pki_dir of the config, else "+filepath.Join(config.DefaultDataDir, "pki")+")")
}

// resolve returns the store and the trust directories the config names.
func (f *pkiFlags) resolve() (*pki.Store, []string, error) {
	var trust []string
	dir := f.dir
	if f.file != "" {
		cfg, err := config.Load(f.file)
		if err != nil {
			return nil, nil, withCode(ExitFailure, fmt.Errorf("%w\n(run `linewatch config check -c %s` for the full list)", err, f.file))
		}
		if dir == "" {
			dir = cfg.Collector.PKIDir
		}
		f.format = display.MustNew(cfg)
		for _, l := range cfg.Lines {
			for _, m := range l.Machines {
				trust = append(trust, m.TrustedCertsDir)
			}
		}
	}
	if dir == "" {
		dir = filepath.Join(config.DefaultDataDir, "pki")
	}
	return pki.Open(dir), trust, nil
}

func newPKICmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "Manage OPC UA certificates and the server trust list",
		Long: `The collector identifies itself to OPC UA servers with an application instance
certificate (PKI_DIR/own/cert.der, created once) and only talks to servers
whose certificate is in the trust list (PKI_DIR/trusted/ or a machine's
trusted_certs_dir). A server certificate it refused is kept in
PKI_DIR/rejected/; after checking its thumbprint with the machine's
administrator, trust it with "linewatch pki trust --thumbprint …".`,
	}
	cmd.AddCommand(newPKIListCmd(), newPKITrustCmd(), newPKIInitCmd())
	return cmd
}

func newPKIListCmd() *cobra.Command {
	var f pkiFlags
	cmd := &cobra.Command{
		Use:   "list [-c FILE | --pki-dir DIR]",
		Short: "List the own, trusted and rejected certificates with their SHA-1 thumbprints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, trust, err := f.resolve()
			if err != nil {
				return err
			}
			certs, err := store.List(trust...)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KIND\tTHUMBPRINT (SHA-1)\tSUBJECT\tVALID UNTIL\tFILE")
			for _, c := range certs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.Kind, c.Thumbprint, c.Subject, f.format.Time(c.NotAfter), c.File)
			}
			if len(certs) == 0 {
				fmt.Fprintf(w, "(none in %s)\n", store.Dir)
			}
			return w.Flush()
		},
	}
	f.register(cmd)
	return cmd
}

func newPKITrustCmd() *cobra.Command {
	var (
		f          pkiFlags
		thumbprint string
		trustDir   string
	)
	cmd := &cobra.Command{
		Use:   "trust --thumbprint SHA1 [-c FILE | --pki-dir DIR] [--trust-dir DIR]",
		Short: "Move a rejected server certificate into the trust list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if thumbprint == "" {
				return usageError{errors.New("pki trust: --thumbprint required (shown in the collector's error and by `linewatch pki list`)")}
			}
			store, _, err := f.resolve()
			if err != nil {
				return err
			}
			dst, err := store.Trust(thumbprint, trustDir)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trusted: %s\nthe collector uses it at its next connection attempt\n", dst)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&thumbprint, "thumbprint", "", "SHA-1 thumbprint of the rejected certificate (40 hex digits, ':' allowed)")
	cmd.Flags().StringVar(&trustDir, "trust-dir", "", "trust list to add it to (default PKI_DIR/trusted; use the machine's trusted_certs_dir if it has one)")
	return cmd
}

func newPKIInitCmd() *cobra.Command {
	var f pkiFlags
	cmd := &cobra.Command{
		Use:   "init [-c FILE | --pki-dir DIR]",
		Short: "Create the collector's application instance certificate (if missing) and print it for the server's trust list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := f.resolve()
			if err != nil {
				return err
			}
			der, _, err := store.OwnCertificate(pki.ApplicationURI())
			if err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "application URI: %s\ncertificate:     %s\nthumbprint:      %s\n"+
				"copy the certificate into each OPC UA server's trusted client certificates\n",
				pki.ApplicationURI(), store.OwnCertFile(), pki.Thumbprint(der))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
