// Package cli implements the auditlake command line: global options, the command table, help
// text, and the one mapping from errors to exit codes. Each command lives in its own file as a
// function that parses its flags with the standard library and returns an error.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"golang.org/x/term"
)

// Exit codes. They are part of the command-line contract (documented in the README).
const (
	ExitOK      = 0 // everything asked for was done
	ExitFailure = 1 // nothing (or nothing useful) was done
	ExitUsage   = 2 // the command line was wrong
	ExitPartial = 3 // some input was bad; the good part was kept and committed
	ExitInvalid = 4 // a check ran and found something not valid (validate-logs, config rules)
)

// Env is what every command receives: its streams and the global options.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Log            *slog.Logger
	// DataDir holds all auditlake state (--data, AUDITLAKE_DATA, default ./auditlake-data).
	DataDir string
	// Terminal is true when stderr is a terminal: progress bars instead of log lines.
	Terminal bool
	// ApprovedConfig is serve's --approved-config: the default allow-list of the dashboard.
	ApprovedConfig string
	// tuneRuntime lets a command change process-wide settings of the Go runtime (GOMAXPROCS,
	// the collector): true only under RunProcess, never in tests that call Run in-process.
	tuneRuntime bool
}

// Command is one entry of the command table.
type Command struct {
	// Name is the words that select the command, e.g. "eds create".
	Name    string
	Summary string
	// Usage is the full help text: synopsis, description, flags are appended, then examples.
	Usage    string
	Examples string
	Run      func(ctx context.Context, env *Env, args []string) error
}

// UsageError is a command-line mistake; it exits with ExitUsage.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// usagef returns a *UsageError.
func usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// PartialError says some input was bad but the good part was kept; it exits with ExitPartial.
type PartialError struct{ Msg string }

func (e *PartialError) Error() string { return e.Msg }

// NotFoundError says what the command was asked about does not exist (a store, an instance);
// it exits with ExitFailure, as a missing store always has.
type NotFoundError struct{ Msg string }

func (e *NotFoundError) Error() string { return e.Msg }

// InvalidError says a check found something not valid; it exits with ExitInvalid.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// HintError carries a suggestion shown to the user under the error.
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// exitCode maps an error to the process exit code. It is the only place that does.
func exitCode(err error) int {
	var ue *UsageError
	var pe *PartialError
	var ie *InvalidError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue), errors.Is(err, flag.ErrHelp):
		return ExitUsage
	case errors.As(err, &pe):
		return ExitPartial
	case errors.As(err, &ie):
		return ExitInvalid
	default:
		return ExitFailure
	}
}

// Run runs the auditlake command line and returns the exit code. It changes no process-wide
// setting, so tests call it in-process.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}, args)
}

// RunProcess is Run for a process that runs one command and exits (main): a command may tune the
// Go runtime for its own work (an ingest runs one P more than the CPUs and a larger heap).
func RunProcess(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, tuneRuntime: true}, args)
}

func run(ctx context.Context, env *Env, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	global := flag.NewFlagSet("auditlake", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	dataDefault := os.Getenv("AUDITLAKE_DATA")
	if dataDefault == "" {
		dataDefault = "./auditlake-data"
	}
	global.StringVar(&env.DataDir, "data", dataDefault, "directory that holds all auditlake state (env AUDITLAKE_DATA)")
	verbose := global.Bool("verbose", false, "log debug messages")
	showVersion := global.Bool("version", false, "print the version")
	if err := global.Parse(args); err != nil {
		fmt.Fprintf(stderr, "auditlake: %v\n\n", err)
		printTopUsage(stderr)
		return ExitUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	env.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if f, ok := stderr.(*os.File); ok {
		env.Terminal = term.IsTerminal(int(f.Fd()))
	}

	if *showVersion {
		fmt.Fprintln(stdout, "auditlake", version())
		return ExitOK
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		if len(rest) > 1 {
			if cmd, _ := lookup(rest[1:]); cmd != nil {
				printUsage(stdout, cmd, nil)
				return ExitOK
			}
			if printGroup(stdout, rest[1:]) {
				return ExitOK
			}
		}
		printTopUsage(stdout)
		if len(rest) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if rest[0] == "version" {
		fmt.Fprintln(stdout, "auditlake", version())
		return ExitOK
	}
	cmd, cmdArgs := lookup(rest)
	if cmd == nil {
		if len(rest) == 1 && printGroup(stderr, rest) { // "auditlake rule": its subcommands
			return ExitUsage
		}
		fmt.Fprintf(stderr, "auditlake: unknown command %q\n\n", strings.Join(rest, " "))
		if !printGroup(stderr, rest[:1]) {
			printTopUsage(stderr)
		}
		return ExitUsage
	}
	// Global flags may also follow the command name: take --data wherever it is.
	cmdArgs = extractGlobal(cmdArgs, env)
	err := cmd.Run(ctx, env, cmdArgs)
	auditCommand(ctx, env, cmd, cmdArgs, err)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "auditlake %s: %v\n", cmd.Name, err)
		var he *HintError
		if errors.As(err, &he) && he.Hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", he.Hint)
		}
		var ue *UsageError
		if errors.As(err, &ue) {
			synopsis, _, _ := strings.Cut(strings.TrimSpace(cmd.Usage), "\n\n")
			fmt.Fprintf(stderr, "\n%s\n\nRun 'auditlake help %s' for its flags and examples.\n", synopsis, cmd.Name)
		}
	}
	return exitCode(err)
}

// Version is set at build time with -ldflags "-X ...cli.Version=..."; version() says it.
var Version = "dev"

// version is Version when set at build time, else what the Go toolchain recorded in the binary:
// the module version (go install …@v1.2.3), else the VCS revision it was built from (with
// "+dirty" for uncommitted changes), else "dev".
func version() string {
	if Version != "dev" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Version
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		return "devel " + rev[:min(12, len(rev))] + dirty
	}
	return Version
}

// extractGlobal removes "--data DIR" / "--data=DIR" from a command's arguments and applies it.
func extractGlobal(args []string, env *Env) []string {
	out := args[:0:0]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i:]...)
		case a == "--data" || a == "-data":
			if i+1 < len(args) {
				env.DataDir = args[i+1]
				i++
				continue
			}
		case strings.HasPrefix(a, "--data=") || strings.HasPrefix(a, "-data="):
			env.DataDir = a[strings.Index(a, "=")+1:]
			continue
		}
		out = append(out, a)
	}
	return out
}

// lookup finds the longest command name that prefixes args.
func lookup(args []string) (*Command, []string) {
	for n := min(3, len(args)); n > 0; n-- {
		name := strings.Join(args[:n], " ")
		for i := range commands {
			if commands[i].Name == name {
				return &commands[i], args[n:]
			}
		}
	}
	return nil, nil
}

// printGroup prints the commands whose name begins with the words of group ("rule": rule add,
// rule list, …), and says whether there were any.
func printGroup(w io.Writer, group []string) bool {
	prefix := strings.Join(group, " ") + " "
	var cmds []Command
	for _, c := range commands {
		if strings.HasPrefix(c.Name, prefix) {
			cmds = append(cmds, c)
		}
	}
	if len(cmds) == 0 {
		return false
	}
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	fmt.Fprintf(w, "Usage: auditlake [--data DIR] %sSUBCOMMAND [ARGS]\n\nSubcommands:\n", prefix)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-28s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun 'auditlake help %sSUBCOMMAND' for its flags and examples.\n", prefix)
	return true
}

func printTopUsage(w io.Writer) {
	fmt.Fprint(w, `auditlake: a self-hosted audit lake for AWS (CloudTrail, Config, CUR) on open Parquet.

Usage: auditlake [--data DIR] COMMAND [ARGS]

Commands:
`)
	cmds := append([]Command(nil), commands...)
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-28s %s\n", c.Name, c.Summary)
	}
	fmt.Fprint(w, `
Global flags:
  --data DIR    directory that holds all state (env AUDITLAKE_DATA, default ./auditlake-data)
  --verbose     log debug messages
  --version     print the version (also: auditlake version)

Exit codes: 0 ok, 1 failure, 2 usage error, 3 partial (bad input reported, good input kept),
4 a check found something not valid.

Run 'auditlake help COMMAND' for a command's flags and examples.
`)
}

func printUsage(w io.Writer, cmd *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n", strings.TrimSpace(cmd.Usage))
	if fs != nil {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if cmd.Examples != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(cmd.Examples, "\n"))
	}
}

// newFlags returns a flag set for cmd whose -h prints the command's usage with examples.
func newFlags(env *Env, cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		c, _ := lookup(strings.Fields(cmd))
		if c != nil {
			printUsage(env.Stdout, c, fs)
		}
	}
	return fs
}

// parseFlags parses args, allowing flags and positional arguments in any order. -h prints the
// usage once; a wrong flag is a usage error (Run prints the synopsis once).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	usage := fs.Usage
	fs.Usage = func() {} // the flag package calls it on -h and on every error
	defer func() { fs.Usage = usage }()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// formatFlag adds --format and its alias --output (one convention for every command), taking
// def or one of others; another value is a usage error naming the choices.
func formatFlag(fs *flag.FlagSet, def string, others ...string) *string {
	c := &choice{v: def, allowed: append([]string{def}, others...)}
	usage := "output format: " + strings.Join(c.allowed, ", ")
	if slices.Contains(others, "json") {
		usage += " (json: one JSON document"
		if slices.Contains(others, "jsonl") {
			usage += "; jsonl: JSON Lines, one object per row"
		}
		usage += ")"
	}
	fs.Var(c, "format", usage)
	fs.Var(c, "output", "the same as --format")
	return &c.v
}

// choice is a flag value that must be one of allowed.
type choice struct {
	v       string
	allowed []string
}

func (c *choice) String() string {
	if c == nil {
		return ""
	}
	return c.v
}

func (c *choice) Set(s string) error {
	if !slices.Contains(c.allowed, s) {
		return fmt.Errorf("want %s", strings.Join(c.allowed, ", "))
	}
	c.v = s
	return nil
}
