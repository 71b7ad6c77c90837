#!/bin/bash
#SBATCH --time=10
#SBATCH -J
srun ./a.out
