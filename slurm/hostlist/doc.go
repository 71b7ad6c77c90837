// Package hostlist expands and compresses Slurm hostlist expressions such as
// "node[01-04,07]" or "rack[1-2]-n[1-3]". It is a leaf: it imports nothing of
// this project.
//
// The grammar and the results follow Slurm's own hostlist code (checked
// against `scontrol show hostnames` and `scontrol show hostlistsorted` of
// Slurm 22.05 by the tests of this package):
//
//   - An expression is a list of items separated by commas, spaces or tabs;
//     empty items are skipped. Inside brackets a comma separates ranges.
//   - An item is literal text with zero or more bracket groups. A group holds
//     ranges "lo" or "lo-hi" (decimal digits); the width of "lo" sets the zero
//     padding of every number of the range ("[09-11]" gives 09, 10, 11;
//     "[9-11]" gives 9, 10, 11).
//   - Several groups form a cartesian product in Slurm's order: the last
//     group varies fastest, then the first, the second, ... up to the one
//     before last, which varies slowest ("a[1-2]b[1-2]c[1-2]" gives a1b1c1,
//     a1b1c2, a2b1c1, a2b1c2, a1b2c1, ...). For one or two groups this is the
//     usual order.
//   - Text may follow a group when another group comes after it
//     ("r[1-2]-n[1-3]"). Text after the last group ("n[1-3]-ib") is refused,
//     as Slurm refuses it.
//   - Duplicates are kept and the order of the items is preserved.
//
// Expand is stricter than Slurm on malformed input that Slurm silently
// repairs or misreads ("a[1-", "a[1-]", "a]b", whitespace or signs inside
// brackets): it returns a *SyntaxError naming the byte offset. It also caps
// the size of an expansion (DefaultMaxHosts, or the limit given to
// ExpandMax): one range may hold at most MaxRange hosts, as in Slurm, and an
// expression whose product would exceed the cap is refused before any memory
// is allocated for it.
//
// Compress is the inverse: it sorts host names as `scontrol show
// hostlistsorted` does (natural order of the prefixes, then numbers, with
// zero padding kept), removes duplicates and writes the shortest Slurm form
// with one bracket group per prefix. Its output is always accepted by Slurm
// and Expand(Compress(h)) lists the distinct hosts of h in that order.
package hostlist
