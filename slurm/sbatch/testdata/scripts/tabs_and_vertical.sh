#!/bin/bash
#SBATCH	-N	3-c2   --time	10
#SBATCH		--job-name=tabs
srun ./a.out
