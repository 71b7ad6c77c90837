#!/bin/bash
#SBATCH -N1 -n3
#SBATCH packjob
#SBATCH -N1 -n1
srun ./a.out
