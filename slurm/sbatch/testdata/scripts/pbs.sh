#!/bin/bash
#SBATCH --job-name=sb
#PBS -N pbsname
#PBS -l walltime=1:00:00,nodes=3
srun ./a.out
