package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/trailsift/trailsift/cases"
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
	exitUsage       = 2   // the command line, an input path or the user's SQL is wrong
	exitPartial     = 3   // some inputs failed; the rest were loaded
	exitFindings    = 4   // detections at or above --fail-on fired
	exitIntegrity   = 5   // verify or coverage found evidence tampered with or missing
	exitInterrupted = 130 // Ctrl-C; committed work is kept
)

// exitCodes is the one list behind every command's --help and the README
// table, in the order that decides which status wins when several apply.
// commands lists who can return it; nil means every command.
var exitCodes = []struct {
	code     int
	meaning  string
	commands []string
}{
	{exitUsage, "usage error: bad flag or command, missing input path, SQL that DuckDB\n       cannot read or that would write or reach the network", nil},
	{exitError, "error: I/O (a full disk too), out of memory, a corrupt database", nil},
	{exitInterrupted, "interrupted (Ctrl-C); everything committed is kept: run the same\n       command again to finish. A second Ctrl-C exits at once", longRunning},
	{exitIntegrity, "evidence integrity failed: log or digest files missing, modified or\n       forged (verify, analyze), or trail tampering events found (coverage)", []string{"analyze", "verify", "coverage"}},
	{exitPartial, "some inputs failed to load, or none held CloudTrail events; the rest\n       were loaded (see ingest_errors)", []string{"analyze", "ingest"}},
	{exitFindings, "findings at or above --fail-on fired", []string{"analyze", "detect"}},
	{exitOK, "success", nil},
}

// exitNotes add what a code also means for one command.
var exitNotes = map[string]map[int]string{
	"detect": {exitUsage: "also: a rule file of --rules that cannot be loaded or run (each is\n" +
		"       named on stderr with why); the other rules ran and their findings\n       were printed"},
	"timeline": {exitUsage: "also: a rule file of --rules that cannot be loaded or run (each is\n" +
		"       named on stderr with why)"},
	"trace": {exitUsage: "also: the argument matches no session or event in the store, or a rule\n" +
		"       file of --rules cannot be loaded or run (each is named on stderr)"},
	"rules": {exitUsage: "also: a rule file of --rules that cannot be loaded (each is named on\n" +
		"       stderr with why); the others are listed"},
}

// longRunning are the commands a Ctrl-C can stop half way.
var longRunning = []string{"analyze", "ingest", "detect", "query", "export", "verify", "coverage", "report", "timeline", "signins", "trace", "samples"}

// exitHelp is the exit status section of a command's --help: the codes it
// can return, in the order that decides which wins. An empty name lists
// every code.
func exitHelp(command string) string {
	var b strings.Builder
	b.WriteString("\nExit status: (when several apply, the first listed wins)\n")
	for _, c := range exitCodes {
		if command == "" || c.commands == nil || slices.Contains(c.commands, command) {
			fmt.Fprintf(&b, "  %-3d  %s\n", c.code, c.meaning)
			if note := exitNotes[command][c.code]; note != "" {
				fmt.Fprintf(&b, "       %s\n", note)
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// outcome is what a run came to; exitStatus makes it one exit status.
type outcome struct {
	usage, failed, interrupted, integrity, partial, findings bool
}

// exitStatus decides which status wins when several apply: a usage
// mistake, then an error, then an interruption (the run is not complete),
// then failed integrity (the evidence itself is in doubt), then inputs that
// did not load, then findings. The order is exitCodes'.
func exitStatus(o outcome) int {
	switch {
	case o.usage:
		return exitUsage
	case o.failed:
		return exitError
	case o.interrupted:
		return exitInterrupted
	case o.integrity:
		return exitIntegrity
	case o.partial:
		return exitPartial
	case o.findings:
		return exitFindings
	}
	return exitOK
}

// streams are where a command reads and writes; packages never touch
// os.Stdout themselves.
type streams struct {
	In       io.Reader
	Out, Err io.Writer
	// errIsTerm says stderr is a terminal (progress lines); outWidth is
	// stdout's width in columns when it is one, else 0 (no limit). Main
	// alone looks at the real files; tests set these.
	errIsTerm bool
	outWidth  int
	// interrupt acts as a Ctrl-C does (tests call it).
	interrupt func()
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &interrupts{cancel: cancel, stderr: stderr, exit: os.Exit}
	stopSignals := h.listen()
	defer stopSignals()
	ios := &streams{In: stdin, Out: stdout, Err: stderr, interrupt: h.interrupt}
	if f, ok := stderr.(*os.File); ok {
		ios.errIsTerm = term.IsTerminal(int(f.Fd()))
	}
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ios.outWidth, _, _ = term.GetSize(int(f.Fd()))
	}
	root := newRootCommand(ios)
	root.SetArgs(sqlCommentArgs(args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return report(stderr, err)
}

// sqlCommentArgs keeps an argument that starts with a SQL comment ("--
// note" followed by a query) from being read as a flag: a flag name has no
// white space. A leading newline changes nothing in SQL.
func sqlCommentArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) > 2 && strings.HasPrefix(a, "--") && strings.ContainsAny(a[2:3], " \t\r\n") {
			a = "\n" + a
		}
		out[i] = a
	}
	return out
}

// interrupts turns the first Ctrl-C (or SIGTERM) into a cancelled context:
// the command stops at the next safe point, keeps what is committed and
// exits 130. A second one exits at once, also 130: what DuckDB has not
// committed is rolled back when the database is next opened, and a
// re-run finishes the job.
type interrupts struct {
	cancel context.CancelFunc
	n      atomic.Int32
	stderr io.Writer
	exit   func(code int)
}

func (h *interrupts) interrupt() {
	if h.n.Add(1) == 1 {
		fmt.Fprintln(h.stderr, "trailsift: stopping; press Ctrl-C again to exit at once")
		h.cancel()
		return
	}
	fmt.Fprintln(h.stderr, "trailsift: interrupted twice: exiting now; everything committed is kept, run the same command again to finish")
	h.exit(exitInterrupted)
}

// listen routes SIGINT and SIGTERM to interrupt until the returned stop
// is called.
func (h *interrupts) listen() (stop func()) {
	sigs := make(chan os.Signal, 2)
	done := make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		for {
			select {
			case <-sigs:
				h.interrupt()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
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
	case errors.As(err, &ue), errors.As(err, new(*cases.OutputError)):
		say("trailsift: %s\nhint: run with --help for usage and examples\n", err)
		return exitUsage
	case errors.As(err, new(*query.SQLError)):
		say("trailsift: %s\n", err)
		return exitUsage
	case errors.As(err, &ie):
		say("trailsift: %s\nhint: check the path; nothing was loaded\n", err)
		return exitUsage
	case onlyInterrupted(err):
		fmt.Fprintf(stderr, "trailsift: interrupted; everything committed so far is kept\nhint: run the same command again to finish\n")
		return exitInterrupted
	}
	say("trailsift: %s\n", err)
	return exitError
}

// onlyInterrupted says err is an interruption and nothing else. An error
// joined to one (a full disk as the run closed its output) is the run's
// and says so, with exit status 1: an error goes before an interruption,
// as in exitStatus.
func onlyInterrupted(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !onlyInterrupted(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, ingest.ErrInterrupted) || errors.Is(err, context.Canceled)
}

func newRootCommand(ios *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "trailsift",
		Short: "Offline forensic analyzer for exported AWS CloudTrail archives",
		Long: `trailsift loads exported AWS CloudTrail logs (S3 .json.gz files, console Event
history downloads, lookup-events output, JSON lines; loose, in folders or inside
zip/tar/gz archives) into an embedded DuckDB database, runs detections for
sign-in and MFA abuse, writes case reports and lets you query everything in SQL.
It never uses the network and never writes beside the evidence.

Start with: trailsift analyze EVIDENCE... --out CASE_FOLDER` + "\n" + exitHelp(""),
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       buildVersion(),
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	// An unknown command is a usage error like an unknown flag; cobra's own
	// check would make it a plain error.
	root.Args = cobra.ArbitraryArgs
	root.SuggestionsMinimumDistance = 2
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for trailsift", args[0])
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return &usageError{msg}
	}
	root.AddCommand(newAnalyzeCommand(ios))
	root.AddCommand(newIngestCommand(ios))
	root.AddCommand(newDetectCommand(ios))
	root.AddCommand(newRulesCommand(ios))
	root.AddCommand(newTimelineCommand(ios))
	root.AddCommand(newSigninsCommand(ios))
	root.AddCommand(newTraceCommand(ios))
	root.AddCommand(newReportCommand(ios))
	root.AddCommand(newQueryCommand(ios))
	root.AddCommand(newExportCommand(ios))
	root.AddCommand(newVerifyCommand(ios))
	root.AddCommand(newCoverageCommand(ios))
	root.AddCommand(newSchemaCommand(ios))
	root.AddCommand(newSamplesCommand(ios))
	root.AddCommand(newVersionCommand(ios))
	addCompletions(root)
	// --version prints what `trailsift version` prints, computed only then.
	cobra.AddTemplateFunc("versionText", func() string { return currentVersion(context.Background()).String() })
	root.SetVersionTemplate(`{{versionText}}`)
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
