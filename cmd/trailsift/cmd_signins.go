package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/reports"
)

type signinsOptions struct {
	source   storeSource
	since    string
	until    string
	format   string
	timezone string
	limit    int

	filter   reports.SigninFilter
	location *time.Location
}

func (o *signinsOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.StringVar(&o.since, "since", "", "only sign-ins at or after `TIME` (2024-03-01, 2024-03-01T10:00Z); a time without a zone or Z is in --timezone")
	f.StringVar(&o.until, "until", "", "only sign-ins up to `TIME`, inclusive (a date means to the end of that day); a time without a zone or Z is in --timezone")
	f.StringVar(&o.format, "format", "table", "output `FORMAT`: table, csv, jsonl or md")
	f.StringVar(&o.timezone, "timezone", "UTC", "display times of table and md in this `ZONE`; csv and jsonl are always UTC")
	f.IntVar(&o.limit, "limit", 0, "show at most `N` principals (0: all); the rest are counted")
}

func newSigninsCommand(ios *streams) *cobra.Command {
	o := &signinsOptions{}
	cmd := &cobra.Command{
		Use:   "signins [flags]",
		Short: "Summarise sign-ins per principal: successes, failures, MFA, IPs, first and last seen",
		Long: `Summarise console and IAM Identity Center sign-ins per principal (IAM user,
root, Identity Center user, federated role session): successes and failures,
successes with and without MFA, MFA failures, distinct source IPs and user
agents, first and last seen. Principals with failures come first.

A console sign-in is one ConsoleLogin event; an Identity Center sign-in is all
the steps sharing one AuthWorkflowID. MFA failures are console logins that failed
with MFAUsed=Yes (the password was right) and failed TOTP or WebAuthn
verifications. Federated console sign-ins always log MFAUsed=No: MFA happens at
the identity provider. The database is opened read-only.` + "\n" + exitHelp("signins"),
		Example: `  trailsift signins --db case.duckdb
  trailsift signins --db case.duckdb --since 2024-03-05 --format csv > signins.csv`,
		Args: positionalArgs(cobra.NoArgs),
		PreRunE: func(*cobra.Command, []string) error {
			if err := checkChoice("--format", o.format, "table", "csv", "jsonl", "md"); err != nil {
				return err
			}
			loc, err := time.LoadLocation(o.timezone)
			if err != nil {
				return &usageError{fmt.Sprintf("--timezone %q: %v", o.timezone, err)}
			}
			o.location = loc
			if o.limit < 0 {
				return &usageError{"--limit must not be negative"}
			}
			if o.filter.Since, err = parseTimeFlag("--since", o.since, false, loc); err != nil {
				return err
			}
			o.filter.Until, err = parseTimeFlag("--until", o.until, true, loc)
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			store, err := o.source.open(ctx, ios.Err)
			if err != nil {
				return err
			}
			defer store.Close()
			o.filter.Events = store.WindowEvents(o.filter.Since, o.filter.Until)
			rows, total, err := reports.Signins(ctx, store.DB, o.filter, o.limit)
			if err != nil {
				return err
			}
			return reports.WriteSignins(ios.Out, rows, total, o.format, o.location, ios.outWidth)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
