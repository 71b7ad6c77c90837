#!/bin/bash
#SBATCH -M other-cluster
#SBATCH --time=10
srun ./a.out
