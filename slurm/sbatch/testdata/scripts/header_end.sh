#!/bin/bash
#SBATCH --time=10
#SBATCH -J before
module load foo
#SBATCH -J after
#SBATCH --time=99
srun ./a.out
