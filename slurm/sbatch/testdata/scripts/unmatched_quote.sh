#!/bin/bash
#SBATCH --time=10
#SBATCH --job-name="unterminated
srun ./a.out
