#!/bin/bash
#SBATCH -N 2 --
#SBATCH -c 3
srun ./a.out
