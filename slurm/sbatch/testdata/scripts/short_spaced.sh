#!/bin/sh
#SBATCH -N 2
#SBATCH -t 30
#SBATCH -J spaced
#SBATCH -o out.log -e err.log
srun hostname
