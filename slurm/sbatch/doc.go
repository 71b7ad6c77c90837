// Package sbatch reads Slurm batch scripts the way sbatch 22.05 reads them and
// turns the options it finds into safe sbatch arguments.
//
// Parse reads a script's header: the "#SBATCH" lines before the first command
// (blank lines and comments do not end it), tokenized like sbatch (quotes,
// backslash escapes, comments after an unquoted '#'), then handed to an
// emulation of getopt_long with sbatch's own option table (every long option,
// unambiguous abbreviations, glued or spaced short options, one argument
// vector for the whole header so that an option may take its value from the
// next line). It refuses what sbatch refuses: an empty script, a first line
// without "#!", NUL bytes, DOS line breaks, unmatched quotes, unknown options,
// missing arguments and invalid values. ParseArgs does the same for options
// given as command-line arguments.
//
// The result is a Script: every directive with its line number, and Options,
// the typed model of the options a request may carry, with the value sbatch
// would use (the last one wins, except --mail-type, which accumulates).
// Fields of Options are named after, and formatted like, what
// `scontrol show job` shows (see ScontrolField).
//
// A Policy decides what the gateway accepts: options outside its allowlist,
// -M/--clusters, --uid/--gid, heterogeneous jobs ("#SBATCH hetjob"), #PBS,
// #BSUB and #SLURM lines and INFINITE time limits are refused with errors that
// carry the line number. Merge applies command-line flags over a script's
// options with sbatch's precedence. Options.SubmitArgs builds the argument
// vector for the site's sbatch ("--opt=value", every value validated) and
// Quote quotes an argument for a POSIX shell.
//
// Time limits are parsed by ParseTime and formatted by FormatTime in every
// form Slurm accepts; INFINITE and UNLIMITED give the distinct value Infinite.
//
// The package is a leaf: it imports nothing of this project.
package sbatch
