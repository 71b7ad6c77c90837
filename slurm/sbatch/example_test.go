package sbatch_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

// The submit path: read the script as sbatch will, check it against the
// policy, apply the request's flags over it, build sbatch's arguments.
func Example() {
	script := `#!/bin/bash
#SBATCH --job-name="climate run"   # a name with a space
#SBATCH -N 2 --ntasks-per-node=32
#SBATCH -t 1-12:00
#SBATCH --mail-type=END
srun ./model
`
	s, err := sbatch.Parse(strings.NewReader(script))
	if err != nil {
		fmt.Println(err)
		return
	}
	policy := sbatch.DefaultPolicy()
	if err := policy.Check(s); err != nil {
		fmt.Println(err)
		return
	}

	// flags given on the command line override the script
	var flags sbatch.Options
	_ = flags.Set("partition", "cpu")
	_ = flags.Set("time", "6:00:00")
	if err := policy.CheckOptions(flags); err != nil {
		fmt.Println(err)
		return
	}
	opts := sbatch.Merge(s.Options, flags)

	fmt.Println("nodes:", opts.Nodes, "time limit:", sbatch.FormatTime(opts.Time), "=", opts.Time)
	args, err := opts.SubmitArgs()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sbatch", sbatch.QuoteArgs(args))

	// what the gateway refuses, with the line
	bad := "#!/bin/sh\n#SBATCH -N 1\n#SBATCH -M other\n#SBATCH --time=UNLIMITED\n"
	s, _ = sbatch.Parse(strings.NewReader(bad))
	err = policy.Check(s)
	fmt.Println(errors.Is(err, sbatch.ErrForbidden), errors.Is(err, sbatch.ErrUnlimitedTime))
	fmt.Println(err)

	// Output:
	// nodes: 2 time limit: 06:00:00 = 6h0m0s
	// sbatch --ignore-pbs '--job-name=climate run' --partition=cpu --nodes=2 --ntasks-per-node=32 --time=06:00:00 --mail-type=END
	// true true
	// sbatch: line 3: -M: the gateway chooses the cluster; -M/--clusters is refused
	// sbatch: line 4: --time: an INFINITE/UNLIMITED (or 0) time limit is refused: the gateway holds core-hours for a finite limit
}

func ExampleParseTime() {
	for _, s := range []string{"30", "3:00", "1:30:00", "1-0", "2-12", "2-12:30", "1-00:00:00", "0:30", "UNLIMITED"} {
		d, _ := sbatch.ParseTime(s)
		if d == sbatch.Infinite {
			fmt.Printf("%-11s unlimited\n", s)
			continue
		}
		fmt.Printf("%-11s %-9v %s\n", s, d, sbatch.FormatTime(d))
	}
	// Output:
	// 30          30m0s     00:30:00
	// 3:00        3m0s      00:03:00
	// 1:30:00     1h30m0s   01:30:00
	// 1-0         24h0m0s   1-00:00:00
	// 2-12        60h0m0s   2-12:00:00
	// 2-12:30     60h30m0s  2-12:30:00
	// 1-00:00:00  24h0m0s   1-00:00:00
	// 0:30        1m0s      00:01:00
	// UNLIMITED   unlimited
}
