#!/bin/bash
#SBATCH -J "" -N 3
#SBATCH name-from-next-line
#SBATCH -c 2 \ -t 99
srun ./a.out
