#!/bin/bash
#SBATCH --job-name=x
#SBATCH --gpu=1
srun ./a.out
