package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/integrity"
	"github.com/trailsift/trailsift/reports"
)

type coverageOptions struct {
	source storeSource
	gap    time.Duration
	format string
}

func (o *coverageOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.DurationVar(&o.gap, "delivery-gap", time.Hour, "report gaps between log file deliveries longer than this `DURATION` (e.g. 30m, 2h)")
	f.StringVar(&o.format, "format", "table", "output `FORMAT`: table or json")
}

func newCoverageCommand(ios *streams) *cobra.Command {
	o := &coverageOptions{}
	cmd := &cobra.Command{
		Use:   "coverage [flags]",
		Short: "Show coverage gaps and trail tampering per account and region",
		Long: `Show, per account and region in a case database, what the logs do not cover:

  silent hours    whole hours without any event between the first and the last
                  event (consecutive hours merged into one range)
  delivery gaps   gaps between S3 log file deliveries (from the time stamp in
                  each log file's name) longer than --delivery-gap
  tampering       StopLogging, DeleteTrail, UpdateTrail, DeleteEventDataStore,
                  StopEventDataStoreIngestion, and PutEventSelectors that narrow
                  what is logged (ReadOnly/WriteOnly, management events off or
                  excluded, advanced selectors that exclude events), with who,
                  when and from where; failed attempts are listed too

Quiet accounts have natural silent hours and delivery gaps (CloudTrail writes a
log file about every 5 minutes only while there is activity): read them next to
the tampering events. To check that the log files themselves are complete and
unchanged, run trailsift verify on the evidence.` + "\n" + exitHelp("coverage"),
		Example: `  trailsift coverage --db case.duckdb
  trailsift coverage --db case.duckdb --delivery-gap 3h
  trailsift coverage --db case.duckdb --format json | jq '.tampering'`,
		Args: positionalArgs(cobra.NoArgs),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if o.format != "table" && o.format != "json" {
				return &usageError{fmt.Sprintf("unknown --format %q: use table or json", o.format)}
			}
			if o.gap <= 0 {
				return &usageError{"--delivery-gap must be positive"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := o.source.open(cmd.Context(), ios.Err)
			if err != nil {
				return err
			}
			defer store.Close()
			rep, err := integrity.Coverage(cmd.Context(), store.DB, integrity.CoverageOptions{DeliveryGap: o.gap})
			if err != nil {
				return err
			}
			if o.format == "json" {
				enc := json.NewEncoder(reports.JSONWriter{W: ios.Out})
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = reports.WriteCoverage(ios.Out, rep)
			}
			if err != nil {
				return err
			}
			if rep.Tampered() {
				return &exitCodeError{code: exitIntegrity, err: fmt.Errorf("trail tampering: %d events", len(rep.Tampering))}
			}
			return nil
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
