#!/bin/bash
#SBATCH --export=ALL,OMP_NUM_THREADS=4
#SBATCH --chdir=work/run1
#SBATCH --open-mode=append
#SBATCH --output=none
#SBATCH -e NONE
srun ./a.out
