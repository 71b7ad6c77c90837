#!/bin/bash
#SBATCH --job-name=x
#SBATCH --gpux=1
srun ./a.out
