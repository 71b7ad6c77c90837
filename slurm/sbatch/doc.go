// Package sbatch reads Slurm batch scripts the way sbatch 22.05 reads them and
// turns the options it finds into safe sbatch arguments.
//
// Parse reads a script's header: the "#SBATCH" lines (and "#SLURM" lines,
// which sbatch 22.05 still reads) before the first command; blank lines and
// comments do not end it. Lines are split into words as sbatch's
// get_argument splits them (single and double quotes group, a backslash
// makes the next character literal, an unquoted '#' starts a comment, an
// empty word ends the line), and all the words of the header go, as one
// argument vector, through an emulation of getopt_long with sbatch's own
// option table: every long option, unambiguous abbreviations, "--opt=value"
// and "--opt value", short options glued or spaced ("-c42", "-N 2", "-Hc4"),
// so that an option may even take its value from the next line. Parse
// refuses what sbatch refuses, with sbatch's words and the line: an empty
// script, a first line without "#!", NUL bytes, DOS line breaks, unmatched
// quotes, unknown or ambiguous options, missing arguments, invalid values.
// ParseArgs reads options given as command-line arguments.
//
// The result is a Script: every directive with its line, the heterogeneous
// job separators and #PBS/#BSUB lines sbatch would act on, and Options, the
// typed model of the options a gateway request may carry, holding the value
// sbatch would use (the last one wins, except --mail-type, which adds up).
// Options fields are named after, and formatted like, what
// `scontrol show job` shows (ScontrolField, OutputPath, Effective).
//
// A Policy decides what the gateway accepts: options outside its allowlist,
// -M/--clusters, --uid and --gid, heterogeneous jobs ("#SBATCH hetjob"),
// #PBS, #BSUB and #SLURM lines and INFINITE time limits are refused, each
// with an error that carries its line. Merge applies a request's flags over
// a script's options with sbatch's precedence. Options.SubmitArgs builds the
// argument vector for the site's sbatch ("--opt=value", every value
// checked, --ignore-pbs first) and Quote quotes an argument for a POSIX
// shell.
//
// ParseTime and FormatTime read and write time limits in every form Slurm
// accepts; INFINITE and UNLIMITED read as the distinct value Infinite.
//
// The behaviour was taken from the real sbatch 22.05.8, not from its
// documentation: the tests compare Parse with what that sbatch read from
// the sample scripts in testdata/scripts and from some thousands of
// generated scripts and command lines, recorded in testdata (go test
// -run Oracle -update records them again with a local sbatch binary; no
// controller is needed).
//
// The package is a leaf: it imports nothing of this project.
package sbatch
