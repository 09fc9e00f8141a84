package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/collector/pki"
	"github.com/linewatch/linewatch/collector/uaclient"
	"github.com/linewatch/linewatch/config"
)

func newBrowseCmd() *cobra.Command {
	var (
		policy, mode        string
		certFile, keyFile   string
		pkiDir, trustDir    string
		user, pwEnv, pwFile string
		asYAML              bool
		selects             []string
		depth, maxNodes     int
		timeout             time.Duration
		all                 bool
	)
	cmd := &cobra.Command{
		Use:   "browse ENDPOINT",
		Short: "Browse an OPC UA server's address space and emit tag YAML",
		Long: `Connects to ENDPOINT (opc.tcp://host:port) with the same security as the
collector, walks the address space from Objects and prints every variable
with its node id, browse path, data type, access level and current value.

With --yaml, prints a "tags:" list (name, node_id, unit from EngineeringUnits)
to paste under a machine in the config; --select PATTERN (repeatable glob on
browse path, node id or name) picks the nodes, e.g.

  linewatch browse opc.tcp://10.0.0.5:4840 --policy Basic256Sha256 --mode SignAndEncrypt \
      --user engineer --password-env OPCUA_PW --yaml --select 'filling1/filler/*'

A secured server's certificate must be trusted first: the error names its
thumbprint and the "linewatch pki trust" command.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return usageError{fmt.Errorf("browse: %w (the OPC UA endpoint, opc.tcp://host:port)", err)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkBrowseTarget(args[0], policy, mode); err != nil {
				return usageError{err}
			}
			if (certFile == "") != (keyFile == "") {
				return usageError{errors.New("browse: --cert and --key go together")}
			}
			if pkiDir == "" {
				pkiDir = filepath.Join(config.DefaultDataDir, "pki")
			}
			store := pki.Open(pkiDir)
			if trustDir == "" {
				trustDir = store.TrustedDir()
			}
			ucfg := uaclient.Config{
				Endpoint: args[0], Policy: policy, Mode: mode, AppURI: pki.ApplicationURI(),
				TrustDir: trustDir, PKI: store, RequestTimeout: timeout, SessionName: "linewatch browse",
				Auth: uaclient.Auth{Type: "anonymous"},
			}
			var err error
			if certFile != "" {
				ucfg.Certificate, ucfg.PrivateKey, err = pki.LoadPair(certFile, keyFile)
			} else {
				ucfg.Certificate, ucfg.PrivateKey, err = store.OwnCertificate(ucfg.AppURI)
			}
			if err != nil {
				return withCode(ExitFailure, fmt.Errorf("client certificate: %w", err))
			}
			if user != "" {
				pw, err := config.Secret{Env: pwEnv, File: pwFile}.Resolve()
				if err != nil {
					return withCode(ExitFailure, err)
				}
				if pw == "" {
					return usageError{errors.New("browse: --user needs --password-env or --password-file (passwords are never taken on the command line)")}
				}
				ucfg.Auth = uaclient.Auth{Type: "username", Username: user, Password: pw}
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			cl, _, err := uaclient.Dial(ctx, ucfg, nil)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			defer func() {
				cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				defer ccancel()
				cl.Close(cctx)
			}()
			nodes, err := uaclient.Browse(ctx, cl, uaclient.BrowseOptions{MaxDepth: depth, MaxNodes: maxNodes, All: all})
			if err != nil {
				return withCode(ExitFailure, err)
			}
			nodes, err = uaclient.SelectNodes(nodes, selects)
			if err != nil {
				return usageError{err}
			}
			if len(nodes) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "browse: no variables found (check --select, or --depth for deep address spaces)")
			}
			out := cmd.OutOrStdout()
			if asYAML {
				b, err := uaclient.TagYAML(nodes)
				if err != nil {
					return err
				}
				_, err = out.Write(b)
				return err
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NODE ID\tBROWSE PATH\tDATA TYPE\tACCESS\tUNIT\tVALUE")
			for _, n := range nodes {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", n.NodeID, n.Path, n.DataType, n.Access, n.Unit, n.Value)
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&policy, "policy", "None", "security policy: None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss")
	f.StringVar(&mode, "mode", "None", "security mode: None, Sign, SignAndEncrypt")
	f.StringVar(&certFile, "cert", "", "client certificate (default: the collector's own from --pki-dir)")
	f.StringVar(&keyFile, "key", "", "client private key (with --cert)")
	f.StringVar(&pkiDir, "pki-dir", "", "PKI directory (default "+filepath.Join(config.DefaultDataDir, "pki")+")")
	f.StringVar(&trustDir, "trust-dir", "", "trusted server certificates (default PKI_DIR/trusted)")
	f.StringVar(&user, "user", "", "user name (default: anonymous)")
	f.StringVar(&pwEnv, "password-env", "", "environment variable holding the password")
	f.StringVar(&pwFile, "password-file", "", "file holding the password")
	f.BoolVar(&asYAML, "yaml", false, "print the selected nodes as config tags (YAML)")
	f.StringArrayVar(&selects, "select", nil, "glob on browse path, node id or name (repeatable)")
	f.IntVar(&depth, "depth", 10, "maximum browse depth below Objects")
	f.IntVar(&maxNodes, "max", 10000, "stop after this many variables")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "request timeout")
	f.BoolVar(&all, "all", false, "include the Server object (namespace 0 diagnostics)")
	return cmd
}

// checkBrowseTarget applies the collector config's rules for a machine's
// endpoint and security to the command line, so a typo fails before any
// connection and a policy never silently falls back to an unsigned mode.
// Empty policy or mode mean None, as in the config.
func checkBrowseTarget(endpoint, policy, mode string) error {
	policy, mode = cmp.Or(policy, "None"), cmp.Or(mode, "None")
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "opc.tcp" || u.Host == "" {
		return fmt.Errorf("browse: endpoint %q: expected opc.tcp://host:port[/path]", endpoint)
	}
	if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
		return fmt.Errorf("browse: endpoint %q: expected opc.tcp://host:port[/path] (port missing)", endpoint)
	}
	if !slices.Contains(config.SecurityPolicies, policy) {
		return fmt.Errorf("browse: --policy %q: expected one of %v", policy, config.SecurityPolicies)
	}
	if !slices.Contains(config.SecurityModes, mode) {
		return fmt.Errorf("browse: --mode %q: expected one of %v", mode, config.SecurityModes)
	}
	if (policy == "None") != (mode == "None") {
		return fmt.Errorf("browse: --policy %s and --mode %s do not go together: None goes with None, a policy with Sign or SignAndEncrypt", policy, mode)
	}
	return nil
}
