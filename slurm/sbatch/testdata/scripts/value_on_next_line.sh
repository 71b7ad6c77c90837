#!/bin/bash
#SBATCH --time=10 --job-name
#SBATCH next-line-name
srun ./a.out
