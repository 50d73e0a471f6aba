package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// version is set with -ldflags "-X main.version=...".
var version = ""

// Exit codes, the same for every command.
const (
	exitOK          = 0
	exitError       = 1   // something unexpected went wrong
	exitUsage       = 2   // the command line or an input path is wrong
	exitPartial     = 3   // some inputs failed; the rest were loaded
	exitFindings    = 4   // detections at or above --fail-on fired
	exitIntegrity   = 5   // verify or coverage found evidence tampered with or missing
	exitInterrupted = 130 // Ctrl-C; committed work is kept
)

const exitStatusHelp = `
Exit status:
  0    success
  1    unexpected error
  2    usage error (bad flag, missing input path, SQL that DuckDB rejects or that would write)
  3    some inputs failed to load; the rest were loaded (see ingest_errors)
  4    findings at or above --fail-on fired (detect, analyze)
  5    evidence integrity failed: log or digest files missing, modified or forged
       (verify), or trail tampering events found (coverage)
  130  interrupted; everything committed is kept, run the same command again to finish`

// streams are where a command reads and writes; packages never touch
// os.Stdout themselves.
type streams struct {
	In        io.Reader
	Out, Err  io.Writer
	errIsTerm bool
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitError carries a chosen exit code with the error already reported.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// Main runs the CLI and returns the exit code; tests call it in-process.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	io := &streams{In: stdin, Out: stdout, Err: stderr}
	if f, ok := stderr.(*os.File); ok {
		io.errIsTerm = term.IsTerminal(int(f.Fd()))
	}
	root := newRootCommand(io)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return report(stderr, err)
}

func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	// Messages quote evidence (file names, DuckDB's "could not convert
	// string ..."): they reach the terminal through SafeLines like any log text.
	say := func(format string, e error) { fmt.Fprintf(stderr, format, reports.SafeLines(e.Error())) }
	var ce *exitCodeError
	if errors.As(err, &ce) {
		if ce.err != nil {
			say("trailsift: %s\n", ce.err)
		}
		return ce.code
	}
	var ue *usageError
	var ie *ingest.InputError
	switch {
	case errors.As(err, &ue):
		say("trailsift: %s\nhint: run with --help for usage and examples\n", err)
		return exitUsage
	case errors.As(err, new(*query.SQLError)):
		say("trailsift: %s\n", err)
		return exitUsage
	case errors.As(err, &ie):
		say("trailsift: %s\nhint: check the path; nothing was loaded\n", err)
		return exitUsage
	case errors.Is(err, ingest.ErrInterrupted), errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "trailsift: interrupted; everything committed so far is kept\nhint: run the same command again to finish\n")
		return exitInterrupted
	}
	say("trailsift: %s\n", err)
	return exitError
}

func newRootCommand(io *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "trailsift",
		Short: "Offline forensic analyzer for exported AWS CloudTrail archives",
		Long: `trailsift loads exported AWS CloudTrail logs (S3 .json.gz files, console Event
history downloads, lookup-events output, JSON lines; loose, in folders or inside
zip/tar/gz archives) into an embedded DuckDB database, runs detections for
sign-in and MFA abuse, writes case reports and lets you query everything in SQL.
It never uses the network and never writes beside the evidence.

Start with: trailsift analyze EVIDENCE... --out CASE_FOLDER` + "\n" + exitStatusHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       buildVersion(),
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.AddCommand(newAnalyzeCommand(io))
	root.AddCommand(newIngestCommand(io))
	root.AddCommand(newDetectCommand(io))
	root.AddCommand(newRulesCommand(io))
	root.AddCommand(newTimelineCommand(io))
	root.AddCommand(newSigninsCommand(io))
	root.AddCommand(newReportCommand(io))
	root.AddCommand(newQueryCommand(io))
	root.AddCommand(newExportCommand(io))
	root.AddCommand(newVerifyCommand(io))
	root.AddCommand(newCoverageCommand(io))
	root.AddCommand(newSchemaCommand(io))
	root.AddCommand(newSamplesCommand(io))
	return root
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// positionalArgs wraps cobra's arity checks as usage errors.
func positionalArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err.Error()}
		}
		return nil
	}
}
