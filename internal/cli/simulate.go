package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/simulator"
)

const simulateLong = `Run the OPC UA plant simulator: a real OPC UA server (gopcua) on loopback whose
values follow process physics, for demos, tests and load tests.

The built-in plant (namespace urn:linewatch:simulator, ns=2, string node ids
ns=2;s=<line>.<machine>.<tag>):
  filling1   aseptic vial filling: filler (fill_weight g, fill_speed vials/min,
             stopper_rejects, state running|stopped|cip|fault, batch_id,
             product_code) and checkweigher (good_count, reject_count; reset at
             each batch start, 8 h batches, ~0.5 % rejects)
  coldroom1  2–8 °C cold room: temp_probe1/2 °C, humidity %RH, door_open,
             compressor_running (thermostat cycling)
  tableting1 tablet press: tablet_weight mg, hardness N, thickness mm,
             compression_force kN, turret_speed rpm, reject_count, batch_id, state
  lyo1       freeze dryer: shelf_temp °C, chamber_pressure µbar,
             condenser_temp °C, phase freezing|primary_drying|secondary_drying, batch_id
A custom plant file (-c) can change parameters, add lines and generic tags and
schedule faults; see docs/simulator.md.

Fault scenarios (plant file "faults:" or the control endpoint):
  drift (rate per h), step (offset), variance (factor on the noise sd),
  reject_creep (reject fraction added per h), door_open, compressor_failure,
  stuck (value), status (e.g. BadSensorFailure), remove_node, restart (downtime),
  drop_connections.

Control endpoint (HTTP, loopback, --control-listen):
  GET /faults            fault log with simulated start/end times
  POST /faults           inject: {"kind":"drift","target":"filling1.filler.fill_weight","rate":0.02}
                         ("at": RFC 3339 or "after": "10m" to schedule)
  DELETE /faults/{id}    clear a fault
  POST /restart?downtime=5s, POST /drop, GET /time, POST /advance?by=1h
  With $LINEWATCH_SIM_CONTROL_TOKEN set (or --control-token-env), requests need
  "Authorization: Bearer <token>".

Security: endpoints None, Basic256Sha256 Sign and SignAndEncrypt. The server
certificate is created once in --pki-dir and reused; client certificates put in
<pki-dir>/trusted/ form the trust list (empty = any client certificate is
accepted, otherwise others get BadCertificateUntrusted). Users are checked by the
simulator; wrong credentials get BadUserAccessDenied. Passwords are never
given on the command line: use --user name:ENV_VAR or --users-file (mode 600,
lines name:password). Anonymous access is on by default for the CLI
(--allow-anonymous=false to require a user).

Time: --speed X runs X simulated seconds per real second (3600 = 1 h per s);
source timestamps are simulated time.`

func newSimulateCmd() *cobra.Command {
	var (
		plantFile, listen, controlListen, controlTokenEnv, pkiDir, usersFile, start string
		users                                                                       []string
		seed                                                                        int64
		speed                                                                       float64
		allowAnon, verbose                                                          bool
		extraTags, maxNodesPerRead                                                  int
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run the OPC UA plant simulator (filling line, cold room, tablet press, freeze dryer)",
		Long:  simulateLong,
		Example: `  linewatch simulate
  linewatch simulate --speed 360 --seed 7 --extra-tags 5000
  OPERATOR_PW=... linewatch simulate -c plant.yaml --user operator:OPERATOR_PW --allow-anonymous=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))

			opts := simulator.Options{
				Listen: listen, ControlListen: controlListen, Seed: seed, Speed: speed, PKIDir: pkiDir,
				AllowAnonymous: allowAnon, ExtraTags: extraTags, MaxNodesPerRead: maxNodesPerRead, Logger: log,
				Start: time.Now().UTC(),
			}
			if speed <= 0 {
				return usageError{fmt.Errorf("--speed %v must be > 0 (simulated seconds per real second)", speed)}
			}
			if start != "" {
				t, err := time.Parse(time.RFC3339, start)
				if err != nil {
					return usageError{fmt.Errorf("--start %q: want an RFC 3339 time like 2026-01-05T06:00:00Z", start)}
				}
				opts.Start = t
			}
			if plantFile != "" {
				p, err := simulator.LoadPlant(plantFile)
				if err != nil {
					return err
				}
				opts.Plant = p
			}
			creds, err := collectUsers(users, usersFile)
			if err != nil {
				return usageError{err}
			}
			opts.Users = creds
			if controlTokenEnv != "" {
				opts.ControlToken = os.Getenv(controlTokenEnv)
			}

			sim, err := simulator.Start(ctx, opts)
			if err != nil {
				return err
			}
			defer sim.Close()
			printSimulatorBanner(cmd.OutOrStdout(), sim, opts)
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&plantFile, "plant", "c", "", "plant file (YAML, see docs/simulator.md); default: the built-in plant")
	f.StringVar(&listen, "listen", "127.0.0.1:4840", "OPC UA listen address host:port")
	f.StringVar(&controlListen, "control-listen", "127.0.0.1:4841", `HTTP control endpoint address ("" disables it)`)
	f.StringVar(&controlTokenEnv, "control-token-env", "LINEWATCH_SIM_CONTROL_TOKEN", "environment variable holding the control endpoint bearer token (unset = no token, loopback only)")
	f.Int64Var(&seed, "seed", 1, "physics seed: the same seed and plant give the same values")
	f.Float64Var(&speed, "speed", 1, "simulated seconds per real second (3600 = one simulated hour per second)")
	f.StringVar(&start, "start", "", "simulated start time, RFC 3339 (default: now)")
	f.StringVar(&pkiDir, "pki-dir", "./linewatch-data/simulator-pki", "directory for the server certificate and key (created once, reused)")
	f.StringArrayVar(&users, "user", nil, "user as name:ENV_VAR, password read from that environment variable (repeatable)")
	f.StringVar(&usersFile, "users-file", "", "file of name:password lines (mode 600)")
	f.BoolVar(&allowAnon, "allow-anonymous", true, "accept anonymous sessions (on by default for the CLI)")
	f.IntVar(&extraTags, "extra-tags", 0, fmt.Sprintf("add N synthetic tags ns=2;s=synthetic.load.tagNNNNN for load tests (max %d)", simulator.MaxExtraTags))
	f.IntVar(&maxNodesPerRead, "max-nodes-per-read", 0, "advertised and enforced MaxNodesPerRead (0 = gopcua default 32)")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}

func collectUsers(specs []string, file string) (map[string]string, error) {
	users := map[string]string{}
	if file != "" {
		u, err := simulator.LoadUsersFile(file)
		if err != nil {
			return nil, err
		}
		users = u
	}
	var errs []error
	for _, spec := range specs {
		name, pass, err := simulator.UserFromEnv(spec, os.Getenv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		users[name] = pass
	}
	return users, errors.Join(errs...)
}

func printSimulatorBanner(w io.Writer, sim *simulator.Simulator, opts simulator.Options) {
	fmt.Fprintf(w, "OPC UA endpoint:  %s  (None, Basic256Sha256 Sign, Basic256Sha256 SignAndEncrypt)\n", sim.Endpoint())
	if u := sim.ControlURL(); u != "" {
		auth := "no token (loopback only)"
		if opts.ControlToken != "" {
			auth = "bearer token required"
		}
		fmt.Fprintf(w, "control endpoint: %s  (%s)\n", u, auth)
	} else {
		fmt.Fprintln(w, "control endpoint: disabled")
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range opts.Users {
			if !yield(n) {
				return
			}
		}
	})
	fmt.Fprintf(w, "logins:           anonymous=%v users=[%s]\n", opts.AllowAnonymous, strings.Join(names, ", "))
	fmt.Fprintf(w, "simulated time:   %s, speed %gx, seed %d\n\n", sim.Now().Format(time.RFC3339), opts.Speed, opts.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tMODEL\tMACHINE\tTAGS (ns=2;s=<line>.<machine>.<tag>)")
	for _, m := range sim.Plant().Machines() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Line, m.Model, m.Machine, strings.Join(m.Tags, " "))
	}
	if n := max(opts.ExtraTags, sim.Plant().ExtraTags); n > 0 {
		fmt.Fprintf(tw, "synthetic\t-\tload\t%d tags tag00001..tag%05d\n", n, n)
	}
	_ = tw.Flush()
}
