#!/bin/bash
#SLURM --time=10
#SBATCH --nodes=2
srun ./a.out
