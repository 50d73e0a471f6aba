package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/samples"
)

type generateOptions struct {
	out      string
	events   int
	accounts int
	regions  int
	days     int
	start    string
	seed     int64
	chains   bool
	json     bool
	quiet    bool
}

func (o *generateOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.out, "out", "", "`FOLDER` to write the corpus to (must not exist or be empty)")
	f.IntVar(&o.events, "events", 100_000, "write `N` events")
	f.IntVar(&o.accounts, "accounts", 2, "`N` AWS accounts")
	f.IntVar(&o.regions, "regions", 3, "`N` regions per account")
	f.IntVar(&o.days, "days", 7, "`N` days of activity")
	f.StringVar(&o.start, "start", "2024-03-01", "first day (UTC), `YYYY-MM-DD`")
	f.Int64Var(&o.seed, "seed", 1, "random `SEED`: the same seed and options give the same files")
	f.BoolVar(&o.chains, "chains", false, "also plant credential chains (role hops into another account, a key used again from elsewhere); DIR/sessions-truth.jsonl lists their sessions")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON on stdout")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no summary on stderr")
}

func newSamplesCommand(ios *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "samples",
		Short: "Generate realistic CloudTrail corpora for tests and benchmarks",
	}
	o := &generateOptions{}
	gen := &cobra.Command{
		Use:   "generate --out DIR [flags]",
		Short: "Write a realistic S3-layout CloudTrail corpus with planted incidents",
		Long: `Write a realistic CloudTrail corpus in the S3 delivery layout
(DIR/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz): mostly read-only
API calls by roles and services, rare sign-ins and MFA events, and planted
incidents for every detection rule. DIR/ground-truth.jsonl lists the findings
the planted incidents must produce; with --chains, DIR/sessions-truth.jsonl lists
the sessions of the planted credential chains. Output is deterministic for a seed.`,
		Example: `  trailsift samples generate --out big/ --events 1000000 --accounts 3 --regions 4 --days 30
  trailsift ingest --db big.duckdb big/AWSLogs`,
		Args: positionalArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.out == "" {
				return &usageError{"--out DIR is required"}
			}
			start, err := time.Parse("2006-01-02", o.start)
			if err != nil {
				return &usageError{fmt.Sprintf("--start %q: want YYYY-MM-DD", o.start)}
			}
			t0 := time.Now()
			sum, err := samples.Generate(samples.Options{Out: o.out, Events: o.events, Accounts: o.accounts,
				Regions: o.regions, Days: o.days, Start: start, Seed: o.seed, Chains: o.chains})
			if err != nil {
				return err
			}
			out := struct {
				Corpus   string  `json:"corpus"`
				Files    int     `json:"files"`
				Events   int     `json:"events"`
				Bytes    int64   `json:"bytes"`
				Planted  int     `json:"planted"`
				Sessions int     `json:"chain_sessions"`
				Seconds  float64 `json:"seconds"`
			}{o.out, sum.Files, sum.Events, sum.Bytes, len(sum.Planted), len(sum.Sessions), time.Since(t0).Seconds()}
			if o.json {
				if err := writeJSONSummary(ios.Out, out); err != nil {
					return err
				}
			}
			if !o.quiet {
				fmt.Fprintf(ios.Err, "wrote %d events in %d files (%s gzipped) with %d planted incidents to %s in %.1fs\n",
					out.Events, out.Files, humanBytes(out.Bytes), out.Planted, out.Corpus, out.Seconds)
			}
			return nil
		},
	}
	o.AddFlags(gen.Flags())
	cmd.AddCommand(gen)
	return cmd
}
